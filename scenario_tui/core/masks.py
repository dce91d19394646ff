"""Masks made and shaped without a brush: shapes, grid cells, grow, shrink, feather, invert, fill holes.

A mask is a mode "L" image, 255 = repaint, 0 = keep (grey only after ``feather``). Every operation
returns a new image and runs in Pillow's C code (no per-pixel Python; fill holes loops over runs of
pixels), so each stays under 60 ms on 2048×2048 (``bench/masks.py``). Also here: how a mask file's convention is read
(:class:`Polarity`), coverage and bounding box, and the context crop (crop to the mask's box, paste
the result back through a feathered mask so pixels outside it stay bit-exact).
"""

from __future__ import annotations

import bisect
import math
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal, cast

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

THRESHOLD = 128
"""Grey values from here up count as "repaint"."""

PASTE_FEATHER = 8
"""Pixels over which a context-cropped result fades into the original, inside the mask's edge."""

MAX_SIDE = 16384
"""Largest side of a mask made from nothing."""

_BINARY = [0] * THRESHOLD + [255] * (256 - THRESHOLD)
_INVERTED = [255] * THRESHOLD + [0] * (256 - THRESHOLD)
_ANY = [0] + [255] * 255
_NONE = [255] + [0] * 255
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_GAPS = re.compile(rb"\x00+")
_MAX_BOX_BLUR = 250  # one box pass of radius r still counts a single white pixel (255/(2r+1) rounds to >= 1)
_LENGTH = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(%?)\s*")


class MaskError(ValueError):
    """An operation or value can't be used; ``str(e)`` is one line for the user."""


class Polarity(StrEnum):
    """How a mask file marks the area to repaint, as read from the file (never silently changed)."""

    WHITE_ON_BLACK = "white-on-black"  # white = repaint: the API's convention
    BLACK_ON_WHITE = "black-on-white"  # mostly white, white border: maybe black marks the area
    ALPHA = "alpha"  # transparent = repaint
    ALPHA_STROKES = "alpha-strokes"  # light strokes on a transparent layer: painted = repaint


POLARITY_NOTES = {
    Polarity.ALPHA: "used the alpha channel: transparent = repaint",
    Polarity.ALPHA_STROKES: "white strokes on a transparent layer: painted = repaint",
}


@dataclass(frozen=True)
class Binarized:
    """A file's pixels read as a 0/255 mask, the convention they were read with, and what was done."""

    mask: Image.Image
    polarity: Polarity
    notes: tuple[str, ...]


# --- reading a mask's convention ----------------------------------------------------------------


def with_alpha(im: Image.Image) -> Image.Image | None:
    """The image as RGBA if it carries alpha or a transparent colour, else None."""
    if im.mode == "RGBA":
        return im
    if im.mode in _ALPHA_MODES or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        return im.convert("RGBA")
    return None


def _extrema(im: Image.Image) -> tuple[float, float]:
    return cast(tuple[float, float], im.getextrema())  # one band: a single (min, max) pair


def _light_strokes(rgba: Image.Image, alpha: Image.Image) -> bool:
    """Whether the visible pixels are near-white: strokes painted on a transparent layer."""
    seen = ImageStat.Stat(rgba.convert("L"), mask=alpha.point(_BINARY))
    return bool(seen.count[0]) and seen.mean[0] >= 200


def _border_white(mask: Image.Image) -> float:
    """Fraction of the outermost ring of pixels that is white (of a 0/255 mask)."""
    w, h = mask.size
    if w < 3 or h < 3:
        return coverage(mask) / 100
    ring = [mask.crop(box) for box in ((0, 0, w, 1), (0, h - 1, w, h), (0, 1, 1, h - 1), (w - 1, 1, w, h - 1))]
    return sum(r.histogram()[255] for r in ring) / (2 * w + 2 * (h - 2))


def binarize(im: Image.Image) -> Binarized:
    """Threshold an 8-bit image to a 0/255 mask, preferring a non-opaque alpha channel.

    Greyscale that is mostly white with a mostly white border is reported as
    ``BLACK_ON_WHITE`` (and kept as it is: white is still what gets repainted).
    """
    rgba = with_alpha(im)
    alpha = rgba.getchannel("A") if rgba is not None else None
    if rgba is not None and alpha is not None and _extrema(alpha)[0] < 255:
        strokes = _light_strokes(rgba, alpha)
        polarity = Polarity.ALPHA_STROKES if strokes else Polarity.ALPHA
        grey, lut, notes = alpha, _BINARY if strokes else _INVERTED, [POLARITY_NOTES[polarity]]
        grey_note = "thresholded partly transparent pixels at 50 %"
    else:
        grey = im if im.mode == "L" else im.convert("L")
        polarity, lut, notes, grey_note = Polarity.WHITE_ON_BLACK, _BINARY, [], "thresholded grey values at 128"
    if any(grey.histogram()[1:255]):
        notes.append(grey_note)
    mask = grey.point(lut)
    if polarity is Polarity.WHITE_ON_BLACK and 50 < coverage(mask) < 100 and _border_white(mask) > 0.5:
        polarity = Polarity.BLACK_ON_WHITE
        notes.append(f"looks like black on white (white covers {coverage(mask):.0f} % and most of the border): "
                     "white is what gets repainted; if black marks the area, invert it "
                     "(scenario-tui mask OUT --from MASK --invert)")
    return Binarized(mask, polarity, tuple(notes))


# --- measuring ----------------------------------------------------------------------------------


def threshold(mask: Image.Image, level: int = THRESHOLD) -> Image.Image:
    """0/255 mask: grey values from ``level`` up become 255."""
    if not 1 <= level <= 255:
        raise MaskError(f"threshold must be 1 to 255, not {level}")
    grey = mask if mask.mode == "L" else mask.convert("L")
    return grey.point([0] * level + [255] * (256 - level))


def coverage(mask: Image.Image) -> float:
    """Percent of pixels to be repainted (grey values from ``THRESHOLD`` up)."""
    w, h = mask.size
    return 100.0 * sum(mask.histogram()[THRESHOLD:256]) / (w * h)


def bbox(mask: Image.Image) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the area to be repainted, or None when there is none."""
    box = mask.point(_BINARY).getbbox()
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return x0, y0, x1 - x0, y1 - y0


# --- values -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Length:
    """Pixels, or percent of the image's width (x, w) or height (y, h)."""

    value: float
    percent: bool = False

    def pixels(self, side: int) -> int:
        return round(self.value * side / 100) if self.percent else round(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}{'%' if self.percent else ''}"


def parse_length(text: str) -> Length:
    """``12`` (pixels) or ``12.5%``; not negative."""
    found = _LENGTH.fullmatch(text)
    if not found:
        raise MaskError(f"{text!r} is not a length (pixels, or a percentage such as 12.5%)")
    value, percent = float(found.group(1)), bool(found.group(2))
    if percent and value > 100:
        raise MaskError(f"{text!r}: a percentage is at most 100%")
    return Length(value, percent)


def parse_pixels(text: str) -> int:
    """A whole number of pixels, 0 or more."""
    if not text.strip().isdigit():
        raise MaskError(f"{text!r} is not a whole number of pixels")
    value = int(text)
    if value > MAX_SIDE:
        raise MaskError(f"{text!r}: at most {MAX_SIDE} pixels")
    return value


@dataclass(frozen=True)
class Box:
    """A shape's bounding box: x, y, width, height, each in pixels or percent."""

    x: Length
    y: Length
    w: Length
    h: Length

    def resolve(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in pixels, x1 and y1 exclusive, possibly beyond the image."""
        width, height = size
        x0, y0 = self.x.pixels(width), self.y.pixels(height)
        return x0, y0, x0 + self.w.pixels(width), y0 + self.h.pixels(height)

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"


def parse_box(text: str) -> Box:
    """``X,Y,W,H``: four lengths, the width and height above 0."""
    parts = text.split(",")
    if len(parts) != 4:
        raise MaskError(f"{text!r}: expected X,Y,W,H (pixels, or percentages such as 10%)")
    try:
        x, y, w, h = (parse_length(p) for p in parts)
    except MaskError as exc:
        raise MaskError(f"{text!r}: {exc}") from None
    if w.value == 0 or h.value == 0:
        raise MaskError(f"{text!r}: the width and height must be above 0")
    return Box(x, y, w, h)


def parse_size(text: str, max_pixels: int | None = None) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels, each 1 to ``MAX_SIDE``, and at most ``max_pixels`` in all."""
    found = re.fullmatch(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*", text)
    if not found:
        raise MaskError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 1024x768")
    w, h = int(found.group(1)), int(found.group(2))
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise MaskError(f"{text!r}: each side must be 1 to {MAX_SIDE}")
    if max_pixels is not None and w * h > max_pixels:
        raise MaskError(f"{text!r}: more than {max_pixels // 1_000_000} million pixels")
    return w, h


def parse_grid(text: str) -> tuple[int, int]:
    """``COLUMNSxROWS``, each 1 to 256."""
    found = re.fullmatch(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*", text)
    if not found or not (1 <= int(found.group(1)) <= 256 and 1 <= int(found.group(2)) <= 256):
        raise MaskError(f"{text!r}: expected COLUMNSxROWS, each 1 to 256, e.g. 8x8")
    return int(found.group(1)), int(found.group(2))


def parse_cells(text: str) -> tuple[int, ...]:
    """Cell numbers from 0, row by row: ``3,4,5,12``."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() for p in parts):
        raise MaskError(f"{text!r}: expected cell numbers from 0, e.g. 3,4,5,12")
    return tuple(int(p) for p in parts)


# --- drawing ------------------------------------------------------------------------------------


def blank(size: tuple[int, int]) -> Image.Image:
    """An empty mask: nothing to repaint."""
    return Image.new("L", size, 0)


def shape(mask: Image.Image, kind: Literal["rect", "ellipse"], box: Box, add: bool = True) -> Image.Image:
    """Add (or subtract) a rectangle or the ellipse inscribed in ``box``; parts outside the image are clipped."""
    x0, y0, x1, y1 = box.resolve(mask.size)
    width, height = mask.size
    if x1 <= x0 or y1 <= y0:
        raise MaskError(f"less than a pixel wide or high on a {width}×{height} image")
    if x0 >= width or y0 >= height:
        raise MaskError(f"outside the {width}×{height} image")
    out = mask.copy()
    draw = ImageDraw.Draw(out)
    corners = (x0, y0, x1 - 1, y1 - 1)  # ImageDraw's boxes include their last pixel
    fill = 255 if add else 0
    if kind == "rect":
        draw.rectangle(corners, fill=fill)
    else:
        draw.ellipse(corners, fill=fill)
    return out


def cell_box(size: tuple[int, int], grid: tuple[int, int], cell: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a grid cell numbered from 0, row by row; cells tile the image exactly."""
    (width, height), (cols, rows) = size, grid
    if not 0 <= cell < cols * rows:
        raise MaskError(f"cell {cell}: a {cols}x{rows} grid has cells 0 to {cols * rows - 1}")
    row, col = divmod(cell, cols)
    return col * width // cols, row * height // rows, (col + 1) * width // cols, (row + 1) * height // rows


def cells(mask: Image.Image, grid: tuple[int, int], numbers: Iterable[int], add: bool = True) -> Image.Image:
    """Add (or subtract) whole cells of a COLUMNS x ROWS grid laid over the image."""
    out = mask.copy()
    draw = ImageDraw.Draw(out)
    for n in numbers:
        x0, y0, x1, y1 = cell_box(mask.size, grid, n)
        if x1 > x0 and y1 > y0:
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=255 if add else 0)
    return out


# --- shaping ------------------------------------------------------------------------------------


def invert(mask: Image.Image) -> Image.Image:
    """Repaint what was kept and keep what was repainted."""
    return ImageChops.invert(mask)


def _dilate(binary: Image.Image, px: int, last: list[int]) -> Image.Image:
    """Grow white by ``px`` (a square reach); ``last`` is the table for the final threshold.

    A box blur counts white neighbours and any count is white. Separable: rows, then columns on the
    transposed image (Pillow's vertical box blur is ~3× slower than its horizontal one).
    """
    t = Image.Transpose.TRANSPOSE
    for axis in range(2):
        left = px
        while left > 0:
            step = min(left, _MAX_BOX_BLUR)
            left -= step
            binary = binary.filter(ImageFilter.BoxBlur((step, 0))).point(last if axis and not left else _ANY)
        binary = binary.transpose(t)
    return binary


def _around_white(mask: Image.Image, margin: int, op: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """``op`` on the box of the non-black pixels plus ``margin`` only (black elsewhere): what lies beyond
    the box is black, as a blur's clamped edge assumes, or the image's own border, clamped the same way."""
    box = mask.getbbox()
    if box is None:
        return mask.copy()
    width, height = mask.size
    x0, y0, x1, y1 = box
    box = (max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin))
    if box == (0, 0, width, height):
        return op(mask)
    out = Image.new("L", mask.size, 0)
    out.paste(op(mask.crop(box)), box[:2])
    return out


def grow(mask: Image.Image, px: int) -> Image.Image:
    """Grow the area by exactly ``px`` pixels on every side (corners stay square).

    The image's own border is not an edge: the area does not grow off it.
    """
    if px < 0:
        raise MaskError(f"grow by {px}: must be 0 or more pixels")
    if px == 0:
        return mask.copy()
    px = min(px, max(mask.size))  # any more reaches no further
    return _around_white(mask.point(_BINARY), px, lambda part: _dilate(part, px, _ANY))


def shrink(mask: Image.Image, px: int) -> Image.Image:
    """Shrink the area by exactly ``px`` pixels on every side; where it meets the image's border it stays."""
    if px < 0:
        raise MaskError(f"shrink by {px}: must be 0 or more pixels")
    if px == 0:
        return mask.copy()
    px = min(px, max(mask.size))
    return _around_white(mask.point(_BINARY), 1, lambda part: _dilate(ImageChops.invert(part), px, _NONE))


def feather(mask: Image.Image, px: float) -> Image.Image:
    """Soften the edge: a Gaussian blur of standard deviation ``px / 2`` (the ramp is about ``2 px`` wide).

    Only the box around the area is blurred; a big one on a reduced copy, scaled back (bilinear): a
    soft ramp loses nothing by it, and the cost stays flat whatever ``px`` is.
    """
    if px < 0:
        raise MaskError(f"feather by {px}: must be 0 or more pixels")
    if px == 0:
        return mask.copy()
    sigma = px / 2

    def blur(part: Image.Image) -> Image.Image:
        factor = max(1, min(max(2, int(sigma // 2)), min(part.size) // 256))
        small = part.reduce(factor) if factor > 1 else part
        blurred = small.filter(ImageFilter.GaussianBlur(sigma / factor))
        return blurred.resize(part.size, Image.Resampling.BILINEAR) if factor > 1 else blurred

    return _around_white(mask, math.ceil(3 * sigma) + 2, blur)  # beyond 3 sigma the blur rounds to 0


def fill_holes(mask: Image.Image) -> Image.Image:
    """Make white every black region that does not reach the image's border (4-connected).

    A flood fill from the border over runs of black pixels, not pixels: one regular expression (in C)
    finds the runs of a copy whose rows end in a white separator, so runs never cross rows and a
    run's neighbours one row up or down are found by bisection on their positions ± the row stride.
    What the border's runs don't reach is a hole. Soft edges are kept.
    """
    width, height = mask.size
    stride = width + 1
    padded = Image.new("L", (stride, height), 255)
    padded.paste(mask.point(_BINARY), (0, 0))
    runs = [m.span() for m in _GAPS.finditer(padded.tobytes())]
    starts, ends = [a for a, _ in runs], [b for _, b in runs]
    last_row = (height - 1) * stride
    todo = [k for k, (a, b) in enumerate(runs) if a < stride or a >= last_row or a % stride == 0 or b % stride == width]
    reached = bytearray(len(runs))
    while todo:
        k = todo.pop()
        if reached[k]:
            continue
        reached[k] = 1
        a, b = runs[k]
        for shift in (-stride, stride):
            j = bisect.bisect_right(ends, a + shift)
            while j < len(runs) and starts[j] < b + shift:
                if not reached[j]:
                    todo.append(j)
                j += 1
    out = mask.copy()
    draw = ImageDraw.Draw(out)
    for k, (a, b) in enumerate(runs):
        if not reached[k]:
            y, x = divmod(a, stride)
            draw.line((x, y, x + b - a - 1, y), fill=255)
    return out


# --- a recipe of steps --------------------------------------------------------------------------

StepName = Literal["rect", "ellipse", "subtract-rect", "subtract-ellipse", "grid", "cells", "subtract-cells",
                   "grow", "shrink", "feather", "invert", "fill-holes", "threshold"]
STEPS: tuple[StepName, ...] = ("rect", "ellipse", "subtract-rect", "subtract-ellipse", "grid", "cells",
                               "subtract-cells", "grow", "shrink", "feather", "invert", "fill-holes", "threshold")


@dataclass(frozen=True)
class Step:
    """One operation with its value already parsed (see :func:`parse_step`)."""

    name: StepName
    value: Box | tuple[int, int] | tuple[int, ...] | int | None = None

    def __str__(self) -> str:
        if self.value is None:
            return f"--{self.name}"
        if self.name == "grid" and isinstance(self.value, tuple):
            return f"--grid {self.value[0]}x{self.value[1]}"
        if isinstance(self.value, tuple):
            return f"--{self.name} {','.join(map(str, self.value))}"
        return f"--{self.name} {self.value}"


def parse_step(name: StepName, text: str | None) -> Step:
    """A step from its name and the text of its value; raises MaskError on a bad value."""
    if name in ("invert", "fill-holes"):
        return Step(name)
    assert text is not None, name
    if name in ("rect", "ellipse", "subtract-rect", "subtract-ellipse"):
        return Step(name, parse_box(text))
    if name == "grid":
        return Step(name, parse_grid(text))
    if name in ("cells", "subtract-cells"):
        return Step(name, parse_cells(text))
    value = parse_pixels(text)
    if name == "threshold" and not 1 <= value <= 255:
        raise MaskError(f"{text!r}: a threshold is 1 to 255")
    return Step(name, value)


_SHAPERS: dict[str, Callable[[Image.Image, int], Image.Image]] = {
    "grow": grow, "shrink": shrink, "feather": feather, "threshold": threshold}


def apply(mask: Image.Image, steps: Sequence[Step]) -> Image.Image:
    """Run the steps in order; a MaskError names the step that failed (as its command-line option)."""
    grid: tuple[int, int] | None = None
    for step in steps:
        name, value = step.name, step.value
        try:
            if name in ("rect", "ellipse", "subtract-rect", "subtract-ellipse"):
                assert isinstance(value, Box)
                kind: Literal["rect", "ellipse"] = "rect" if name.endswith("rect") else "ellipse"
                mask = shape(mask, kind, value, add=not name.startswith("subtract"))
            elif name == "grid":
                assert isinstance(value, tuple) and len(value) == 2
                grid = value
            elif name in ("cells", "subtract-cells"):
                assert isinstance(value, tuple)
                if grid is None:
                    raise MaskError("needs a --grid COLUMNSxROWS before it")
                mask = cells(mask, grid, value, add=name == "cells")
            elif name == "invert":
                mask = invert(mask)
            elif name == "fill-holes":
                mask = fill_holes(mask)
            else:
                assert isinstance(value, int)
                mask = _SHAPERS[name](mask, value)
        except MaskError as exc:
            raise MaskError(f"{step}: {exc}") from None
    return mask


# --- files --------------------------------------------------------------------------------------


def save(mask: Image.Image, path: Path) -> None:
    """Write a PNG atomically (a temporary file in the same folder, then a rename).

    Refuses a directory; an unwritable place is a MaskError naming it.
    """
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as exc:
        raise MaskError(f"{path}: can't be written ({exc.strerror or exc})") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise MaskError(f"{path}: is a directory; give a file name such as {path / 'mask.png'}")
    folder = path.parent
    if not folder.is_dir():
        raise MaskError(f"{path}: {folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    temp = folder / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.incoming"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for any file
        with os.fdopen(fd, "wb") as fh:
            mask.save(fh, "PNG")
        os.replace(temp, path)
    except OSError as exc:
        raise MaskError(f"{path}: can't be written ({exc.strerror or exc})") from None
    finally:
        temp.unlink(missing_ok=True)


# --- context crop -------------------------------------------------------------------------------


def _span(a: int, b: int, total: int, lo: int) -> tuple[int, int]:
    """[a, b) widened to at least ``lo`` and to a multiple of 8 (where the image allows), kept inside it."""
    want = min(total, -(-max(b - a, lo) // 8) * 8)
    a = max(0, a - (want - (b - a)) // 2)
    return (a, a + want) if a + want <= total else (total - want, total)


def context_box(mask: Image.Image, padding: int, lo: int = 64) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the mask's box plus ``padding`` on each side, sides multiples of 8 of at least ``lo``
    where the image is big enough; None when the mask is empty."""
    box = mask.getbbox()
    if box is None:
        return None
    x0, y0, x1, y1 = box
    width, height = mask.size
    x0, x1 = _span(max(0, x0 - padding), min(width, x1 + padding), width, lo)
    y0, y1 = _span(max(0, y0 - padding), min(height, y1 + padding), height, lo)
    return x0, y0, x1, y1


def paste_alpha(mask: Image.Image, px: int = PASTE_FEATHER) -> Image.Image:
    """How much of a result shows at each pixel: 255 deep inside the mask, fading over ``px`` pixels
    inside its edge, exactly 0 outside it (so those pixels stay the original's, bit for bit)."""
    binary = mask.point(_BINARY)
    area = bbox(binary)
    px = min(px, min(area[2:]) // 8) if area else 0
    if px <= 0:
        return binary
    return ImageChops.darker(binary, feather(shrink(binary, px), px))


def paste_back(full: Image.Image, result: Image.Image, mask: Image.Image, box: tuple[int, int, int, int],
               px: int = PASTE_FEATHER) -> Image.Image:
    """``full`` with ``result`` (the crop's generated image, resized to the box if needed) blended in
    through :func:`paste_alpha` of the mask's crop; pixels outside the mask are ``full``'s own."""
    x0, y0, x1, y1 = box
    region = result if result.mode == "RGB" else result.convert("RGB")
    if region.size != (x1 - x0, y1 - y0):
        region = region.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    out = full.copy()
    out.paste(region, (x0, y0), paste_alpha(mask.crop(box), px))
    return out


# --- typed commands -----------------------------------------------------------------------------

_WORDS: dict[str, StepName] = {
    "rect": "rect", "ellipse": "ellipse", "-rect": "subtract-rect", "-ellipse": "subtract-ellipse",
    "grid": "grid", "cells": "cells", "-cells": "subtract-cells", "grow": "grow", "shrink": "shrink",
    "feather": "feather", "invert": "invert", "fill-holes": "fill-holes", "fill": "fill-holes",
    "threshold": "threshold", **{name: name for name in STEPS}}
COMMAND_HELP = "rect X,Y,W,H · ellipse X,Y,W,H · -rect / -ellipse to subtract (px or %) · grow N · " \
               "shrink N · feather N · invert · fill · threshold N"


def parse_command(text: str) -> Step:
    """One typed line as a step: the command-line option's name (or ``-rect`` for ``subtract-rect``) and its value.

    ``rect 10%,10%,30%,40%`` is ``--rect 10%,10%,30%,40%``; spaces after the commas are allowed.
    """
    word, _, rest = text.strip().partition(" ")
    name = _WORDS.get(word.lower().lstrip("-") if word.startswith("--") else word.lower())
    if name is None:
        raise MaskError(f"{word!r}: not a command (try {COMMAND_HELP})" if word else f"type a command: {COMMAND_HELP}")
    rest = rest.replace(" ", "")
    if name in ("invert", "fill-holes"):
        if rest:
            raise MaskError(f"{word} takes no value")
        return Step(name)
    if not rest:
        raise MaskError(f"{word} needs a value")
    return parse_step(name, rest)
