"""A real CLI process killed at the worst moments, then ``scenario-tui resume``: every result saved once, every job
submitted once. The API is the sandbox server on loopback, in live mode (the runs can be taken up again)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scenario_tui import cli
from scenario_tui.backend import STORE_NAME
from scenario_tui.config import data_dir
from scenario_tui.core.store import Run, RunState, Store
from scenario_tui.sandbox import Sandbox, SandboxConfig
from scenario_tui.sandbox.server import make_server
from tests.conftest import make_image, make_mask

KEY, SECRET = "proc-key", "proc-secret-9876"


class Server:
    def __init__(self, **knobs: float) -> None:
        self.sandbox = Sandbox(SandboxConfig(credentials=(KEY, SECRET), **knobs))  # type: ignore[arg-type]
        self.httpd = make_server(self.sandbox)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def asset_lookups(self) -> int:
        return sum(1 for r in self.sandbox.request_log if r.method == "GET" and r.path.startswith("/v1/assets/"))


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_API_KEY", KEY)
    monkeypatch.setenv("SCENARIO_API_SECRET", SECRET)
    monkeypatch.setenv("SCENARIO_TUI_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("SCENARIO_TUI_POLL_MAX_INTERVAL", "0.1")


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**knobs: float) -> Server:
        started.append(Server(**knobs))
        return started[-1]

    yield start
    for server in started:
        server.close()


def eventually(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait for another process to get somewhere (checked every 20 ms, bounded)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.02)


def generate(tmp_path: Path, server: Server) -> subprocess.Popen[bytes]:
    image = make_image(tmp_path / "in.png", (64, 48))
    mask = make_mask(tmp_path / "mask.png", (64, 48))
    ref = make_image(tmp_path / "ref.png", (32, 32), (200, 30, 30))
    args = [sys.executable, "-m", "scenario_tui", "generate", "--base-url", server.url, "--model",
            "model_sandbox-flux-fill", "--image", str(image), "--mask", str(mask), "--ref", str(ref), "--prompt",
            "a lighthouse", "--num-samples", "2", "--seed", "5", "--output-dir", str(tmp_path / "out")]
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def runs() -> list[Run]:
    path = data_dir() / STORE_NAME
    return Store(path).runs() if path.exists() else []


def resume(capsys: pytest.CaptureFixture[str], server: Server) -> tuple[int, dict[str, object]]:
    code = cli.main(["resume", "--base-url", server.url, "--json"])
    return code, json.loads(capsys.readouterr().out)


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.usefixtures("live")
def test_killed_while_polling_then_resumed_saves_each_result_once(
        tmp_path: Path, servers: Callable[..., Server], capsys: pytest.CaptureFixture[str]) -> None:
    server = servers(job_seconds=2)
    process = generate(tmp_path, server)
    eventually(lambda: any(r.state is RunState.RUNNING for r in runs()), "the job submitted and being followed")
    kill(process)
    [run] = runs()
    assert run.job_id is not None and run.files == []

    code, result = resume(capsys, server)
    assert code == cli.OK
    [summary] = result["runs"]  # type: ignore[misc]
    assert summary["jobId"] == run.job_id and summary["state"] == "success" and len(summary["files"]) == 2
    saved = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in saved] == [f"{run.job_id}_01_seed-5.png", f"{run.job_id}_02_seed-6.png"]
    lookups = server.asset_lookups()

    code, result = resume(capsys, server)  # a second resume has nothing left to do
    assert code == cli.OK and result == {"runs": []}
    assert server.asset_lookups() == lookups and sorted((tmp_path / "out").glob("*.png")) == saved
    assert len(server.sandbox.generate_posts()) == 1
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no partial files


@pytest.mark.usefixtures("live")
def test_killed_between_the_post_and_its_answer_then_resumed_finds_the_job(
        tmp_path: Path, servers: Callable[..., Server], capsys: pytest.CaptureFixture[str]) -> None:
    server = servers(job_seconds=0.5, generate_answer_delay=60)
    process = generate(tmp_path, server)
    eventually(lambda: len(server.sandbox.generate_posts()) == 1, "the generate POST received")
    kill(process)  # the job exists; its answer never reached the client
    [run] = runs()
    assert run.state is RunState.INTENT and run.job_id is None

    code, result = resume(capsys, server)
    assert code == cli.OK, result
    [summary] = result["runs"]  # type: ignore[misc]
    [job_id] = list(server.sandbox._jobs)
    assert summary["jobId"] == job_id and summary["state"] == "success" and len(summary["files"]) == 2
    assert len(server.sandbox.generate_posts()) == 1  # found again, never sent again
    states = [state for _, state, _, _ in Store(data_dir() / STORE_NAME).history(run.id)]
    assert states[:3] == ["intent", "unsure", "running"] and states[-1] == "success"
    assert resume(capsys, server) == (cli.OK, {"runs": []})


@pytest.mark.usefixtures("live")
def test_a_rerun_of_the_same_files_sends_no_image_bytes(tmp_path: Path, servers: Callable[..., Server]) -> None:
    server = servers(job_seconds=0)
    for _ in range(2):
        process = generate(tmp_path, server)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    uploads = [r for r in server.sandbox.request_log if r.method == "POST" and r.path == "/v1/assets"]
    assert len(uploads) == 2  # the input and the reference, once
    first, second = (r.body_bytes for r in server.sandbox.generate_posts())
    assert first == second and second < 4000  # the mask and the parameters: no image
    assert os.stat(data_dir() / STORE_NAME).st_mode & 0o777 == 0o600


def test_a_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "scenario_tui", "models", "--json"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -c 0`: the reader is gone before anything is written
    assert process.wait(timeout=60) == cli.OK
    assert b"Traceback" not in process.stderr.read()


@pytest.mark.usefixtures("live")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_act_like_ctrl_c(tmp_path: Path, servers: Callable[..., Server], signum: int) -> None:
    server = servers(job_seconds=60)
    process = generate(tmp_path, server)
    eventually(lambda: any(r.state is RunState.RUNNING for r in runs()), "the job submitted and being followed")
    process.send_signal(signum)
    assert process.wait(timeout=30) == cli.INTERRUPTED
    [run] = runs()
    assert process.stderr is not None
    assert f"scenario-tui resume {run.job_id}" in process.stderr.read().decode()
