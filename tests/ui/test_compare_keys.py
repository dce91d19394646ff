"""Compare keys on a finished result: b flips to the input and back, v shows both, d the difference with
what changed outside the mask counted (none when the context crop pasted the result back)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from textual.widgets import Static, Switch

from scenario_tui.ui.widgets.crop import ContextCrop
from scenario_tui.ui.widgets.preview import Preview
from tests.ui.conftest import Harness, settle
from tests.ui.test_context_crop_switch import _inputs, _run
from tests.ui.test_main_screen import main


def shown(preview: Preview, part: str) -> str:
    return str(preview.query_one(f"#preview-{part}", Static).content)


async def test_flip_side_by_side_and_difference(harness: Callable[..., Harness], in_tmp: Path) -> None:
    h = harness(ui_state=_inputs(in_tmp))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await _run(h, pilot, switch_on=False)
        await settle(app, pilot)
        preview = main(app).query_one(Preview)
        [result] = main(app).jobs.entries[0].results
        assert preview.items[0].before == (in_tmp / "big.png").resolve()
        await pilot.press("f4", "b")
        await settle(app, pilot)
        assert shown(preview, "title").startswith("BEFORE (the input) · 1/1 · ") and shown(preview, "caption").endswith("big.png")
        await pilot.press("b")  # again: back to the result
        await settle(app, pilot)
        assert "BEFORE" not in shown(preview, "title") and shown(preview, "caption").endswith(result.name)
        await pilot.press("v")
        await settle(app, pilot)
        assert shown(preview, "title").startswith("before | after · ")
        await pilot.press("d")
        await settle(app, pilot)
        assert shown(preview, "title").startswith("difference · ")
        assert shown(preview, "caption") == "1200 px changed (0.15 %); none outside the mask"  # the 40×30 box
        Image.new("L", (1024, 768), 0).save(in_tmp / "small-mask.png")  # the mask the run recorded, now empty
        await pilot.press("d", "d")  # off and on again: computed anew
        await settle(app, pilot)
        assert shown(preview, "caption") == "1200 px changed (0.15 %); ⚠ 1200 px (0.15 %) changed OUTSIDE the mask"


async def test_a_context_cropped_result_changed_nothing_outside_the_mask(harness: Callable[..., Harness],
                                                                         in_tmp: Path) -> None:
    h = harness(ui_state=_inputs(in_tmp))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await _run(h, pilot, switch_on=True)
        await settle(app, pilot)
        preview = main(app).query_one(Preview)
        await pilot.press("f4", "d")
        await settle(app, pilot)
        caption = shown(preview, "caption")
        assert caption.endswith("; none outside the mask") and not caption.startswith("0 px")


async def test_compare_keys_need_a_result(harness: Callable[..., Harness], in_tmp: Path) -> None:
    h = harness(ui_state=_inputs(in_tmp))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        preview = main(app).query_one(Preview)
        assert preview.items and preview.items[0].before is None  # the inputs, not a result
        await pilot.press("f4", "d")
        assert preview.compare == "after" and "difference" not in shown(preview, "title")
        assert main(app).query_one(ContextCrop).query_one(Switch).value is False
