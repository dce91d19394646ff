"""SVG snapshots of the main screen (pytest-textual-snapshot): start, invalid form, running job, finished job.

Deterministic by construction: the tests run in ``tmp_path`` with relative file names, the app's clock
is pinned (elapsed times read 0:00), the sandbox's clock moves only when told to, its ids come from a
seeded generator, the seed is fixed (so the sandbox paints the same results), previews use the
half-cell renderer, cursors don't blink (``no_cursor_blink``) and toasts outlive the test.

Update with ``pytest tests/ui/test_snapshots.py --snapshot-update``; the SVGs are in ``tests/__snapshots__/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot
from textual.widgets import Input

from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets.jobs import JobPanel
from scenario_tui.ui.widgets.preview import Preview
from tests.ui.conftest import Harness, blockers, costbar, settle, until

SnapCompare = Callable[..., bool]
SNAPSHOTS = Path(__file__).parents[1] / "__snapshots__"


class SvgInTestsDir(pytest_textual_snapshot.SVGImageExtension):
    """Keep the SVGs in ``tests/__snapshots__/<module>/`` rather than next to this module."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOTS / test_location.basename)


@pytest.fixture(autouse=True)
def snapshots_in_tests_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    # autouse: set up before ``snap_compare``, which picks the extension class by this name
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", SvgInTestsDir)
RUNNING_AT_HALF = 0.25 * 10 + 0.5 * 0.65 * 10  # sandbox seconds into a 10 s job: in progress, 50 %


def form_state(inputs: dict[str, str], **values: Any) -> UiState:
    """A form as saved by an earlier run: SDXL model, a fixed seed, input, mask and one reference."""
    return UiState(values={"modelId": "model_sandbox-sdxl-painter", "prompt": "a red lighthouse", "seed": "42",
                           **values},
                   seed_mode="fixed", image=inputs["image"], mask=inputs["mask"], references=[(inputs["ref1"], "")])


async def started(pilot: Pilot[Any]) -> None:
    """The first screen settled: model filled in, files loaded, the summary up to date."""
    app = pilot.app
    await settle(app, pilot)
    await until(pilot, lambda: app.screen.query_one("#param-modelId", Input).value != "", "a model")
    await until(pilot, lambda: app.screen.model is not None, "the model looked up")
    await until(pilot, lambda: "Model:" not in blockers(app), "the summary updated")
    await settle(app, pilot)


def prepared(*steps: Callable[[Pilot[Any]], Awaitable[None]]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        for step in steps:
            await step(pilot)
        await settle(pilot.app, pilot)
        assert not any(w.cursor_blink for w in pilot.app.screen.query("Input, TextArea"))  # type: ignore[attr-defined]

    return run_before


def jobs(pilot: Pilot[Any]) -> JobPanel:
    return pilot.app.screen_stack[0].query_one(JobPanel)


async def quoted(pilot: Pilot[Any]) -> None:
    await until(pilot, lambda: "Cost: 28 CU" in costbar(pilot.app), "the quote")


async def submitted(pilot: Pilot[Any]) -> None:
    await quoted(pilot)
    await pilot.press("ctrl+r")
    await until(pilot, lambda: bool(jobs(pilot).entries) and jobs(pilot).entries[0].job_id is not None, "the job")


def test_start_120x40(snap_compare: SnapCompare, harness: Callable[..., Harness]) -> None:
    assert snap_compare(harness().app, terminal_size=(120, 40), run_before=prepared())


def test_start_80x24(snap_compare: SnapCompare, harness: Callable[..., Harness]) -> None:
    assert snap_compare(harness().app, terminal_size=(80, 24), run_before=prepared())


def test_invalid_form_after_submit(snap_compare: SnapCompare, harness: Callable[..., Harness],
                                   inputs: dict[str, str]) -> None:
    state = form_state(inputs, prompt="")
    state.mask = ""

    async def bad_values(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        screen.query_one("#param-strength").focus()
        await pilot.press(*"2")
        screen.query_one("#param-width").focus()
        await pilot.press(*"513")
        await pilot.press("ctrl+r")  # refused: every problem shown, the focus on the first
        await until(pilot, lambda: "4 to fix" in blockers(pilot.app), "the summary")

    assert snap_compare(harness(ui_state=state).app, terminal_size=(120, 40), run_before=prepared(bad_values))


def test_running_job_half_way(snap_compare: SnapCompare, harness: Callable[..., Harness],
                              inputs: dict[str, str]) -> None:
    h = harness(ui_state=form_state(inputs), job_seconds=10, seeded_ids=True)

    async def half_way(pilot: Pilot[Any]) -> None:
        await submitted(pilot)
        entry = jobs(pilot).entries[0]
        h.sandbox_clock.advance(RUNNING_AT_HALF)
        await until(pilot, lambda: entry.progress == 0.5 and entry.state == "in progress", "the job half way")
        await pilot.press("f3")  # the job panel focused: its row highlighted

    assert snap_compare(h.app, terminal_size=(120, 40), run_before=prepared(half_way))


def test_finished_job_shows_its_results(snap_compare: SnapCompare, harness: Callable[..., Harness],
                                        inputs: dict[str, str], tmp_path: Path) -> None:
    h = harness(ui_state=form_state(inputs), job_seconds=0, seeded_ids=True)

    async def done(pilot: Pilot[Any]) -> None:
        await submitted(pilot)
        entry = jobs(pilot).entries[0]
        await until(pilot, lambda: not entry.running, "the job to end")
        preview = pilot.app.screen_stack[0].query_one(Preview)
        await until(pilot, lambda: [i.path for i in preview.items] == entry.results, "the results previewed")
        await settle(pilot.app, pilot)
        assert entry.state == "success" and len(entry.results) == 4
        assert all(p.name.startswith(f"{entry.job_id}_0") for p in entry.results)

    assert snap_compare(h.app, terminal_size=(120, 40), run_before=prepared(done))
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png"))[0].endswith("_01_seed-42.png")


@pytest.fixture
def fixed_ids_and_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ids counted from 1 and times shown in UTC, so the history reads the same on every machine."""
    import itertools
    import time
    import types
    import uuid

    from scenario_tui.core import store

    count = itertools.count(1)
    monkeypatch.setattr(store, "uuid", types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(count) << 80)))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_history(snap_compare: SnapCompare, harness: Callable[..., Harness], inputs: dict[str, str],
                 fixed_ids_and_zone: None, size: tuple[int, int]) -> None:
    from scenario_tui.ui.screens.history import HistoryScreen
    from tests.ui.test_history import make_run, start_state

    h = harness(ui_state=start_state(), seeded_ids=True)

    async def listed(pilot: Pilot[Any]) -> None:
        app = pilot.app
        first = await make_run(app, "a red lighthouse on a cliff at dusk, oil painting", "42")
        await make_run(app, "a blue boat", "7")
        await make_run(app, "a [fail] cat", "1")
        app.engine.store.mark_result(first.id, 0, starred=True)
        app.engine.store.mark_result(first.id, 1, discarded=True)
        await settle(app, pilot)
        app.clear_notifications()
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and len(app.screen.rows) == 3, "the history")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await pilot.press("down", "down")
        await until(pilot, lambda: all(row.thumb_loaded for row in screen.rows), "the thumbnails")
        await settle(app, pilot)

    assert snap_compare(h.app, terminal_size=size, run_before=prepared(listed))


def test_mask_editor_80x24(snap_compare: SnapCompare, harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    """The editor over the input: two grid cells, a typed ellipse, the cursor moved on, the status lines."""

    async def edited(pilot: Pilot[Any]) -> None:
        await pilot.press("f7")
        await settle(pilot.app, pilot)
        await pilot.press("space", "down", "space", "colon", *"ellipse 50%,40%,40%,50%", "enter", "right", "right")
        await settle(pilot.app, pilot)

    state = form_state(inputs)
    state.mask = ""
    assert snap_compare(harness(ui_state=state).app, terminal_size=(80, 24), run_before=prepared(edited))
