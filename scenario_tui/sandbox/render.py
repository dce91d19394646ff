"""Result images: the input with the mask's white area repainted by a seed-deterministic pattern.

No model runs here: the "generation" is smooth procedural blobs coloured by the references (and a
hue drawn from the prompt), blended over the original with ``strength``. Pixels outside the mask are
exactly the (resized) input's. Only whole-image Pillow operations, so 2048² renders in well under 1 s.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageOps

Rgb = tuple[int, int, int]
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
_THRESHOLD = [0] * 128 + [255] * 128
_COARSE_CELLS = 5
_FINE_CELLS = 23
_FINE_WEIGHT = 0.3
_SHADING = 0.35


@dataclass(frozen=True)
class Scene:
    """Everything the samples of one generation are painted from; images stay encoded until a sample is painted."""

    image: bytes
    mask: bytes  # white = repaint
    references: tuple[bytes, ...]
    scales: tuple[float, ...]
    size: tuple[int, int]
    strength: float
    prompt: str


def paint(scene: Scene, seed: int) -> Image.Image:
    """One sample: deterministic for (scene, seed). Decodes the scene's images and keeps none of them."""
    base = decode(scene.image, "RGB")
    if base.size != scene.size:
        base = base.resize(scene.size, Image.Resampling.LANCZOS)
    mask = decode(scene.mask, "L")
    if mask.size != scene.size:
        mask = mask.resize(scene.size, Image.Resampling.NEAREST)
    repainted = Image.blend(base, pattern(scene.size, palette(scene), seed), scene.strength)
    base.paste(repainted, None, mask.point(_THRESHOLD))  # Image.composite, without a copy of ``base``
    return base


def palette(scene: Scene) -> tuple[Rgb, Rgb, Rgb]:
    """Dark, middle and light colours: each reference's average, pulled from the prompt's hue by its scale."""
    hue = hashlib.sha256(scene.prompt.encode()).digest()[0] / 255
    prompt_color = _rgb(colorsys.hsv_to_rgb(hue, 0.55, 0.8))
    pairs = zip(scene.references, scene.scales, strict=True)
    colors = [_mix(prompt_color, average_color(decode(ref, "RGB")), scale) for ref, scale in pairs]
    if len(colors) == 1:
        return _mix(colors[0], (0, 0, 0), 0.5), colors[0], _mix(colors[0], (255, 255, 255), 0.5)
    colors.sort(key=_luma)
    middle = _rgb(tuple(sum(c[i] for c in colors) / len(colors) / 255 for i in range(3)))
    return colors[0], middle, colors[-1]


def decode(data: bytes, mode: str | None = None) -> Image.Image:
    """Encoded image bytes as a loaded image (converted to ``mode`` when given)."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert(mode) if mode else image.copy()


def average_color(image: Image.Image) -> Rgb:
    pixel = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def pattern(size: tuple[int, int], stops: Sequence[Rgb], seed: int) -> Image.Image:
    """Smooth blobs with finer detail and directional shading, coloured from dark to light ``stops``."""
    rng = random.Random(seed)
    dark, middle, light = stops
    colored = ImageOps.colorize(
        ImageOps.autocontrast(Image.blend(_noise(size, _COARSE_CELLS, rng), _noise(size, _FINE_CELLS, rng),
                                          _FINE_WEIGHT)), black=dark, white=light, mid=middle)
    light_ramp = Image.linear_gradient("L").rotate(rng.uniform(0, 360), Image.Resampling.BILINEAR, fillcolor=128)
    shade = ImageOps.autocontrast(light_ramp.crop((64, 64, 192, 192))).resize(size, Image.Resampling.BILINEAR)
    shaded = ImageChops.multiply(colored, shade.convert("RGB"))
    del shade  # each 2048² intermediate is dropped as soon as it is used: fewer alive at once
    return Image.blend(colored, shaded, _SHADING)


def swatch(colors: tuple[Rgb, Rgb], size: tuple[int, int], seed: int) -> Image.Image:
    """A thumbnail: the pattern between two colours."""
    return pattern(size, (colors[0], _mix(*colors, 0.5), colors[1]), seed)


def png_bytes(image: Image.Image) -> bytes:
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def _noise(size: tuple[int, int], cells: int, rng: random.Random) -> Image.Image:
    """Random grey values on a coarse grid, smoothly interpolated up to ``size``."""
    width, height = size
    grid = (cells, max(2, round(cells * height / width)))
    small = Image.frombytes("L", grid, rng.randbytes(grid[0] * grid[1]))
    return small.resize(size, Image.Resampling.BICUBIC)


def _mix(a: Rgb, b: Rgb, t: float) -> Rgb:
    return _rgb(tuple((x + (y - x) * t) / 255 for x, y in zip(a, b, strict=True)))


def _rgb(unit: tuple[float, ...]) -> Rgb:
    r, g, b = (max(0, min(255, round(v * 255))) for v in unit)
    return r, g, b


def _luma(c: Rgb) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
