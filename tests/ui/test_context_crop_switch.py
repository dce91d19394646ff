"""The form's context-crop switch: off by default (as configured), says references are not cropped, and
when on, the run sends only the mask's box with the padding typed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from textual.pilot import Pilot
from textual.widgets import Input, Static, Switch

from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets.crop import ContextCrop
from tests.conftest import make_image
from tests.ui.conftest import Harness, blockers, settle, until
from tests.ui.test_main_screen import SDXL, finished, main, panel, quoted


def _inputs(folder: Path) -> UiState:
    make_image(folder / "big.png", (1024, 768))
    mask = Image.new("L", (1024, 768), 0)
    ImageDraw.Draw(mask).rectangle((400, 300, 439, 329), fill=255)
    mask.save(folder / "small-mask.png")
    make_image(folder / "r1.png", (32, 32))
    return UiState(values={"modelId": SDXL, "prompt": "a lamp", "numSamples": "1"}, image="big.png",
                   mask="small-mask.png", references=[("r1.png", "")])


async def _run(h: Harness, pilot: Pilot[Any], switch_on: bool) -> dict[str, Any]:
    app = h.app
    await settle(app, pilot)
    crop = main(app).query_one(ContextCrop)
    assert "references are not cropped" in str(crop.query_one(".crop-note", Static).content)
    assert crop.query_one(Switch).value is False and crop.padding is None
    if switch_on:
        crop.query_one(Switch).value = True
        crop.query_one("#crop-padding", Input).value = "8"
    await until(pilot, lambda: blockers(app) == "", "nothing to fix")
    await quoted(app, pilot)
    await pilot.press("ctrl+r")
    await until(pilot, lambda: len(panel(app).entries) == 1, "the job")
    await finished(pilot, panel(app).entries[0])
    [run] = app.engine.store.runs()
    return {i["field"]: i for i in run.inputs}["mask"]


async def test_off_by_default_the_whole_image_is_sent(harness: Callable[..., Harness], in_tmp: Path) -> None:
    h = harness(ui_state=_inputs(in_tmp))
    async with h.app.run_test(size=(120, 40)) as pilot:
        assert "contextCrop" not in await _run(h, pilot, switch_on=False)


async def test_switched_on_only_the_box_and_its_padding_are_sent(harness: Callable[..., Harness],
                                                                  in_tmp: Path) -> None:
    h = harness(ui_state=_inputs(in_tmp))
    async with h.app.run_test(size=(120, 40)) as pilot:
        mask = await _run(h, pilot, switch_on=True)
        crop = mask["contextCrop"]
        assert isinstance(crop, dict) and crop["padding"] == 8
        x, y, w, h_ = crop["box"]
        assert (w, h_) != (1024, 768) and x <= 392 and y <= 292 and x + w >= 448 and y + h_ >= 338
