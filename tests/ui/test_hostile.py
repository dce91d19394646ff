"""The TUI at the trust boundary: ids and seeds built to escape the output folder and the terminal,
SIGTERM/SIGHUP (a closed SSH session) while a paid job runs, and bad input (an output folder that is a
file, a mistyped file name)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from scenario_tui.core.store import RunState, Store
from scenario_tui.ui.state import UiState
from tests.ui.conftest import Harness, until
from tests.ui.test_job_panel import Rig, _screen_text, details, row_text, submit
from tests.ui.test_main_screen import filled, ready
from tests.ui.test_main_screen import submit as submit_from_the_form

PREFIX = "../../\x1b]0;pwned\x07\x1b[2J[b]x[/b]\x9b31m/"
SEED = "../../../escaped\x1b]52;c;SGVsbG8=\x07"
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) != "\n"]


class HostileIds(httpx.AsyncBaseTransport):
    """The sandbox, with every job id behind a path-escaping, terminal-escaping prefix and every result's
    seed the same; requests for such ids are mapped back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if PREFIX in request.url.path:
            path = quote(request.url.path.replace(PREFIX, ""))
            request = httpx.Request(request.method, request.url.copy_with(path=path), headers=request.headers,
                                    content=await request.aread())
        response = await self.inner.handle_async_request(request)
        if "application/json" not in response.headers.get("content-type", ""):
            return response
        data = json.loads(await response.aread())
        _hostile(data)
        return httpx.Response(response.status_code, json=data)


def _hostile(data: Any) -> None:
    if isinstance(data, dict):
        if isinstance(data.get("jobId"), str):
            data["jobId"] = PREFIX + data["jobId"]
        if isinstance(data.get("asset"), dict):
            data["asset"].setdefault("metadata", {})["seed"] = SEED
        for value in data.values():
            _hostile(value)
    elif isinstance(data, list):
        for value in data:
            _hostile(value)


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    monkeypatch.chdir(tmp_path)
    return Rig(tmp_path)


async def test_hostile_job_ids_and_seeds_stay_inside_the_output_folder_and_off_the_screen(rig: Rig) -> None:
    rig.transport = HostileIds(rig.transport)
    before = {p for p in rig.tmp.rglob("*")}
    app = rig.app()
    async with app.run_test(size=(120, 40)) as pilot:
        entry = await submit(app, pilot, rig)
        assert entry.job_id is not None and entry.job_id.startswith(PREFIX)  # the server's id, as it is
        rig.advance()
        await until(pilot, lambda: not entry.running, "the job to end")
        assert entry.state == "success" and len(entry.results) == 2
        shown = _screen_text(app) + row_text(app, entry) + details(app)
        assert "[b]x[/b]" in shown  # markup shown as the text it is
        assert not [c for c in CONTROLS if c in shown]
    out = (rig.tmp / "out").resolve()
    created = {p for p in rig.tmp.rglob("*")} - before
    outside = [p for p in created if p.resolve() != out and out not in p.resolve().parents
               and not p.name.startswith("runs.sqlite3")]
    assert outside == []
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 3 and all(not any(c in n for c in CONTROLS) and "/" not in n for n in names)
    assert not (rig.tmp.parent / "escaped").exists()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
async def test_sighup_or_sigterm_saves_the_form_and_keeps_the_running_job(
        harness: Callable[..., Harness], inputs: dict[str, str], tmp_path: Path, signum: int) -> None:
    h = harness(job_seconds=100, ui_state=filled(inputs, prompt="kept across a hang-up"))
    h.app.signals = True  # as the launcher builds it
    async with h.app.run_test(size=(120, 40)) as pilot:
        await ready(h.app, pilot)
        entry = await submit_from_the_form(h.app, pilot)
        assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN)  # the app's, not the default
        os.kill(os.getpid(), signum)
        await until(pilot, lambda: h.app.return_code is not None, "the app to leave")
    assert h.app.return_code == 130 and h.app.return_value == 130
    assert UiState.load().values.get("prompt") == "kept across a hang-up"
    run = Store(tmp_path / "runs.sqlite3").get(entry.key)
    assert run is not None and run.state is RunState.RUNNING and run.job_id == entry.job_id
    assert signal.getsignal(signum) is signal.SIG_DFL  # given back when the app ends


async def test_an_output_folder_that_is_a_file_stops_the_submit_before_paying(
        harness: Callable[..., Harness], inputs: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    h = harness(ui_state=filled(inputs))
    async with h.app.run_test(size=(120, 40)) as pilot:
        await ready(h.app, pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("can't be written to" in str(n.message) for n in h.app._notifications),
                    "the reason shown")
    assert h.sandbox_jobs() == [] and Store(tmp_path / "runs.sqlite3").runs() == []


async def test_a_mistyped_file_name_is_no_such_file_not_an_asset_id(tmp_path: Path) -> None:
    from tests.ui.test_file_field import FieldApp, type_and_enter

    app = FieldApp("image")
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, "myinput")  # meant myinput.png
        assert app.field.asset_id is None and app.field.problem is not None
        await type_and_enter(app, pilot, "asset_Abc-123")
        assert app.field.asset_id == "asset_Abc-123" and app.field.problem is None
