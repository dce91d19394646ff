"""Runs the real ``cli.main`` against the fake API and measures what the suite's summary counts."""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scenario_tui import cli
from scenario_tui.core.store import RunState, Store
from tests.conftest import make_image, make_mask
from tests.faults.fakeapi import BASE, CONTROL, KEY, MODEL_ID, SECRET, TOKEN, FakeAPI
from tests.faults.summary import KINDS, TALLY

EXIT_CODES = {cli.OK, cli.BAD_INPUT, cli.API_ERROR, cli.JOB_FAILED, cli.STILL_RUNNING, cli.INTERRUPTED}
SECRETS = (KEY, SECRET, TOKEN)


class VirtualTime:
    """The clock every wait of the app moves: retries, polls and deadlines take no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    api: FakeAPI
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


class Harness:
    """A temporary world: credentials for the fake API, input files, an output folder deep in ``tmp``."""

    def __init__(self, tmp: Path, home: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp, self.home, self.monkeypatch, self.capsys = tmp, home, monkeypatch, capsys
        self.out = tmp / "work" / "deep" / "out"
        self.data_home = data_home
        self.data = data_home / "scenario-tui"
        monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
        inputs = tmp / "in"
        inputs.mkdir()
        self.image = make_image(inputs / "input.png", (64, 48))
        self.mask = make_mask(inputs / "mask.png", (64, 48))
        self.ref = make_image(inputs / "ref.png", (32, 32), (200, 30, 30))
        self.time = VirtualTime()
        self.said: list[Outcome] = []  # every run so far: a run left for later may have been named by an earlier one
        for name, value in {"SCENARIO_API_KEY": KEY, "SCENARIO_API_SECRET": SECRET, "SCENARIO_BASE_URL": BASE,
                            "SCENARIO_TUI_FOLLOW_TIMEOUT": "120", "SCENARIO_TUI_MAX_DOWNLOAD_MB": "1"}.items():
            monkeypatch.setenv(name, value)

    def generate(self, *extra: str) -> list[str]:
        return ["generate", "--image", str(self.image), "--mask", str(self.mask), "--ref", str(self.ref),
                "--prompt", "a lighthouse", "--model", MODEL_ID, "--num-samples", "2", "--seed", "5",
                "--output-dir", str(self.out), "--json", *extra]

    def _use(self, api: FakeAPI) -> None:
        from scenario_tui import backend
        from scenario_tui.core.engine import Engine

        make_client, make_engine = backend.make_client, backend.make_engine
        vt = self.time

        def client(settings: Any, transport: Any = None, sleep: Any = None) -> Any:
            return make_client(settings, api.transport, vt.sleep)

        def engine(settings: Any, transport: Any = None, store: Any = None, retry_sleep: Any = None) -> Engine:
            made = make_engine(settings, api.transport, store, vt.sleep)
            return Engine(made.client, made.store, made.config, sleep=vt.sleep, clock=vt)

        self.monkeypatch.setattr(backend, "make_client", client)
        self.monkeypatch.setattr(backend, "make_engine", engine)

    def files(self) -> set[Path]:
        return {p for root in (self.tmp, self.home, self.data_home) for p in root.rglob("*") if p.is_file()}

    def run(self, api: FakeAPI, argv: list[str]) -> Outcome:
        """``scenario-tui ARGV`` in process; the outcome carries every problem the summary counts."""
        self._use(api)
        before, generates = self.files(), api.generate_posts
        self.capsys.readouterr()
        crash = ""
        try:
            code: int | None = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - anything else escaping main() is a crash
            code, crash = None, traceback.format_exc()
        out, err = self.capsys.readouterr()
        outcome = Outcome(code, out, err, api)
        self.said.append(outcome)
        problems = outcome.problems
        if crash or code not in EXIT_CODES or "Traceback (most recent call last)" in out + err:
            problems["crashes"] = [crash or f"exit {code}: {err[-2000:]}"]
        escapes = sorted({repr(c) for c in CONTROL.findall(out + err)})
        if escapes:
            problems["escapes"] = escapes
        created = self.files() - before
        allowed = (self.out.resolve(), self.data.resolve())
        outside = [str(p) for p in created if not any(a == p.resolve() or a in p.resolve().parents for a in allowed)]
        if outside:
            problems["outside"] = outside
        partial = [p.name for p in self.files() if p.name.endswith((".part", ".incoming"))]
        if partial:
            problems["partial files"] = partial
        leaks = [where for where, text in self._texts(out, err) if any(s in text for s in SECRETS)]
        if leaks:
            problems["leaks"] = leaks
        if api.generate_posts - generates > 1:
            problems["duplicates"] = [f"{api.generate_posts - generates} generate requests for one submission"]
        lost = self._lost(outcome)
        if lost:
            problems["lost"] = lost
        return outcome

    def _texts(self, out: str, err: str) -> Iterator[tuple[str, str]]:
        yield "stdout", out
        yield "stderr", err
        for path in self.files():
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # SQLite's -wal/-shm go when a connection is collected
                continue
            yield str(path), data.decode("latin-1")

    def _lost(self, outcome: Outcome) -> list[str]:
        """Jobs the server created whose results are neither saved nor left, named, to ``resume``."""
        store_path = self.data / "runs.sqlite3"
        if not outcome.api.jobs:
            return []
        if not store_path.exists():
            return [f"job {job_id}: no store" for job_id in outcome.api.jobs]
        store = Store(store_path)
        try:
            lost = []
            runs = store.runs(limit=10_000)
            for job_id in outcome.api.jobs:
                run = store.get(job_id)
                if run is None:  # a lost answer not found again: an UNSURE run that says how to look again
                    unsure = [r for r in runs if r.job_id is None and r.state in (RunState.UNSURE, RunState.INTENT)]
                    if not (unsure and self._said_resume(unsure[0].id)):
                        lost.append(f"job {job_id}: not in the store")
                    continue
                saved = run.state is RunState.SUCCESS and not run.missing_results and all(
                    Path(f).is_file() for f in run.files)
                ended = run.state in (RunState.FAILURE, RunState.CANCELED)
                if not (saved or ended or (run.unfinished and self._said_resume(job_id))):
                    lost.append(f"job {job_id}: {run.state.value}, files {run.files}, note {run.note!r}")
            return lost
        finally:
            store.close()

    def _said_resume(self, key: str) -> bool:
        return any(self._says_resume(outcome, key) for outcome in self.said)

    @staticmethod
    def _says_resume(outcome: Outcome, key: str) -> bool:
        """The resume command for ``key`` is on stderr, and in the --json result when there is one."""
        from scenario_tui.core.boundary import printable

        command = printable(f"scenario-tui resume {key}")
        if command not in outcome.err:
            return False
        if outcome.out.strip():
            try:
                data = outcome.json()
            except ValueError:
                return False
            return printable(str(data.get("resume", ""))) == command or any(
                printable(str(r.get("resume", ""))) == command for r in data.get("runs", []))
        return True


def record(outcome: Outcome, *, kind: str | None = None, bad_input: bool = False) -> None:
    """Add one run to the suite's tally (what it injected and every problem found)."""
    TALLY["runs"] += 1
    TALLY["faults"] += outcome.api.injected
    TALLY["bad_inputs"] += bad_input
    if kind:
        KINDS.add(kind)
    for key, found in outcome.problems.items():
        TALLY[key] += len(found)
