"""A small sixel encoder whose colour palette is complete before the first pixel.

textual-image 0.12 defines each colour register the first time it is used, partway through the
image; xterm (``-ti vt340``) and foot then paint wrong-coloured bands. Here every register the
image uses is defined right after the raster attributes, then the bands follow and only *select*
registers (``#n``). Colours come from Pillow's quantiser with Floyd-Steinberg dithering, limited
to the number of registers the terminal says it has (XTSMGRAPHICS), 256 when it doesn't say.

Register 0 holds the background colour (VT340 convention): a terminal that fills the unset
pixels of a partial last band with it (konsole does, whatever P2 says) then shows no stray line.

Pure Pillow, no Textual: usable from the doctor command and from tests.
"""

from __future__ import annotations

import re
from functools import cache

from PIL import Image

DEFAULT_REGISTERS = 256
MAX_REGISTERS = 256  # one palette index per pixel (mode "P"); terminals with more are still served by 256
_BAND = 6
_OFFSET = 0x3F  # a sixel's six bits are sent as chr(0x3F + bits)
_LONG_RUN = re.compile(rb"(.)\1{3,}")  # four or more equal sixels are shorter as "!count" + sixel
START = "\x1bP0;1;0q"  # P2=1: pixels the image doesn't set keep what is on screen (no background box)
END = "\x1b\\"


def flatten(image: Image.Image, background: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """``image`` as RGB, with any transparency composited over ``background``."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return image.convert("RGB")


def quantize(image: Image.Image, registers: int = DEFAULT_REGISTERS) -> Image.Image:
    """A paletted copy of the RGB ``image`` with at most ``registers`` colours.

    An image with few enough colours keeps them exactly; otherwise Pillow's median-cut palette is
    applied with Floyd-Steinberg dithering (a plain ``quantize`` does not dither).
    """
    count = max(1, min(MAX_REGISTERS, registers))
    exact = image.getcolors(count)
    if exact is not None:
        palette = [channel for _, rgb in exact for channel in rgb]  # type: ignore[union-attr]
        dither = Image.Dither.NONE
    else:
        palette = (image.quantize(colors=count, method=Image.Quantize.MEDIANCUT).getpalette() or [])[: 3 * count]
        dither = Image.Dither.FLOYDSTEINBERG
    holder = Image.new("P", (1, 1))
    holder.putpalette(palette)
    return image.quantize(palette=holder, dither=dither)


@cache
def _bit_tables(color: int) -> tuple[bytes, ...]:
    """For each of a band's six rows: a ``bytes.translate`` table sending ``color`` to that row's bit."""
    tables = []
    for row in range(_BAND):
        table = bytearray(256)
        table[color] = 1 << row
        tables.append(bytes(table))
    return tuple(tables)


def _run(match: re.Match[bytes]) -> bytes:
    return b"!%d%s" % (match.end() - match.start(), match.group(1))


def _percent(value: int) -> int:
    return (value * 100 + 127) // 255


def encode_paletted(image: Image.Image, background: tuple[int, int, int] | None = None) -> str:
    """The sixel stream for a mode "P" image: header, every used register, then the bands.

    With ``background``, register 0 is that colour and the image's colours start at register 1.
    """
    if image.mode != "P":
        raise ValueError(f"encode_paletted needs a paletted image, not mode {image.mode}")
    width, height = image.size
    data = image.tobytes()
    palette = image.getpalette() or []
    used = sorted(set(data))
    register = bytearray(256)  # palette index -> dense register number, in order of first definition
    definitions = []
    first = 0
    if background is not None:
        definitions.append("#0;2;%d;%d;%d" % tuple(_percent(v) for v in background))
        first = 1
        if len(used) > 255:
            raise ValueError("a background register leaves room for 255 image colours")
    for number, index in enumerate(used, start=first):
        register[index] = number
        rgb = (palette[3 * index: 3 * index + 3] + [0, 0, 0])[:3]
        definitions.append("#%d;2;%d;%d;%d" % (number, *(_percent(v) for v in rgb)))
    data = data.translate(bytes(register))
    offset = int.from_bytes(bytes([_OFFSET]) * width, "big")
    out = bytearray()
    for top in range(0, height, _BAND):
        rows = [data[y * width: (y + 1) * width] for y in range(top, min(top + _BAND, height))]
        for color in sorted(set(b"".join(rows))):
            tables = _bit_tables(color)
            bits = 0
            for row, pixels in enumerate(rows):
                bits |= int.from_bytes(pixels.translate(tables[row]), "big")
            # each byte holds at most 63, so adding 0x3F to every byte at once never carries
            line = (bits + offset).to_bytes(width, "big").rstrip(b"?")
            out += b"#%d" % color + _LONG_RUN.sub(_run, line) + b"$"
        out += b"-"
    header = START + '"1;1;%d;%d' % (width, height) + "".join(definitions)
    return header + out.decode("ascii") + END


def encode(
    image: Image.Image, registers: int = DEFAULT_REGISTERS, background: tuple[int, int, int] = (0, 0, 0)
) -> str:
    """``image`` as a sixel stream for a terminal with ``registers`` colour registers (one is the background)."""
    return encode_paletted(quantize(flatten(image, background), min(registers, MAX_REGISTERS) - 1), background)


# --- reading a stream back (tests, doctor) ---------------------------------------------------

_DEFINE = re.compile(r"#(\d+);(\d+);(\d+);(\d+);(\d+)")
_SELECT = re.compile(r"#(\d+)(?![\d;])")


def palette_and_pixels(stream: str) -> tuple[str, str]:
    """Split a stream at its first sixel data character: (everything before, the rest)."""
    body = stream[stream.index("q") + 1:]
    for position, char in enumerate(body):
        if "?" <= char <= "~":  # header, raster attributes and register commands use only "#;!$-\"" and digits
            return body[:position], body[position:]
    return body, ""


def registers_defined(stream: str) -> dict[int, tuple[int, int, int]]:
    """Register number -> (r, g, b) in percent, for every ``#n;2;r;g;b`` in ``stream``."""
    return {int(n): (int(r), int(g), int(b)) for n, _, r, g, b in _DEFINE.findall(stream)}


def registers_selected(stream: str) -> set[int]:
    """Every register number a bare ``#n`` selects in ``stream``."""
    return {int(n) for n in _SELECT.findall(stream)}
