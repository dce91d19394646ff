"""Fixtures for the main-screen tests: the real app built by ``make_app`` on a sandbox, with clocks we move.

Everything on screen must be deterministic: tests run in ``tmp_path`` (short relative file names,
no absolute paths), the app's clock is pinned, the sandbox's clock moves only when told to.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea
from textual.worker import WorkerCancelled
from textual_image.widget import HalfcellImage

from scenario_tui.config import load_settings
from scenario_tui.core.store import Store
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.app import ScenarioApp, make_app
from scenario_tui.ui.screens.main import MainScreen
from scenario_tui.ui.state import UiState
from scenario_tui.ui.timings import Timings
from scenario_tui.ui.widgets.chrome import TextBar
from tests.conftest import make_image, make_mask


# The UI's debounces for tests: short, but long enough to coalesce a typed word (Timings.instant()
# made the typing tests twice as slow: every key was validated, quoted and looked up). The submit
# cooldown stays real where a test is about key repeat; ``no_cooldown`` takes it away.
TIMINGS = Timings(quote=0.25, model=0.25, save=0.25, file=0.1, filter=0.05)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cursors don't blink in any UI test: a snapshot can't catch one half-way (as in harlequin's tests)."""
    for widget in (Input, TextArea):
        monkeypatch.setattr(widget.cursor_blink, "_default", False)


@pytest.fixture
def no_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Submit again at once (the cooldown only guards against key repeat)."""
    monkeypatch.setattr(sys.modules[__name__], "TIMINGS", replace(TIMINGS, submit_cooldown=0.001))


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    """The app under test and what it talks to."""

    app: ScenarioApp
    sandbox: Sandbox
    sandbox_clock: FakeClock
    app_clock: FakeClock
    out: Path
    requests: list[Any] = field(default_factory=list)

    @property
    def screen(self) -> MainScreen:
        main = self.app.screen_stack[0]
        assert isinstance(main, MainScreen)
        return main

    def sandbox_jobs(self) -> list[Any]:
        return list(self.sandbox._jobs.values())


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path`` so file names typed and shown are short and relative."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def inputs(tmp_path: Path, in_tmp: Path) -> dict[str, str]:
    """Input, mask and two references in the working folder (the cwd), by relative name."""
    make_image(tmp_path / "in.png", (64, 48))
    make_mask(tmp_path / "m.png", (64, 48))
    make_image(tmp_path / "r1.png", (32, 32), (220, 30, 30))
    make_image(tmp_path / "r2.png", (32, 32), (30, 30, 220))
    return {"image": "in.png", "mask": "m.png", "ref1": "r1.png", "ref2": "r2.png"}


async def no_wait(_: float) -> None:
    """The client's backoff between retries, skipped (a retried call still goes to the sandbox)."""


def build(
    tmp_path: Path,
    *,
    job_seconds: float = 0.0,
    confirm_above: float = 10_000,
    ui_state: UiState | None = None,
    wrap: Callable[[SandboxTransport], Any] | None = None,
    seeded_ids: bool = False,
    keymap: dict[str, str] | None = None,
    **sandbox_knobs: Any,
) -> Harness:
    """The app as ``make_app`` builds it, on a sandbox whose clock is a ``FakeClock``.

    ``wrap`` may replace the sandbox transport (fault injection); ``seeded_ids`` makes job and
    asset ids the same on every run (for snapshots).
    """
    settings, _ = load_settings(poll_interval=0.01, poll_max_interval=0.02, output_dir=Path("out"),
                                confirm_above=confirm_above, keymap=keymap)
    sandbox_clock, app_clock = FakeClock(), FakeClock()
    sandbox = Sandbox(SandboxConfig(job_seconds=job_seconds, **sandbox_knobs), clock=sandbox_clock)
    if seeded_ids:
        import random

        sandbox._random = random.Random(20240601)  # ids and picked seeds: deterministic
    transport: Any = SandboxTransport(sandbox)
    if wrap is not None:
        transport = wrap(transport)
    app = make_app(settings, transport=transport, image_cls=HalfcellImage,
                   ui_state=ui_state if ui_state is not None else UiState(),
                   store=Store(tmp_path / "runs.sqlite3", clock=app_clock), clock=app_clock, retry_sleep=no_wait,
                   timings=TIMINGS)
    app.animation_level = "none"
    app.NOTIFICATION_TIMEOUT = 60  # toasts stay for the whole test (and its screenshot)
    return Harness(app, sandbox, sandbox_clock, app_clock, tmp_path / "out")


@pytest.fixture
def harness(tmp_path: Path, in_tmp: Path) -> Callable[..., Harness]:
    return lambda **kw: build(tmp_path, **kw)


# --------------------------------------------------------------------------- helpers


async def settle(app: App[Any], pilot: Pilot[Any]) -> None:
    """Workers done (except the pollers following jobs, which end with their job) and their messages handled.

    Exclusive workers cancel their predecessors, which ``wait_for_complete`` reports as an error.
    """
    for _ in range(10):
        busy = [w for w in app.workers if not w.is_finished and w.group != "poll"]
        if not busy:
            break
        for worker in busy:
            try:
                await worker.wait()
            except WorkerCancelled:
                pass
        await pilot.pause()
    await pilot.pause()


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str = "condition",
                tries: int = 500, seconds: float = 30.0) -> None:
    """Let the app run (timers, workers, polls) until ``condition`` holds.

    Each round is a ``pilot.pause()`` (the app processes its messages, then is idle for 20 ms, or
    1 s at most while jobs are being polled); fails after ``tries`` rounds or ``seconds``.
    """
    deadline = time.monotonic() + seconds
    for _ in range(tries):
        if condition():
            return
        if time.monotonic() > deadline:
            break
        await pilot.pause()
    if not condition():
        raise AssertionError(f"{what}: never met")


def text_of(app: App[Any], selector: str) -> str:
    widget = app.screen_stack[0].query_one(selector)
    if isinstance(widget, TextBar):
        return str(widget.text if isinstance(widget.text, str) else widget.text.plain)
    assert isinstance(widget, Static)
    return str(widget.content)


def costbar(app: App[Any]) -> str:
    return text_of(app, "#costbar")


def blockers(app: App[Any]) -> str:
    """The summary under the form, or "" while it is hidden."""
    widget = app.screen_stack[0].query_one("#blockers", Static)
    return str(widget.content) if widget.has_class("-shown") else ""


def note(app: App[Any], name: str) -> str:
    """The message under a field ("" when none is shown)."""
    row = app.screen_stack[0].query_one(f"#row-{name}")
    notes = row.query(".param-note")
    if not notes:
        return ""
    static = notes.first(Static)
    return str(static.content) if static.has_class("-shown") else ""
