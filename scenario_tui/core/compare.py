"""Before and after: which pixels a result changed, and whether any changed outside the mask.

Pure Pillow (no per-pixel Python), used by the preview's compare views.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops

from scenario_tui.core.masks import THRESHOLD

TOLERANCE = 0
"""Largest per-channel difference still counted as unchanged (0: any change counts)."""

CHANGED_INSIDE = (255, 0, 96)
CHANGED_OUTSIDE = (255, 220, 0)


@dataclass(frozen=True)
class Difference:
    """How ``after`` differs from ``before``, pixel by pixel, at ``after``'s size."""

    changed: Image.Image  # "L", 255 where a pixel changed
    outside: Image.Image | None  # "L", 255 where a pixel changed that the mask says to keep (None: no mask)
    changed_count: int
    outside_count: int
    total: int

    @property
    def has_mask(self) -> bool:
        return self.outside is not None

    @property
    def changed_percent(self) -> float:
        return 100.0 * self.changed_count / self.total

    @property
    def outside_percent(self) -> float:
        return 100.0 * self.outside_count / self.total

    def summary(self) -> str:
        """One line: what changed and, flagged, what changed outside the mask."""
        text = f"{self.changed_count} px changed ({self.changed_percent:.2f} %)"
        if not self.has_mask:
            return text + "; no mask to check against"
        if self.outside_count:
            return text + f"; ⚠ {self.outside_count} px ({self.outside_percent:.2f} %) changed OUTSIDE the mask"
        return text + "; none outside the mask"


def _rgb(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    return rgb if rgb.size == size else rgb.resize(size, Image.Resampling.LANCZOS)


def _count(binary: Image.Image) -> int:
    return binary.histogram()[255]


def _keep(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """255 where ``mask`` (resized to ``size``) says keep."""
    grey = mask if mask.mode == "L" else mask.convert("L")
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.NEAREST)
    return grey.point([255] * THRESHOLD + [0] * (256 - THRESHOLD))


def difference(before: Image.Image, after: Image.Image, mask: Image.Image | None = None,
               tolerance: int = TOLERANCE) -> Difference:
    """Pixels of ``after`` that differ from ``before`` (resized to ``after`` when the sizes differ) by more
    than ``tolerance`` in any channel, and how many of them lie where ``mask`` (resized alike) says keep."""
    size = after.size
    delta = ImageChops.difference(_rgb(before, size), _rgb(after, size))
    largest = ImageChops.lighter(ImageChops.lighter(*delta.split()[:2]), delta.getchannel(2))
    changed = largest.point([0] * (tolerance + 1) + [255] * (255 - tolerance))
    outside = ImageChops.multiply(changed, _keep(mask, size)) if mask is not None else None
    return Difference(changed, outside, _count(changed), _count(outside) if outside else 0, size[0] * size[1])


def highlight(after: Image.Image, diff: Difference) -> Image.Image:
    """``after`` dimmed to grey, changed pixels bright: magenta (inside the mask), yellow outside it."""
    size = diff.changed.size
    base = _rgb(after, size).convert("L").point([v // 3 for v in range(256)]).convert("RGB")
    out = Image.composite(Image.new("RGB", size, CHANGED_INSIDE), base, diff.changed)
    if diff.outside is not None:
        out = Image.composite(Image.new("RGB", size, CHANGED_OUTSIDE), out, diff.outside)
    return out


def side_by_side(before: Image.Image, after: Image.Image, gap: int = 4) -> Image.Image:
    """``before`` (resized to ``after``'s height) left of ``after``, ``gap`` black pixels between."""
    w, h = after.size
    left = _rgb(before, (max(1, round(before.width * h / before.height)), h))
    out = Image.new("RGB", (left.width + gap + w, h))
    out.paste(left, (0, 0))
    out.paste(_rgb(after, after.size), (left.width + gap, 0))
    return out
