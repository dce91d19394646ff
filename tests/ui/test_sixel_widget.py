"""The sixel widget sends our palette-first stream; the preview repaints after modals and follows the cell size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from textual.app import App, ComposeResult
from textual.screen import ModalScreen

from scenario_tui.core import sixel as encoder
from scenario_tui.ui import images, sixel
from scenario_tui.ui.widgets.preview import Preview, PreviewItem
from tests.conftest import make_image
from tests.test_sixel import colourful
from tests.ui.test_preview import PreviewApp, settle


class SixelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield sixel.SixelImage(colourful((200, 120)), id="image")


@pytest.fixture
def registers() -> Iterator[None]:
    yield
    sixel.set_registers(None)


def streams(app: App[None]) -> list[str]:
    impl = app.query_one("#image").children[0]
    lines = impl.render_lines(impl.region.reset_offset)
    return [seg.text for line in lines for seg in line if seg.text.startswith("\x1bP")]


async def test_widget_sends_a_palette_first_stream(registers: None) -> None:
    sixel.set_registers(16)
    app = SixelApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        [stream] = streams(app)
        palette, pixels = encoder.palette_and_pixels(stream)
        assert not encoder.registers_defined(pixels)
        assert encoder.registers_selected(pixels) <= set(encoder.registers_defined(palette))
        assert len(encoder.registers_defined(palette)) <= 16


def test_registers_default_to_256_when_the_terminal_does_not_say(registers: None) -> None:
    sixel.set_registers(None)
    assert sixel.registers() == 256
    sixel.set_registers(1024)
    assert sixel.registers() == 1024


def test_protocol_names() -> None:
    from textual_image.widget import HalfcellImage, TGPImage

    assert images.protocol_name(sixel.SixelImage) == "sixel"
    assert images.protocol_name(TGPImage) == "kitty"
    assert images.is_graphics(sixel.SixelImage) and images.is_graphics(TGPImage)
    assert not images.is_graphics(HalfcellImage) and not images.is_graphics(None)
    assert isinstance(colourful(), Image.Image)


@pytest.fixture
def restore_cell_size() -> Iterator[None]:
    before = images.cell_size()
    yield
    images.set_cell_size(before)


async def test_preview_repaints_its_image_when_a_modal_over_it_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PreviewApp(image_cls=sixel.SixelImage)
    async with app.run_test(size=(80, 30)) as pilot:
        preview = app.query_one(Preview)
        preview.show([PreviewItem("a", make_image(tmp_path / "a.png"))])
        await settle(app, pilot)
        repaints: list[bool] = []
        monkeypatch.setattr(preview, "repaint_image", lambda: repaints.append(True))
        preview._watch_screen()
        await app.push_screen(ModalScreen[None]())
        await pilot.pause()
        preview._watch_screen()
        assert repaints == []
        app.pop_screen()
        await pilot.pause()
        preview._watch_screen()
        preview._watch_screen()
        assert repaints == [True], "once, when the screen came back"


async def test_preview_follows_a_new_cell_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_cell_size: None) -> None:
    app = PreviewApp(image_cls=sixel.SixelImage)
    async with app.run_test(size=(80, 30)) as pilot:
        preview = app.query_one(Preview)
        preview.show([PreviewItem("a", make_image(tmp_path / "a.png", (1600, 1200)))])
        await settle(app, pilot)
        before = preview.max_pixels
        width, height = images.cell_size()
        monkeypatch.setenv("TEXTUAL_CELL_WIDTH", str(width * 2))
        monkeypatch.setenv("TEXTUAL_CELL_HEIGHT", str(height * 2))
        preview._watch_screen()  # what the timer does: a font-size change needn't change the size in cells
        await settle(app, pilot)
        assert preview.max_pixels == (before[0] * 2, before[1] * 2)
        shown = app.query_one("#preview-image").image  # type: ignore[attr-defined]
        assert shown.width > before[0] or shown.height > before[1], "re-scaled for the bigger cells"
        assert not images.remeasure_cell_size(), "measured once, no change since"


def test_thumbnails_are_half_cell_where_previews_draw_pixels() -> None:
    from textual_image.widget import HalfcellImage, TGPImage, UnicodeImage

    def protocol(cls: Any) -> str:  # half-cell and unicode come back as their in-colour subclasses
        return images.protocol_name(cls) if cls is not None else "none"

    for shown in (sixel.SixelImage, TGPImage):
        assert issubclass(images.thumbnail_class(shown), HalfcellImage)  # type: ignore[arg-type]
        assert protocol(images.thumbnail_class(shown)) == "half-cell"
    assert issubclass(images.thumbnail_class(UnicodeImage), UnicodeImage)  # type: ignore[arg-type]
    assert protocol(images.thumbnail_class(UnicodeImage)) == "unicode"
    assert images.thumbnail_class(None) is None


async def test_cells_under_the_image_are_painted_in_the_widget_background_before_the_stream() -> None:
    """Else Textual pads them in the terminal's default background, a strip wherever the image doesn't reach."""
    app = SixelApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        impl = app.query_one("#image").children[0]
        crop = impl.region.reset_offset
        lines = impl.render_lines(crop)
        assert len(lines) == crop.height > 1
        r, g, b, _ = impl._get_background_rgba()
        for number, line in enumerate(lines):
            first = next(iter(line))
            assert first.text == " " * crop.width, number
            assert first.style is not None and first.style.bgcolor is not None
            assert first.style.bgcolor.get_truecolor() == (r, g, b), number
            assert line.cell_length == crop.width
        texts = [segment.text for segment in lines[-1]]
        assert texts[0] == " " * crop.width and any(text.startswith("\x1bP") for text in texts[1:])


async def test_repainting_the_image_repaints_the_caption_below_it(tmp_path: Path) -> None:
    """konsole clears a cell row below a sixel image; the caption drawn after it in the same frame survives."""
    app = PreviewApp(image_cls=sixel.SixelImage)
    async with app.run_test(size=(80, 30)) as pilot:
        preview = app.query_one(Preview)
        preview.show([PreviewItem("a", make_image(tmp_path / "a.png"))])
        await settle(app, pilot)
        caption = preview.query_one("#preview-caption")
        refreshed: list[object] = []
        original = caption.refresh

        def spy(*args: object, **kwargs: object) -> object:
            refreshed.append(True)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        caption.refresh = spy  # type: ignore[method-assign]
        preview.repaint_image()
        assert refreshed, "the caption is repainted with the image"


async def test_after_the_stream_the_cursor_is_back_on_the_image_last_row() -> None:
    """Textual writes the rest of that row next; one row lower, the cells right of the image were never repainted."""
    app = SixelApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        impl = app.query_one("#image").children[0]
        region = impl.region
        last = list(impl.render_lines(region.reset_offset)[-1])
        assert last[-1].text == f"\x1b[{region.bottom};{region.right + 1}H"  # 1-based row of region.bottom - 1
        stream = next(i for i, segment in enumerate(last) if segment.text.startswith("\x1bP"))
        assert last[stream - 1].text == f"\x1b[{region.y + 1};{region.x + 1}H"
