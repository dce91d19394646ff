"""The headless commands end to end: sandbox in-process, and live mode against the local sandbox server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scenario_tui import __version__, cli
from scenario_tui.core import provenance
from scenario_tui.sandbox import Sandbox, SandboxConfig
from scenario_tui.sandbox.server import make_server
from tests.conftest import make_image


@pytest.fixture(autouse=True)
def fast_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TUI_SANDBOX_JOB_SECONDS", "0")
    monkeypatch.setenv("SCENARIO_TUI_POLL_INTERVAL", "0.01")
    monkeypatch.setenv("SCENARIO_TUI_POLL_MAX_INTERVAL", "0.02")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def gen_args(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["generate", "--image", str(files["image"]), "--mask", str(files["mask"]), "--ref", str(files["ref1"]),
            "--ref", str(files["ref2"]), "--prompt", "a stained glass window", "--output-dir", str(out), *extra]


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    for flag, text in (("--version", __version__), ("--help", "Exit codes")):
        with pytest.raises(SystemExit) as exc:
            cli.main([flag])
        assert exc.value.code == 0 and text in capsys.readouterr().out


def test_generate_help_lists_a_flag_for_every_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_tui.core.params import PARAM_INFO

    with pytest.raises(SystemExit):
        cli.main(["generate", "--help"])
    text = capsys.readouterr().out
    special = {"image": "--image", "mask": "--mask", "ipAdapterImages": "--ref", "ipAdapterImageIds": "--ref",
               "modelId": "--model", "concepts": "--concept", "dryRun": "--dry-run"}
    missing = [n for n in PARAM_INFO if special.get(n, f"--{cli.kebab(n)}") not in text]
    assert not missing


def test_generate_in_the_sandbox_writes_real_pngs_and_metadata(
        files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, *gen_args(files, out, "--num-samples", "2", "--seed", "42", "--json"))
    assert code == cli.OK, stderr
    assert "SANDBOX" in stderr and "cost:" in stderr
    result = json.loads(stdout)
    assert result["status"] == "success" and result["seed"] == "42" and len(result["files"]) == 2
    for index, name in enumerate(result["files"], start=1):
        path = Path(name)
        assert path.parent == out and path.name == f"{result['jobId']}_{index:02d}_seed-{41 + index}.png"  # own seeds
        with Image.open(path) as im:
            # the sandbox picks a Flux model (sides 64-2048): the input's 4:3, scaled up to fit
            assert im.format == "PNG" and im.size == (88, 64)
    meta = json.loads((out / f"{result['jobId']}.json").read_text())
    assert meta["parameters"]["prompt"] == "a stained glass window"
    assert meta["parameters"]["image"].startswith("asset_")  # uploaded once, then sent by id
    assert [r["file"] for r in meta["results"]] == [Path(f).name for f in result["files"]]
    image = next(i for i in meta["inputs"] if i["field"] == "image")
    assert image["path"] == str(files["image"].resolve()) and len(image["sha256"]) == 64
    parameters, record = provenance.read(Path(result["files"][0]))
    assert parameters is not None and parameters.startswith("a stained glass window\nSteps: 30, ")
    assert record is not None and record["jobId"] == result["jobId"] and record["seed"] == "42"


def test_random_seed_is_chosen_and_reported(files: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = run(capsys, *gen_args(files, tmp_path, "--num-samples", "1", "--json"))
    assert code == cli.OK
    seed = json.loads(stdout)["seed"]
    assert seed.isdigit() and f"seed: {seed} (random" in stderr


def test_dry_run_only_quotes(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, *gen_args(files, out, "--dry-run", "--json"))
    result = json.loads(stdout)
    assert code == cli.OK and result["dryRun"] is True and result["cost"] > 0
    assert not out.exists()


@pytest.mark.parametrize("limit", ["nan", "inf", "-1", "lots"])
def test_max_cost_must_be_a_finite_number(files: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], limit: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(gen_args(files, tmp_path / "out", "--max-cost", limit))
    assert exc.value.code == cli.BAD_INPUT and "--max-cost" in capsys.readouterr().err


def test_max_cost_refuses_to_submit(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run(capsys, *gen_args(files, tmp_path / "out", "--max-cost", "0.5"))
    assert code == cli.BAD_INPUT and "above --max-cost" in stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--strength", "2"], "error: Strength: must be between 0.01 and 1"),
    (["--width", "513", "--height", "512"], "Width: must be a multiple of 8"),
    (["--scheduler", "Nope"], "Scheduler: must be one of"),
    (["--ip-adapter-scales", "0.5"], "1 scale for 2 reference images"),
    (["--concept", "lora"], "--concept 'lora': expected MODEL_ID:SCALE"),
    (["--model", "model_missing"], "model model_missing: no model with this id"),
])
def test_bad_parameters_exit_2_naming_the_field(files: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str], extra: list[str],
                                                message: str) -> None:
    code, _, stderr = run(capsys, *gen_args(files, tmp_path, *extra))
    assert code == cli.BAD_INPUT and message in stderr


def test_bad_files_exit_2_with_the_reason(files: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = gen_args(files, tmp_path)
    args[args.index("--image") + 1] = str(tmp_path / "missing.png")
    code, _, stderr = run(capsys, *args)
    assert code == cli.BAD_INPUT and "missing.png: no such file" in stderr
    (tmp_path / "notes.txt").write_text("hello")
    args[args.index("--image") + 1] = str(tmp_path / "notes.txt")
    code, _, stderr = run(capsys, *args)
    assert code == cli.BAD_INPUT and "notes.txt: not an image" in stderr


def test_mask_of_another_size_needs_resize_mask(files: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "small-mask.png"
    Image.open(files["mask"]).resize((32, 24)).save(small)
    args = gen_args(files, tmp_path / "out", "--num-samples", "1")
    args[args.index("--mask") + 1] = str(small)
    code, _, stderr = run(capsys, *args)
    assert code == cli.BAD_INPUT and "the mask is 32×24 but the image is 64×48" in stderr and "--resize-mask" in stderr
    code, _, stderr = run(capsys, *args, "--resize-mask")
    assert code == cli.OK, stderr


def test_missing_inputs_are_usage_errors(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = run(capsys, "generate", "--image", str(files["image"]), "--prompt", "x", "--json")
    assert code == cli.BAD_INPUT and "--image and --mask are required" in stderr
    assert json.loads(stdout) == {"error": "--image and --mask are required", "exitCode": 2}


def test_failed_job_exits_4_with_reason(files: dict[str, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = gen_args(files, tmp_path / "out", "--json")
    args[args.index("--prompt") + 1] = "a door [fail]"
    code, stdout, stderr = run(capsys, *args)
    assert code == cli.JOB_FAILED and json.loads(stdout)["status"] == "failure"
    assert "failure" in stderr and "Hint:" in stderr


def test_models_lists_only_usable_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(capsys, "models", "--json")
    models = json.loads(stdout)["models"]
    assert code == cli.OK and models
    from scenario_tui.sandbox.catalogue import MODELS

    usable = {m.id for m in MODELS if "inpaint_ip_adapter" in m.capabilities}
    assert {m["id"] for m in models} == usable


def test_interrupt_while_polling_leaves_the_job_and_says_how_to_find_it(
        files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("scenario_tui.core.engine.Engine.follow", interrupted)
    code, _, stderr = run(capsys, *gen_args(files, tmp_path))
    assert code == cli.INTERRUPTED and "Interrupted: sandbox job job_" in stderr


def test_the_store_records_the_intent_before_submission(files: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_tui.backend import STORE_NAME
    from scenario_tui.config import data_dir
    from scenario_tui.core.store import Store

    assert run(capsys, *gen_args(files, tmp_path, "--num-samples", "1"))[0] == cli.OK
    store = Store(data_dir() / STORE_NAME)
    [stored] = store.runs()
    states = [state for _, state, _, _ in store.history(stored.id)]
    assert states[0] == "intent" and states[1] == "running" and states[-1] == "success"
    assert (data_dir() / STORE_NAME).stat().st_mode & 0o777 == 0o600


# --- live mode: real HTTP over loopback to the sandbox server --------------------------------

@pytest.fixture
def server() -> Iterator[str]:
    sandbox = Sandbox(SandboxConfig(job_seconds=0, credentials=("live-key", "live-secret-123")))
    httpd = make_server(sandbox)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_live_mode_against_a_local_server(server: str, files: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_API_KEY", "live-key")
    monkeypatch.setenv("SCENARIO_API_SECRET", "live-secret-123")
    code, stdout, stderr = run(capsys, "models", "--base-url", server, "--json")
    model = json.loads(stdout)["models"][0]["id"]
    code, stdout, stderr = run(capsys, *gen_args(files, tmp_path, "--base-url", server, "--model", model,
                                                 "--num-samples", "1", "--json"))
    assert code == cli.OK, stderr
    assert "LIVE" in stderr and len(json.loads(stdout)["files"]) == 1
    written = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.json"))
    assert "live-secret-123" not in stdout + stderr + written


def test_wrong_credentials_exit_3_without_leaking_the_secret(server: str, files: dict[str, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_API_KEY", "live-key")
    monkeypatch.setenv("SCENARIO_API_SECRET", "wrong-secret-456")
    code, stdout, stderr = run(capsys, "models", "--base-url", server)
    assert code == cli.API_ERROR and "HTTP 401" in stderr
    assert "wrong-secret-456" not in stdout + stderr


def test_config_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("confirm_above = = 1\n")
    code, _, stderr = run(capsys, "models", "--config", str(bad))
    assert code == cli.BAD_INPUT and "c.toml" in stderr and "line 1" in stderr


def test_a_job_still_running_past_the_follow_deadline_exits_5_with_the_resume_command(
        files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TUI_SANDBOX_JOB_SECONDS", "3600")
    monkeypatch.setenv("SCENARIO_TUI_FOLLOW_TIMEOUT", "0.05")
    code, stdout, stderr = run(capsys, *gen_args(files, tmp_path / "out", "--json"))
    result = json.loads(stdout)
    assert code == cli.STILL_RUNNING == result["exitCode"] == 5
    assert result["state"] == "running" and result["resume"] == f"scenario-tui resume {result['jobId']}"
    assert f"still running, checked again later (past follow_timeout); get its results with: " \
           f"scenario-tui resume {result['jobId']}" in stderr



@pytest.mark.parametrize("flag", ["--image", "--ref"])
@pytest.mark.parametrize("value", ["inputpng", "my-photo", "asset", "assetX123"])
def test_a_mistyped_file_name_is_no_such_file_not_an_asset_id(
        files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        flag: str, value: str) -> None:
    monkeypatch.chdir(tmp_path)
    args = gen_args(files, tmp_path / "out")
    args[args.index(flag) + 1] = value
    code, _, stderr = run(capsys, *args)
    assert code == cli.BAD_INPUT and f"{value}: no such file" in stderr
    assert not (tmp_path / "out").exists()  # nothing quoted or submitted


def test_a_value_that_looks_like_an_asset_id_is_sent_as_one(files: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = gen_args(files, tmp_path / "out", "--dry-run", "--width", "512", "--height", "512")
    args[args.index("--image") + 1] = "asset_unknown123"
    args[args.index("--mask") + 1] = str(make_image(tmp_path / "mask512.png", (512, 512), (255, 255, 255)))
    code, _, stderr = run(capsys, *args)
    assert code == cli.API_ERROR and "no asset with id asset_unknown123" in stderr  # sent as an id


@pytest.mark.parametrize("target", ["/dev/zero", "DIR"])
def test_a_config_that_is_not_a_regular_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     target: str) -> None:
    path = str(tmp_path) if target == "DIR" else target
    code, _, stderr = run(capsys, "models", "--config", path)
    assert code == cli.BAD_INPUT and f"{path}: not a regular file" in stderr and "Traceback" not in stderr


def test_a_deeply_nested_config_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, _, stderr = run(capsys, "jobs", "--config", str(deep))
    assert code == cli.BAD_INPUT and "deep.toml: nested too deeply" in stderr


@pytest.mark.parametrize("port", ["-1", "65536", "http", "1e3"])
def test_sandbox_port_must_be_0_to_65535(capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["sandbox", "--port", port])
    assert exc.value.code == 2 and "--port" in capsys.readouterr().err


def test_a_run_still_running_does_not_hide_another_runs_error() -> None:
    assert cli.worst([cli.STILL_RUNNING, cli.API_ERROR]) == cli.API_ERROR
    assert cli.worst([cli.JOB_FAILED, cli.STILL_RUNNING, cli.OK]) == cli.JOB_FAILED
    assert cli.worst([cli.OK, cli.STILL_RUNNING]) == cli.STILL_RUNNING
    assert cli.worst([cli.OK]) == cli.worst([]) == cli.OK
