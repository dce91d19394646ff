"""The jobs panel over the engine: rows from the store, polling, saving, cancel, failures, relaunch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.app import ComposeResult
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static
from textual_image.widget import HalfcellImage

from scenario_tui.config import Settings, load_settings
from scenario_tui.core import imaging
from scenario_tui.core.engine import Draft
from scenario_tui.core.store import Run, RunState, Store
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.app import ScenarioApp, make_app
from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets.jobs import JobEntry, JobPanel, JobRow
from tests.conftest import make_image, make_mask
from tests.ui.conftest import FakeClock, no_wait

JOB_SECONDS = 20
MODEL = "model_sandbox-sd15-classic"


class PanelScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield JobPanel()

    def on_mount(self) -> None:
        self.query_one(JobPanel).focus()


class JobsApp(ScenarioApp):
    """The real app (engine, store, clock) with only the job panel on screen; keeps the panel's messages."""

    messages: list[Message]

    def get_default_screen(self) -> Screen[Any]:
        self.messages = []
        return PanelScreen()

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self.messages.append(message)

    def on_job_panel_selected(self, message: JobPanel.Selected) -> None:
        self.messages.append(message)

    @property
    def panel(self) -> JobPanel:
        return self.screen_stack[0].query_one(JobPanel)

    def finished(self) -> list[JobEntry]:
        return [m.entry for m in self.messages if isinstance(m, JobPanel.Finished)]


class Rig:
    """A sandbox on a frozen clock, the store and the settings the apps of one test share."""

    def __init__(self, tmp_path: Path, *, live: bool = True, **knobs: Any) -> None:
        self.tmp = tmp_path
        self.clock = FakeClock()
        self.sandbox = Sandbox(SandboxConfig(job_seconds=JOB_SECONDS, **knobs), clock=self.clock)
        self.transport: httpx.AsyncBaseTransport = SandboxTransport(self.sandbox)
        creds = {"api_key": "panel-key", "api_secret": "panel-secret"} if live else {}
        self.settings: Settings = load_settings(output_dir=tmp_path / "out", poll_interval=0.02,
                                                poll_max_interval=0.05, **creds)[0]
        inputs = tmp_path / "inputs"
        inputs.mkdir()
        self.image = imaging.load_image(make_image(inputs / "in.png", (64, 64)))
        self.mask = imaging.load_mask(make_mask(inputs / "mask.png", (64, 64)))
        self.ref = imaging.load_image(make_image(inputs / "ref.png", (32, 32)))

    def app(self) -> JobsApp:
        """An app as ``make_app`` builds it; a second call is a relaunch over the same store and API."""
        app = make_app(self.settings, transport=self.transport, image_cls=HalfcellImage,
                       store=Store(self.tmp / "runs.sqlite3", clock=self.clock), ui_state=UiState(),
                       clock=self.clock, retry_sleep=no_wait, app_cls=JobsApp)
        assert isinstance(app, JobsApp)
        app.animation_level = "none"
        return app

    def advance(self, seconds: float = JOB_SECONDS) -> None:
        self.clock.advance(seconds)


async def submit(app: JobsApp, pilot: Pilot[None], rig: Rig, prompt: str = "a knight", seed: str = "7") -> JobEntry:
    """What the main screen does: the engine submits, the panel follows."""
    engine = app.engine
    model = await engine.resolve_model(MODEL)
    request = engine.build(Draft({"prompt": prompt, "numSamples": 2, "seed": seed}, image=rig.image, mask=rig.mask,
                                 references=(rig.ref,)), model)
    run = await engine.submit(request, None)
    app.panel.follow(run)
    return await entry_of(app, pilot, run)


async def entry_of(app: JobsApp, pilot: Pilot[None], run: Run) -> JobEntry:
    """The row of ``run``, once the engine's events about it have reached the panel."""
    for _ in range(200):
        entry = next((e for e in app.panel.entries if e.key == run.id), None)
        if entry is not None and entry.job_id == run.job_id:
            return entry
        await pilot.pause()
    raise AssertionError("the run's row never came")


def row_text(app: JobsApp, entry: JobEntry) -> str:
    row = app.panel.query_one(f"#job-row-{entry.key}", JobRow)
    return " | ".join(str(s.content) for s in row.query(Static))


def details(app: JobsApp) -> str:
    return str(app.panel.query_one("#job-detail", Static).content)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str = "condition") -> None:
    """Let the app run until ``condition`` holds (polls are at most 0.05 s apart in these tests)."""
    for _ in range(2000):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"{what}: never met")


async def cancel_workers_done(app: JobsApp) -> None:
    for worker in list(app.workers):
        if worker.group == "cancel":
            await worker.wait()


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    monkeypatch.chdir(tmp_path)
    return Rig(tmp_path)


async def test_row_appears_then_polls_to_success_and_saves(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await submit(app, pilot, rig, seed="7")
        assert entry.state == "queued" and entry.cost is not None
        rig.advance(JOB_SECONDS / 2)
        await until(pilot, lambda: entry.state == "in progress")
        assert 0 < entry.progress < 1 and app.panel.running_count == 1
        assert f"{entry.cost:g} CU" in row_text(app, entry) and "a knight" in row_text(app, entry)
        rig.advance()
        await until(pilot, lambda: not entry.running, "the results saved")
        job_id = entry.job_id
        out = (rig.tmp / "out").absolute()
        assert entry.state == "success" and entry.progress == 1.0
        assert [p.name for p in entry.results] == [f"{job_id}_01_seed-7.png", f"{job_id}_02_seed-8.png"]
        assert all(p.parent == out and p.stat().st_size > 0 for p in entry.results)
        assert (out / f"{job_id}.json").exists()
        assert f"out/{job_id}_01_seed-7.png" in details(app)  # shown relative to the working folder
        assert "✓ success" in row_text(app, entry) and "0:30" in row_text(app, entry)
        await until(pilot, lambda: app.finished() == [entry], "the Finished message")


async def test_a_dozen_concurrent_jobs_all_finish_and_keys_still_work(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entries = [await submit(app, pilot, rig, seed=str(seed * 10)) for seed in range(12)]
        assert app.panel.running_count == 12
        assert app.panel.entries == entries[::-1]
        await pilot.press("down", "down")
        assert app.panel.selected is entries[-3]
        rig.advance()
        await until(pilot, lambda: app.panel.running_count == 0, "every job saved")
        assert [e.state for e in entries] == ["success"] * 12
        assert len({p for e in entries for p in e.results}) == 24


@pytest.mark.parametrize(("prompt", "knobs"), [("a [fail] knight", {}), ("a knight", {"fail_rate": 1.0})])
async def test_failing_job_shows_error_and_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prompt: str,
                                                knobs: dict[str, Any]) -> None:
    monkeypatch.chdir(tmp_path)
    rig = Rig(tmp_path, **knobs)
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await submit(app, pilot, rig, prompt=prompt)
        rig.advance()
        await until(pilot, lambda: not entry.running)
        assert entry.state == "failed" and entry.results == []
        assert entry.error and entry.hint
        assert f"error: {entry.error}" in details(app) and f"hint: {entry.hint}" in details(app)
        assert "✗ failed" in row_text(app, entry)
        await until(pilot, lambda: app.finished() == [entry])
        assert app.engine.store.get(entry.key).state is RunState.FAILURE  # type: ignore[union-attr]


async def test_cancel_accepted_ends_canceled(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await submit(app, pilot, rig)
        await pilot.press("c", "y")  # y: the question before canceling
        await until(pilot, lambda: not entry.running)
        assert entry.note == "cancel requested"
        assert entry.state == "canceled" and "⊘ canceled" in row_text(app, entry)
        assert list((rig.tmp / "out").glob("*.png")) == []


async def test_cancel_refused_is_said_honestly_and_the_job_goes_on(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rig = Rig(tmp_path, cancellable=False)
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await submit(app, pilot, rig)
        await pilot.press("c", "y")  # y: the question before canceling
        await cancel_workers_done(app)
        await pilot.pause()
        assert entry.note == "the server refused to cancel: Cannot cancel this type of job; the job keeps running"
        assert "note: the server refused to cancel" in details(app) and entry.running
        rig.advance()
        await until(pilot, lambda: not entry.running)
        assert entry.state == "success" and len(entry.results) == 2


async def test_cancel_while_still_submitting_explains(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        run = app.engine.store.create_run(mode="live", scope=app.engine.config.scope, params={"prompt": "x"},
                                          inputs=[], model=None, seed="1", quote=None)
        app.panel._show(run)
        entry = await entry_of(app, pilot, run)
        await pilot.pause()
        assert row_text(app, entry).startswith("↑ submitting…  —")
        await pilot.press("c")
        await cancel_workers_done(app)
        assert entry.note == "still submitting: there is no job to cancel yet"


async def test_transient_errors_show_a_note_and_the_job_still_finishes(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await submit(app, pilot, rig)
        knobs = rig.sandbox.config
        rig.sandbox.config = dataclasses.replace(knobs, error_rate=1.0)  # an outage begins
        await until(pilot, lambda: entry.run.note is not None, "the outage noted")
        assert entry.run.note == "HTTP 503: Service temporarily unavailable (simulated by error_rate); " \
                                 "still following"
        assert f"note: {entry.run.note}" in details(app) and entry.running
        rig.sandbox.config = knobs
        rig.advance()
        await until(pilot, lambda: not entry.running)
        assert entry.state == "success" and len(entry.results) == 2
        assert entry.run.note is None  # the next good poll cleared it


async def test_server_text_is_shown_as_plain_text(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await submit(app, pilot, rig, prompt="a [b]knight[/b] [fail]")
        rig.advance()
        await until(pilot, lambda: not entry.running)
        assert "a [b]knight[/b] [fail]" in row_text(app, entry)
        assert "prompt: a [b]knight[/b] [fail]" in details(app)


async def test_a_relaunch_shows_earlier_runs_and_follows_the_unfinished_ones(rig: Rig) -> None:
    first = rig.app()
    async with first.run_test(size=(100, 30)) as pilot:
        done = await submit(first, pilot, rig, prompt="finished before", seed="1")
        rig.advance()
        await until(pilot, lambda: not done.running)
        running = await submit(first, pilot, rig, prompt="still running", seed="100")
        assert running.running
    posts = len([j for j in rig.sandbox._jobs])
    second = rig.app()  # an SSH drop, a kill: the same store, the same API
    async with second.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(second.panel.entries) == 2, "both runs listed")
        assert [e.run.prompt for e in second.panel.entries] == ["still running", "finished before"]
        assert second.panel.selected is second.panel.entries[0]
        taken_up = second.panel.entries[0]
        assert taken_up.running
        rig.advance()
        await until(pilot, lambda: not taken_up.running, "the unfinished run followed to its end")
        assert taken_up.state == "success" and len(taken_up.results) == 2
        assert second.panel.entries[1].state == "success"
    assert len(rig.sandbox._jobs) == posts  # nothing was submitted again


async def test_a_sandbox_relaunch_says_earlier_sandbox_jobs_are_gone(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rig = Rig(tmp_path, live=False)
    first = rig.app()
    async with first.run_test(size=(100, 30)) as pilot:
        await submit(first, pilot, rig)
    second = rig.app()
    async with second.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: bool(second.panel.entries) and not second.panel.entries[0].running)
        entry = second.panel.entries[0]
        assert entry.state == "tracking stopped" and "ends with the app" in details(second)


ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;SGVsbG8=\x07\x9b31m\x1b[?1049h\r\x08"


class Hostile(httpx.AsyncBaseTransport):
    """The sandbox, with escape sequences and markup put into every job's status, error and hint."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or "/jobs/" not in request.url.path:
            return response
        import json

        data = json.loads(await response.aread())
        job = data["job"]
        job["status"] = f"{job['status']}{ESCAPES}[bold]loud[/bold]" if job["status"] != "failure" else "failure"
        job["metadata"].update(error=f"boom{ESCAPES}[red]red[/red]", hint=f"try{ESCAPES}[link=x]here[/link]")
        return httpx.Response(response.status_code, json=data)


def _screen_text(app: JobsApp) -> str:
    """Every character the compositor would send for the whole screen (the screen buffer)."""
    from textual.geometry import Region

    lines = []
    for widget in app.screen.walk_children(with_self=True):
        if widget.display and widget.size.area:
            for strip in widget.render_lines(Region(0, 0, *widget.size)):
                lines.append("".join(segment.text for segment in strip))
    return "\n".join(lines)


async def test_escape_sequences_and_markup_from_the_server_never_reach_the_screen(rig: Rig) -> None:
    rig.transport = Hostile(rig.transport)
    app = rig.app()
    async with app.run_test(size=(120, 40)) as pilot:
        entry = await submit(app, pilot, rig, prompt="a [fail] knight")
        await until(pilot, lambda: "loud" in row_text(app, entry) or not entry.running, "the hostile status")
        shown = _screen_text(app) + row_text(app, entry) + details(app)
        assert "[bold]loud[/bold]" in shown  # markup is shown as the text it is
        rig.advance()
        await until(pilot, lambda: not entry.running)
        shown = _screen_text(app) + row_text(app, entry) + details(app)
        assert "boom" in shown and "[red]red[/red]" in shown and "[link=x]here[/link]" in shown
        assert not any(c in shown for c in "\x1b\x07\x9b\x08\r")


async def test_toasts_carry_no_escape_sequences(rig: Rig) -> None:
    app = rig.app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.notify(f"Job x failure: boom{ESCAPES}[b]b[/b]", title=f"t{ESCAPES}", markup=False)
        await pilot.pause()
        [toast] = list(app._notifications)
        assert toast.message.startswith("Job x failure: boom") and toast.message.endswith("[b]b[/b]")
        assert not any(c in toast.message + toast.title for c in "\x1b\x07\x9b\x08\r")
        assert not any(c in _screen_text(app) for c in "\x1b\x07\x9b")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_rows_tell_jobs_apart_and_keep_percent_time_and_cost_whole(
        size: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the main screen's side column (40 columns at 80x24, 60 at 120x40): the label goes on a second
    line; state, %, time and cost are never cut."""
    from tests.ui.conftest import build

    monkeypatch.chdir(tmp_path)
    rig = Rig(tmp_path)
    h = build(tmp_path, job_seconds=JOB_SECONDS)
    app = h.app
    async with app.run_test(size=size) as pilot:
        panel = app.screen.query_one(JobPanel)
        engine = app.engine
        model = await engine.resolve_model(MODEL)
        for prompt, seed in (("a knight in the rain", "7"), ("a knight in the rain", "8")):
            request = engine.build(Draft({"prompt": prompt, "numSamples": 2, "seed": seed}, image=rig.image,
                                         mask=rig.mask, references=(rig.ref,)), model)
            panel.follow(await engine.submit(request, None))
        await until(pilot, lambda: len(panel.entries) == 2 and all(e.job_id for e in panel.entries), "both rows")
        h.sandbox_clock.advance(JOB_SECONDS / 2)
        await until(pilot, lambda: all(e.state == "in progress" for e in panel.entries), "both in progress")
        await pilot.pause()
        labels = []
        for entry in panel.entries:
            row = panel.query_one(f"#job-row-{entry.key}", JobRow)
            assert row.has_class("-two-lines") and row.region.height == 2
            status, meta, label = (row.query_one(f".job-{part}", Static) for part in ("status", "meta", "label"))
            assert str(status.content) == "▶ in progress" and status.size.width >= len("▶ in progress")
            assert str(meta.content) == f"0:00 {entry.cost:g} CU" and meta.size.width >= len(str(meta.content))
            percent = row.query_one("#percentage")
            assert row.region.contains_region(meta.region) and row.region.contains_region(percent.region)
            assert str(percent.render()).strip().endswith("%")
            labels.append(str(label.content))
            assert labels[-1].startswith(entry.short_id) and f"seed {entry.run.seed}" in labels[-1]
        assert labels[0] != labels[1] and all("a knight in the rain" in text for text in labels)
