"""The history screen, by keys only: listing, filters, reopening a run, re-running it through the form,
a result as the next input (lineage), star and discard (stored, files kept), and what survives a relaunch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select

from scenario_tui.core import imaging
from scenario_tui.core.engine import Draft
from scenario_tui.core.store import Run
from scenario_tui.ui.app import ScenarioApp
from scenario_tui.ui.screens.confirm import ConfirmScreen
from scenario_tui.ui.screens.history import HistoryRow, HistoryScreen
from scenario_tui.ui.screens.main import MainScreen
from scenario_tui.ui.state import UiState
from tests.conftest import make_image, make_mask
from tests.ui.conftest import Harness, settle, text_of, until

SD15 = "model_sandbox-sd15-classic"  # sizes from 64: the 64x48 inputs keep their size


def main(app: ScenarioApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


def history(app: ScenarioApp) -> HistoryScreen:
    assert isinstance(app.screen, HistoryScreen)
    return app.screen


def prompts(app: ScenarioApp) -> list[str]:
    return [row.run.prompt for row in history(app).rows]


def toasts(app: ScenarioApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def start_state() -> UiState:
    return UiState(values={"modelId": SD15, "prompt": "", "numSamples": "2"})


def big_inputs() -> tuple[Path, Path]:
    """An input and mask of a size SD 1.5 keeps (its results can be the next input with the same mask)."""
    image, mask = Path("in128.png"), Path("m128.png")
    if not image.exists():
        make_image(image, (128, 96))
        make_mask(mask, (128, 96))
    return image, mask


async def make_run(app: ScenarioApp, prompt: str, seed: str) -> Run:
    """A finished run, made by the engine as the form would (setup: the history is what is tested)."""
    engine = app.engine
    image, mask = big_inputs()
    draft = Draft({"prompt": prompt, "seed": seed, "numSamples": 2}, image=imaging.load_image(image),
                  mask=imaging.load_mask(mask), references=(imaging.load_image(Path("r1.png")),))
    run = await engine.submit(engine.build(draft, await engine.resolve_model(SD15)))
    return await engine.follow(run.id)


async def open_history(app: ScenarioApp, pilot: Pilot[Any]) -> HistoryScreen:
    await pilot.press("f6")
    await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.is_mounted, "the history")
    await settle(app, pilot)
    return history(app)


async def select(app: ScenarioApp, pilot: Pilot[Any], prompt: str) -> None:
    await pilot.press(*["up"] * len(history(app).rows))
    for _ in range(len(history(app).rows)):
        if history(app).run is not None and history(app).run.prompt == prompt:  # type: ignore[union-attr]
            return
        await pilot.press("down")
    raise AssertionError(f"no run {prompt!r} listed")


async def three_runs(app: ScenarioApp, pilot: Pilot[Any]) -> list[Run]:
    await settle(app, pilot)
    return [await make_run(app, "a red lighthouse", "42"), await make_run(app, "a blue boat", "7"),
            await make_run(app, "a [fail] cat", "1")]


async def test_runs_are_listed_filtered_by_text_and_state(harness: Callable[..., Harness],
                                                          inputs: dict[str, str]) -> None:
    app = harness(ui_state=start_state()).app
    async with app.run_test(size=(120, 40)) as pilot:
        await three_runs(app, pilot)
        screen = await open_history(app, pilot)
        assert prompts(app) == ["a [fail] cat", "a blue boat", "a red lighthouse"]
        row = screen.rows[2]
        shown = str(row.query_one(".history-text").render())  # type: ignore[attr-defined]
        assert "success · 2 CU" in shown and "seed 42" in shown and "a red lighthouse" in shown
        assert f"run {row.run.id}" in shown and "2 saved" in shown
        await pilot.press("slash", *"BOAT", "enter")
        await settle(app, pilot)
        assert prompts(app) == ["a blue boat"] and app.focused is screen.query_one("#history-list")
        await pilot.press("slash", "ctrl+u", "enter", "t")
        await settle(app, pilot)
        assert prompts(app) == ["a blue boat", "a red lighthouse"]
        assert "state: succeeded" in str(screen.query_one("#history-state").render())
        await pilot.press("t")
        await settle(app, pilot)
        assert prompts(app) == ["a [fail] cat"]
        await pilot.press("t", "t", "t", "escape")
        await settle(app, pilot)
        assert screen.state_filter == 0 and isinstance(app.screen, MainScreen)


async def test_keys_typed_in_a_burst_after_slash_go_to_the_filter(harness: Callable[..., Harness],
                                                                  inputs: dict[str, str]) -> None:
    """As over a slow SSH link: "/" and the word after it arrive together. None of its letters may act on
    the list (r would re-run a paid job, d discard); a "/" in the filter is text."""
    app = harness(ui_state=start_state()).app
    async with app.run_test(size=(120, 40)) as pilot:
        await three_runs(app, pilot)
        screen = await open_history(app, pilot)
        for key in ["t", "t", "t", "t", "t", "slash", *"dr/boat", "enter"]:  # all queued before any is handled
            event = events.Key(key, key if len(key) == 1 else None)
            event.set_sender(app)
            app.post_message(event)
        await settle(app, pilot)
        assert screen.query_one("#history-filter", Input).value == "dr/boat"
        assert screen.state_filter == 0 and prompts(app) == [] and len(app.engine.store.runs()) == 3
        assert isinstance(app.screen, HistoryScreen) and app.focused is screen.query_one("#history-list")


async def test_a_run_opened_from_the_history_fills_the_form(harness: Callable[..., Harness],
                                                          inputs: dict[str, str]) -> None:
    app = harness(ui_state=start_state()).app
    async with app.run_test(size=(120, 40)) as pilot:
        await three_runs(app, pilot)
        await open_history(app, pilot)
        await select(app, pilot, "a red lighthouse")
        await pilot.press("enter")
        await settle(app, pilot)
        form = main(app).form
        assert isinstance(app.screen, MainScreen)
        assert form.text("prompt") == "a red lighthouse" and form.text("numSamples") == "2"
        assert form.seed_mode == "fixed" and main(app).query_one("#param-seed", Input).value == "42"
        assert (form.file("image").value, form.file("mask").value) == ("in128.png", "m128.png")
        assert [(f.value, s) for f, s in form.references.rows()] == [("r1.png", "")]
        assert form.file("image").loaded is not None and "Loaded run" in toasts(app)


async def test_missing_input_files_are_named_and_such_a_run_is_not_re_run(harness: Callable[..., Harness],
                                                                        inputs: dict[str, str]) -> None:
    h = harness(ui_state=start_state())
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await three_runs(app, pilot)
        Path("r1.png").unlink()
        await open_history(app, pilot)
        await select(app, pilot, "a blue boat")
        await pilot.press("r")
        await settle(app, pilot)
        assert "no longer on disk: reference 1 r1.png — not re-run" in toasts(app)
        assert main(app).form.file("image").value == "in128.png"
        assert len(app.engine.store.runs()) == 3


async def test_re_run_with_the_same_or_a_new_seed_goes_through_the_form(harness: Callable[..., Harness],
                                                                       inputs: dict[str, str],
                                                                       no_cooldown: None) -> None:
    h = harness(ui_state=start_state())
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        first, *_ = await three_runs(app, pilot)
        await open_history(app, pilot)
        await select(app, pilot, "a red lighthouse")
        await pilot.press("r")
        await until(pilot, lambda: len(app.engine.store.runs()) == 4, "the re-run submitted")
        again = app.engine.store.runs()[0]
        assert again.params["prompt"] == "a red lighthouse" and again.seed == "42" and again.id != first.id
        assert again.quote == 2  # quoted before it was sent
        assert main(app).jobs.entries[0].key == again.id  # followed in the job panel
        await until(pilot, lambda: not main(app).submitting, "the submit cooldown")

        await open_history(app, pilot)
        await select(app, pilot, "a blue boat")
        await pilot.press("n")
        await until(pilot, lambda: len(app.engine.store.runs()) == 5, "the re-run with a new seed")
        fresh = app.engine.store.runs()[0]
        assert fresh.params["prompt"] == "a blue boat" and fresh.seed not in (None, "7")
        assert main(app).form.seed_mode == "random"


async def test_a_re_run_above_the_threshold_is_confirmed_first(harness: Callable[..., Harness],
                                                              inputs: dict[str, str]) -> None:
    h = harness(ui_state=start_state(), confirm_above=1)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await three_runs(app, pilot)
        await open_history(app, pilot)
        await select(app, pilot, "a blue boat")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "quoted at 2 creative units" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        assert len(app.engine.store.runs()) == 3 and isinstance(app.screen, MainScreen)


async def test_a_result_used_as_input_becomes_the_parent_of_the_next_run(harness: Callable[..., Harness],
                                                                        inputs: dict[str, str]) -> None:
    h = harness(ui_state=start_state())
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        first, *_ = await three_runs(app, pilot)
        await open_history(app, pilot)
        await select(app, pilot, "a red lighthouse")
        await pilot.press("enter")  # its parameters, then its second result as the input
        await settle(app, pilot)
        await open_history(app, pilot)
        await select(app, pilot, "a red lighthouse")
        await pilot.press("right", "u")
        await settle(app, pilot)
        second = f"out/{first.job_id}_02_seed-43.png"
        assert main(app).form.file("image").value == second and "result 2 of run" in toasts(app)
        await until(pilot, lambda: main(app).form.file("image").loaded is not None, "the result loaded")
        await settle(app, pilot)
        await until(pilot, lambda: "Cost:" in text_of(app, "#costbar") and "CU" in text_of(app, "#costbar"),
                    "the quote")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(app.engine.store.runs()) == 4, "the run from the result")
        child = app.engine.store.runs()[0]
        assert (child.parent_run, child.parent_result) == (first.id, 1)
        await open_history(app, pilot)
        assert f"from {first.id} #2" in str(history(app).rows[0].query_one(".history-text").render())  # type: ignore[attr-defined]


async def test_star_and_discard_are_stored_and_discarded_files_are_kept(harness: Callable[..., Harness],
                                                                       inputs: dict[str, str]) -> None:
    h = harness(ui_state=start_state())
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        first, *_ = await three_runs(app, pilot)
        screen = await open_history(app, pilot)
        await select(app, pilot, "a red lighthouse")
        await pilot.press("s", "right", "d")
        await settle(app, pilot)
        run = app.engine.store.get(first.id)
        assert run is not None and [(r.starred, r.discarded) for r in run.results] == [(True, False), (False, True)]
        assert all(path.is_file() for path in run.files)  # discarding never deletes
        detail = str(screen.query_one("#history-detail").render())
        assert "★" in detail and "_02_" not in detail  # hidden by default
        await pilot.press("a")
        assert "discarded" in str(screen.query_one("#history-detail").render())
        await pilot.press("escape")
        await open_history(app, pilot)
        await select(app, pilot, "a red lighthouse")
        assert "_02_" not in str(history(app).query_one("#history-detail").render())

        kept, discarded = run.files
        await pilot.press("x")  # the starred result is not discarded: its file can't be deleted
        await settle(app, pilot)
        assert isinstance(app.screen, HistoryScreen) and kept.is_file()
        await pilot.press("a", "right", "x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")  # keep it
        await settle(app, pilot)
        assert discarded.is_file()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await settle(app, pilot)
        assert not discarded.exists() and kept.is_file() and isinstance(app.screen, HistoryScreen)


async def test_thumbnails_of_the_first_kept_result_load_in_a_worker(harness: Callable[..., Harness],
                                                                   inputs: dict[str, str]) -> None:
    app = harness(ui_state=start_state()).app
    async with app.run_test(size=(120, 40)) as pilot:
        await three_runs(app, pilot)
        screen = await open_history(app, pilot)
        await until(pilot, lambda: all(row.thumb_loaded for row in screen.rows), "the thumbnails")
        images = {row.run.prompt: row.thumb.image for row in screen.rows}  # type: ignore[union-attr]
        assert images["a [fail] cat"] is None and images["a red lighthouse"] is not None
        assert all(isinstance(row, HistoryRow) for row in screen.rows)


async def test_the_history_survives_a_relaunch(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=start_state())
    async with h.app.run_test(size=(120, 40)) as pilot:
        first, *_ = await three_runs(h.app, pilot)
        h.app.engine.store.mark_result(first.id, 0, starred=True)
    again = harness(ui_state=start_state()).app  # the same store file in tmp_path
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(again, pilot)
        await open_history(again, pilot)
        assert prompts(again) == ["a [fail] cat", "a blue boat", "a red lighthouse"]
        await select(again, pilot, "a red lighthouse")
        assert "★" in str(history(again).query_one("#history-detail").render())
        assert main(again).query_one("#seed-mode", Select).value == "random"


async def test_arrows_move_the_selection_through_a_list_longer_than_the_screen(harness: Callable[..., Harness],
                                                                             inputs: dict[str, str]) -> None:
    app = harness(ui_state=start_state()).app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for n in range(6):
            await make_run(app, f"run number {n}", str(n))
        screen = await open_history(app, pilot)
        await pilot.press(*["down"] * 5)
        assert screen.run is not None and screen.run.prompt == "run number 0"
        assert screen.rows[-1].region.bottom <= screen.query_one("#history-list").region.bottom  # scrolled to it
        await pilot.press("pageup")
        assert screen.run.prompt == "run number 5"
