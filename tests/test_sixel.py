"""The sixel encoder: palette complete before any pixel, every register used is defined, pixels exact."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from scenario_tui.core import sixel


def colourful(size: tuple[int, int] = (97, 61)) -> Image.Image:
    """Gradients (many colours, so the quantiser and dithering run) with flat shapes on top."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    blue = Image.radial_gradient("L").resize(size)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 5, height // 5, width // 2, height // 2), fill=(250, 30, 40))
    draw.rectangle((width // 2, height // 2, width - 5, height - 3), fill=(20, 200, 60))
    return image


def decode(stream: str) -> tuple[Image.Image, list[int]]:
    """A minimal sixel decoder: the image (RGB) and the order in which registers were first selected."""
    assert stream.startswith("\x1bP") and stream.endswith("\x1b\\")
    body = stream[stream.index("q") + 1: -2]
    raster = re.match(r'"1;1;(\d+);(\d+)', body)
    assert raster, "raster attributes come first"
    width, height = int(raster.group(1)), int(raster.group(2))
    image = Image.new("RGB", (width, height), (1, 2, 3))
    pixels = image.load()
    assert pixels is not None
    colours: dict[int, tuple[int, int, int]] = {}
    selected: list[int] = []
    x = y = 0
    current = -1
    position = raster.end()
    token = re.compile(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?|!(\d+)([?-~])|([?-~])|(\$)|(-)")
    while position < len(body):
        match = token.match(body, position)
        assert match, f"unexpected data at {position}: {body[position:position + 10]!r}"
        position = match.end()
        number, r, g, b, count, run_char, char, cr, nl = match.groups()
        if number is not None:
            if r is not None:
                colours[int(number)] = tuple(round(int(v) * 255 / 100) for v in (r, g, b))  # type: ignore[assignment]
            else:
                current = int(number)
                if current not in selected:
                    selected.append(current)
        elif char is not None or run_char is not None:
            repeat = int(count) if count else 1
            bits = ord(char or run_char) - 0x3F
            assert current in colours, f"register {current} drawn with before it was defined"
            for _ in range(repeat):
                for row in range(6):
                    if bits & (1 << row) and y + row < height and x < width:
                        pixels[x, y + row] = colours[current]
                x += 1
        elif cr:
            x = 0
        elif nl:
            x, y = 0, y + 6
    return image, selected


def test_palette_comes_before_any_pixel_and_defines_every_register_used() -> None:
    stream = sixel.encode(colourful(), registers=256)
    palette, pixels = sixel.palette_and_pixels(stream)
    defined = sixel.registers_defined(palette)
    assert defined, "the palette is in the header"
    assert not sixel.registers_defined(pixels), "no register is (re)defined once pixel data has started"
    used = sixel.registers_selected(pixels)
    assert used and used <= set(defined), f"used but never defined: {sorted(used - set(defined))}"
    assert set(defined) - {0} == used - {0}, "no register but the background's is defined without being used"
    assert sorted(defined) == list(range(len(defined))), "registers are numbered densely from 0"


def test_register_0_is_the_background_and_the_image_keeps_to_the_others() -> None:
    """konsole fills the unset pixels of a partial last band with register 0, whatever P2 says."""
    stream = sixel.encode(colourful((40, 16)), registers=16, background=(18, 18, 18))
    palette, pixels = sixel.palette_and_pixels(stream)
    assert palette.split("#")[1] == "0;2;7;7;7"
    assert len(sixel.registers_defined(palette)) <= 16
    decoded, _ = decode(stream)
    assert decoded.size == (40, 16)  # 16 rows: the third band is partial


@pytest.mark.parametrize("registers", [2, 16, 64, 256, 1024])
def test_colour_count_keeps_to_the_registers_the_terminal_has(registers: int) -> None:
    stream = sixel.encode(colourful(), registers=registers)
    assert 1 < len(sixel.registers_defined(stream)) <= min(registers, sixel.MAX_REGISTERS)


def test_pixels_decode_to_exactly_the_quantised_image() -> None:
    source = colourful()
    quantised = sixel.quantize(sixel.flatten(source), 64)
    decoded, _ = decode(sixel.encode_paletted(quantised))
    expected = quantised.convert("RGB")
    palette_rounding = 2  # percent steps: 255/100 per channel at most
    assert decoded.size == source.size
    extrema = ImageChops.difference(decoded, expected).getextrema()
    assert max(high for _, high in extrema) <= palette_rounding  # type: ignore[union-attr]


def test_decoded_image_is_close_to_the_source() -> None:
    source = colourful((120, 80))
    decoded, _ = decode(sixel.encode(source, 256))
    assert max(ImageStat.Stat(ImageChops.difference(decoded, source)).mean) < 6


def test_dithering_is_used_when_colours_must_be_reduced() -> None:
    gradient = Image.linear_gradient("L").resize((64, 64)).convert("RGB")  # 64 greys (rows), into 4 registers
    quantised = sixel.quantize(gradient, 4)
    rows_with_mixed_colours = sum(
        1 for y in range(64) if len({quantised.getpixel((x, y)) for x in range(64)}) > 1
    )
    assert rows_with_mixed_colours > 16, "Floyd-Steinberg spreads the error along a row of equal greys"


def test_few_colours_are_kept_exactly_without_dithering() -> None:
    image = Image.new("RGB", (30, 13), (255, 0, 0))
    ImageDraw.Draw(image).rectangle((10, 3, 20, 9), fill=(0, 0, 255))
    stream = sixel.encode(image, 16)
    assert set(sixel.registers_defined(stream).values()) == {(0, 0, 0), (100, 0, 0), (0, 0, 100)}
    assert sixel.registers_defined(stream)[0] == (0, 0, 0), "register 0: the background"
    decoded, _ = decode(stream)
    assert decoded.tobytes() == image.tobytes()


def test_transparency_is_composited_over_the_background() -> None:
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    stream = sixel.encode(image, 16, background=(0, 255, 0))
    assert set(sixel.registers_defined(stream).values()) == {(0, 100, 0)}
    decoded, _ = decode(stream)
    assert [colour for _, colour in decoded.getcolors() or []] == [(0, 255, 0)]


def test_stream_is_plain_ascii_with_one_terminator() -> None:
    stream = sixel.encode(colourful(), 256)
    assert stream.startswith(sixel.START)
    assert stream.count("\x1b") == 2 and stream.endswith(sixel.END)
    assert all(32 <= ord(c) < 127 for c in stream[len(sixel.START):-2])


def test_textual_image_012_defines_registers_mid_stream() -> None:
    """The bug this encoder exists for; if textual-image fixes it, its encoder may be used again."""
    from textual_image._sixel import image_to_sixels

    _, pixels = sixel.palette_and_pixels(image_to_sixels(colourful()))
    assert sixel.registers_defined(pixels), "textual-image now defines its palette first: reconsider this module"


def test_non_paletted_image_is_refused() -> None:
    with pytest.raises(ValueError):
        sixel.encode_paletted(Image.new("RGB", (2, 2)))
