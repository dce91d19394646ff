"""The sixel widget the previews use sends our palette-first stream, sized to the registers reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image
from textual.app import App, ComposeResult

from scenario_tui.core import sixel as encoder
from scenario_tui.ui import images, sixel
from tests.test_sixel import colourful


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
