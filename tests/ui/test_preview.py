"""The preview pane: decoding off the UI thread, navigation, contact sheet, bad files, no-graphics mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static
from textual_image.widget import HalfcellImage

from scenario_tui.ui.widgets.preview import EMPTY_HINT, Preview, PreviewItem
from tests.conftest import make_image
from tests.ui.widget_app import WidgetApp

SIZE = (80, 30)


class PreviewApp(WidgetApp):
    def __init__(self, image_cls: type[Widget] | None = HalfcellImage) -> None:
        super().__init__(image_cls)

    def compose(self) -> ComposeResult:
        yield Preview()

    def on_mount(self) -> None:
        self.query_one(Preview).focus()


def text_of(app: App[None], selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def shown_image(app: App[None]) -> Image.Image | None:
    widget = app.query_one("#preview-image", HalfcellImage)
    return widget.image if widget.display else None  # type: ignore[return-value]


async def settle(app: App[None], pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def results(tmp_path: Path) -> list[Path]:
    return [
        make_image(tmp_path / "job_x_01_seed-7.png", (2048, 2048), (200, 40, 40)),
        make_image(tmp_path / "job_x_02_seed-7.png", (640, 320), (40, 200, 40)),
        make_image(tmp_path / "job_x_03_seed-7.png", (64, 48), (40, 40, 200)),
    ]


def items_for(paths: list[Path]) -> list[PreviewItem]:
    return [PreviewItem(p.name, p) for p in paths]


async def test_empty_state_shows_hint() -> None:
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert text_of(app, "#preview-text") == EMPTY_HINT
        assert shown_image(app) is None


async def test_show_decodes_and_prescales_to_the_pane(results: list[Path]) -> None:
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        preview = app.query_one(Preview)
        preview.show(items_for(results))
        await settle(app, pilot)
        image = shown_image(app)
        assert isinstance(image, Image.Image)
        max_w, max_h = preview.max_pixels
        assert image.width <= max_w and image.height <= max_h
        assert image.size != (2048, 2048)
        assert text_of(app, "#preview-title") == "1/3 · job_x_01_seed-7.png"
        assert text_of(app, "#preview-caption") == str(results[0])


async def test_keys_step_through_items_and_wrap(results: list[Path]) -> None:
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(Preview).show(items_for(results), index=1)
        await settle(app, pilot)
        assert text_of(app, "#preview-title").startswith("2/3 ·")
        titles = []
        for key in ("right", "]", "left", "[", "["):
            await pilot.press(key)
            await settle(app, pilot)
            titles.append(text_of(app, "#preview-title").split(" ·")[0])
        assert titles == ["3/3", "1/3", "3/3", "2/3", "1/3"]
        assert shown_image(app) is not None


async def test_grid_toggles_a_contact_sheet(results: list[Path]) -> None:
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        preview = app.query_one(Preview)
        preview.show(items_for(results))
        await settle(app, pilot)
        single = shown_image(app)
        await pilot.press("g")
        await settle(app, pilot)
        sheet = shown_image(app)
        assert sheet is not None and sheet is not single
        assert sheet.width <= preview.max_pixels[0] and sheet.height <= preview.max_pixels[1]
        assert text_of(app, "#preview-title") == "grid · 3 of 3"
        await pilot.press("g")
        await settle(app, pilot)
        assert text_of(app, "#preview-title").startswith("1/3 ·")


async def test_loaded_images_need_no_file() -> None:
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(Preview).show([PreviewItem("mask", image=Image.new("L", (1500, 900), 255))])
        await settle(app, pilot)
        image = shown_image(app)
        assert image is not None and image.width < 1500
        assert text_of(app, "#preview-caption") == ""


async def test_bad_file_shows_the_reason_as_plain_text(tmp_path: Path, results: list[Path]) -> None:
    broken = tmp_path / "[red]broken[x].png"
    broken.write_bytes(results[1].read_bytes()[:200])
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        preview = app.query_one(Preview)
        preview.show(items_for([broken, results[2]]))
        await settle(app, pilot)
        assert shown_image(app) is None
        assert text_of(app, "#preview-text") == "[red]broken[x].png: the image data is truncated or corrupt"
        assert text_of(app, "#preview-title") == "1/2 · [red]broken[x].png"
        await pilot.press("g")
        await settle(app, pilot)
        assert shown_image(app) is not None
        assert text_of(app, "#preview-title") == "grid · 1 of 2"
        assert "truncated or corrupt" in text_of(app, "#preview-caption")


async def test_without_graphics_lists_paths_and_sizes(results: list[Path]) -> None:
    app = PreviewApp(image_cls=None)
    async with app.run_test(size=SIZE) as pilot:
        preview = app.query_one(Preview)
        preview.show(items_for(results))
        await settle(app, pilot)
        assert not app.query("#preview-image")
        listing = text_of(app, "#preview-text").splitlines()
        assert listing[0] == f"› {results[0]} (2048×2048)"
        assert listing[2] == f"  {results[2]} (64×48)"
        await pilot.press("right")
        await settle(app, pilot)
        assert text_of(app, "#preview-text").splitlines()[1].startswith("›")
        assert not preview.check_action("grid", ())


async def test_resize_re_renders_to_the_new_size(results: list[Path]) -> None:
    app = PreviewApp()
    async with app.run_test(size=SIZE) as pilot:
        preview = app.query_one(Preview)
        preview.show(items_for(results))
        await settle(app, pilot)
        before = shown_image(app)
        await pilot.resize_terminal(40, 14)
        await settle(app, pilot)
        after = shown_image(app)
        assert before is not None and after is not None
        assert after.height < before.height
        assert after.width <= preview.max_pixels[0] and after.height <= preview.max_pixels[1]
