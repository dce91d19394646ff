"""The mask editor, driven by keys only: a mask from nothing (grid cells, a typed shape, grow, undo and
redo), saved next to the outputs and put in the form; then a job run with it names it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typing import Any

import pytest
from PIL import Image
from textual import events
from textual.filter import Monochrome, NoColor
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input

from scenario_tui.core import imaging
from scenario_tui.ui.screens import mask_editor
from scenario_tui.ui.screens.mask_editor import MaskEditor
from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets.mask_canvas import LEFT, TOP, MaskCanvas
from tests.ui.conftest import Harness, blockers, settle, until
from tests.ui.test_main_screen import SDXL, finished, main, panel, quoted


def white(mask: Image.Image) -> int:
    return mask.histogram()[255]


def editor(h: Harness) -> MaskEditor:
    screen = h.app.screen
    assert isinstance(screen, MaskEditor)
    return screen


async def test_a_mask_from_nothing_by_keys_only(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    state = UiState(values={"modelId": SDXL, "prompt": "a lamp"}, image=inputs["image"],
                    references=[(inputs["ref1"], "")])
    h = harness(ui_state=state)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        main(app).form.file("mask").focus()
        await pilot.press("f7")
        await settle(app, pilot)
        ed = editor(h)
        assert "started from nothing" in ed.said and white(ed.mask) == 0 and ed.mask.size == (64, 48)
        assert isinstance(app.focused, MaskCanvas)

        await pilot.press("space", "right", "space")  # cells 0 and 1 of the 8x8 grid: 8x6 px each
        await settle(app, pilot)
        assert white(ed.mask) == 96 and ed.mask.getbbox() == (0, 0, 16, 6)
        await pilot.press("minus", "minus", "minus", "minus")
        assert ed.grid.size == (4, 4) and ed.grid.cursor == 1  # still column 1, row 0

        await pilot.press("colon", *"rect 50%,50%,25%,25%", "enter")
        await settle(app, pilot)
        assert white(ed.mask) == 96 + 16 * 12 and ed.mask.getpixel((32, 24)) == 255
        assert ed.query_one("#mask-command", Input).value == ""
        await pilot.press("slash", *"bogus", "enter")
        assert "✗ 'bogus': not a command" in ed.said
        assert isinstance(app.focused, MaskCanvas) and not ed.canvas.typing  # Enter closed the command line

        await pilot.press("g")  # grow by the step shown: 8 px
        await settle(app, pilot)
        grown = 24 * 14 + 32 * 28  # the cells' 16x6 box and the 16x12 rectangle, 8 px more on each side inside the image
        assert white(ed.mask) == grown and ed.said == "grow 8 px"
        status = str(ed.query_one("#mask-status").text)  # type: ignore[attr-defined]
        assert f"{100 * grown / 3072:.1f} % to repaint" in status and "box 0,0 56×44" in status
        assert "by 8 px" in status

        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert white(ed.mask) == 288 and ed.at == 3
        await pilot.press("ctrl+y")
        await settle(app, pilot)
        assert white(ed.mask) == grown
        await pilot.press("ctrl+y")
        await settle(app, pilot)
        assert ed.said == "nothing to redo"

        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, MaskEditor)
        field = main(app).form.file("mask")
        saved = Path(field.value)
        assert saved == (h.out / "masks" / "mask-19700101-001640.png").resolve()
        await until(pilot, lambda: isinstance(field.loaded, imaging.LoadedMask), "the saved mask loaded in the form")
        assert isinstance(field.loaded, imaging.LoadedMask) and field.loaded.coverage == 100 * grown / 3072

        # the job made with it names it as its mask input
        await until(pilot, lambda: blockers(app) == "", "nothing left to fix")
        await quoted(app, pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(panel(app).entries) == 1, "a row for the job")
        await finished(pilot, panel(app).entries[0])
        [run] = app.engine.store.runs()
        assert {i["field"]: i["path"] for i in run.inputs}["mask"] == str(saved.resolve())


async def test_starts_from_the_current_mask_and_asks_before_discarding(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=UiState(values={"modelId": SDXL}, image=inputs["image"], mask=inputs["mask"]))
    app = h.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main(app).action_edit_mask()
        await settle(app, pilot)
        ed = editor(h)
        assert "the current mask (m.png)" in ed.said and white(ed.mask) == 33 * 25
        await pilot.press("i")
        await settle(app, pilot)
        assert white(ed.mask) == 64 * 48 - 33 * 25
        await pilot.press("escape")
        await pilot.press("n")  # keep editing
        assert app.screen is ed
        await pilot.press("escape", "y")
        assert not isinstance(app.screen, MaskEditor)
        assert main(app).form.file("mask").value == inputs["mask"]  # unchanged


async def typed_fast(pilot: Pilot[Any], text: str) -> None:
    """Keys arriving back to back (a paste, or a slow link delivering a burst), not one per idle."""
    for key in text:
        name = "enter" if key == "\r" else key if key.isalnum() else _character_to_key(key)
        event = events.Key(name, key)
        event.set_sender(pilot.app)
        driver = pilot.app._driver
        assert driver is not None
        driver.send_message(event)  # as the terminal's keys arrive, without waiting for idle between them
    await pilot.pause()


async def test_keys_after_colon_go_to_the_command_line_however_fast(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=UiState(values={"modelId": SDXL}, image=inputs["image"]))
    app = h.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main(app).action_edit_mask()
        await settle(app, pilot)
        ed = editor(h)
        await typed_fast(pilot, ":ellipse 0,0,50%,50%")
        await settle(app, pilot)
        assert ed.query_one("#mask-command", Input).value == "ellipse 0,0,50%,50%"
        assert white(ed.mask) == 0 and ed.at == 0  # no "i", "s", space or "f" taken as edits
        await typed_fast(pilot, "\r")
        await settle(app, pilot)
        assert ed.at == 1 and white(ed.mask) > 0 and not ed.canvas.typing
        await typed_fast(pilot, "i")  # the command line is closed: keys are edits again
        await settle(app, pilot)
        assert ed.said == "invert"
        await typed_fast(pilot, ":grow 3")
        await pilot.press("escape")  # closes the command line, not the editor
        await settle(app, pilot)
        assert app.screen is ed and not ed.canvas.typing and ed.at == 2


async def test_no_input_image_no_editor(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness()
    async with h.app.run_test(size=(120, 40)) as pilot:
        await settle(h.app, pilot)
        main(h.app).action_edit_mask()
        await pilot.pause()
        assert not isinstance(h.app.screen, MaskEditor)


async def test_an_edit_keyed_right_after_a_command_comes_after_it(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=UiState(values={"modelId": SDXL}, image=inputs["image"]))
    app = h.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main(app).action_edit_mask()
        await settle(app, pilot)
        ed = editor(h)
        await typed_fast(pilot, ":rect 8,8,8,8\rg")
        await settle(app, pilot)
        assert ed.at == 2 and ed.mask.getbbox() == (0, 0, 24, 24)  # grown: the rectangle came first


async def test_a_mouse_drag_draws_a_rectangle_and_a_click_picks_a_cell(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=UiState(values={"modelId": SDXL}, image=inputs["image"]))
    app = h.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main(app).action_edit_mask()
        await settle(app, pilot)
        ed = editor(h)
        assert ed.canvas.composite is not None
        pw, ph = ed.canvas.composite.size  # 64×48 shown at pw×ph pixels: two per cell, vertically
        await pilot.mouse_down(MaskCanvas, offset=(LEFT + 2, TOP + 1))
        await pilot.hover(MaskCanvas, offset=(LEFT + 9, TOP + 4))
        await pilot.mouse_up(MaskCanvas, offset=(LEFT + 9, TOP + 4))
        await settle(app, pilot)
        x0, y0, x1, y1 = 2 / pw, 2 / ph, 10 / pw, 10 / ph  # cells 2..9 across, lines 1..4 down (pixels 2..9)
        assert ed.mask.getbbox() == (int(x0 * 64), int(y0 * 48), round(x1 * 64), round(y1 * 48))
        assert ed.said == "rectangle (mouse)"
        await pilot.click(MaskCanvas, offset=(LEFT + pw - 1, TOP + ph // 2 - 1))  # the last cell
        assert ed.grid.cursor == 63 and ed.at == 1


async def test_a_file_can_be_the_start_even_of_another_size(
        harness: Callable[..., Harness], inputs: dict[str, str], in_tmp: Path) -> None:
    Image.new("L", (32, 24), 255).save(in_tmp / "half.png")
    h = harness(ui_state=UiState(values={"modelId": SDXL}, image=inputs["image"]))
    app = h.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main(app).action_edit_mask()
        await settle(app, pilot)
        ed = editor(h)
        await pilot.press("ctrl+s")  # nothing to repaint yet: not saved
        await settle(app, pilot)
        assert app.screen is ed and not (h.out / "masks").exists()
        ed._picked(in_tmp / "m.png")
        await settle(app, pilot)
        assert ed.said == "opened m.png" and white(ed.mask) == 33 * 25
        ed._picked(in_tmp / "half.png")
        await settle(app, pilot)
        assert ed.mask.size == (64, 48) and white(ed.mask) == 64 * 48 and ed.at == 2


def test_undo_history_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    ed = MaskEditor(Image.new("RGB", (64, 48)))
    for n in range(40):
        ed._push(Image.new("L", (64, 48), n))
    assert len(ed.history) == ed.limit == 30 and ed.at == 29 and ed.mask.getpixel((0, 0)) == 39
    assert ed.saved_at is None
    monkeypatch.setattr(mask_editor, "HISTORY_BYTES", 64 * 48 * 7)  # as many masks as fit, but at least 5
    assert MaskEditor(Image.new("RGB", (64, 48))).limit == 7
    monkeypatch.setattr(mask_editor, "HISTORY_BYTES", 64 * 48 * 2)
    assert MaskEditor(Image.new("RGB", (64, 48))).limit == 5


async def test_the_tint_keeps_its_colour_under_no_color(harness: Callable[..., Harness], inputs: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    h = harness(ui_state=UiState(values={"modelId": SDXL}, image=inputs["image"], mask=inputs["mask"]))
    app = h.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main(app).action_edit_mask()
        await settle(app, pilot)
        canvas = editor(h).canvas
        assert app.no_color and not any(isinstance(f, Monochrome | NoColor) for f in canvas.get_line_filters())
        middle = canvas.render_line(TOP + canvas.size.height // 2 - 1)
        colours = {seg.style.color.get_truecolor() for seg in middle if seg.style and seg.style.color}
        assert any(r > b + 60 for r, _, b in colours)  # the tint (magenta over blue and yellow): not grey
