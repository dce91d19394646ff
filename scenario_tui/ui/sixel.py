"""textual-image's sixel widget with our encoder (palette first, dithered, sized to the terminal).

textual-image keeps the parts it does well: placing the stream in the widget's region, cropping
and caching. Ours are the encoding step (``_ImageSixelImpl._image_to_sixels``, a method meant to be
replaced; see :mod:`scenario_tui.core.sixel` for why) and the cells under the image, which are
painted in the widget's background before the stream is drawn over them: textual-image leaves them
empty, so Textual pads them in the terminal's default background, which shows wherever the image
doesn't cover its last column or row (konsole: a grey strip beside the image). And after the
stream the cursor goes to the cell right of the image's last row; textual-image sends it one row
lower, so the rest of that row went to the row below and the cells right of the image were never
repainted (a piece of a closed modal's border stayed there).
"""

from __future__ import annotations

from PIL import Image as PILImage
from rich.color import Color
from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual_image._sixel import BackgroundColor, SixelOptions
from textual_image.widget.sixel import Image as _TextualImageSixel
from textual_image.widget.sixel import _ImageSixelImpl

from scenario_tui.core import sixel

_registers = sixel.DEFAULT_REGISTERS


def set_registers(count: int | None) -> None:
    """The colour registers the terminal reported (XTSMGRAPHICS); ``None``: it didn't say (256)."""
    global _registers
    _registers = count if count and count > 1 else sixel.DEFAULT_REGISTERS


def registers() -> int:
    return _registers


class _PaletteFirstSixels(_ImageSixelImpl):
    def _image_to_sixels(
        self,
        image: PILImage.Image,
        sixel_options: SixelOptions | None = None,
        background: BackgroundColor | None = None,
    ) -> str:
        r, g, b, _ = background or (0, 0, 0, 1.0)
        return sixel.encode(image, _registers, (r, g, b))

    def _get_sixel_segments(self, sixel_data: str) -> list[Segment]:
        region = self.screen.find_widget(self).visible_region
        return [
            Segment(Control.move_to(region.x, region.y).segment.text),
            Segment(sixel_data, control=((ControlType.CURSOR_FORWARD, 0),)),
            Segment(Control.move_to(region.right, region.bottom - 1).segment.text),
        ]

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if not lines:
            return lines
        r, g, b, _ = self._get_background_rgba()
        blank = Segment(" " * crop.width, Style(bgcolor=Color.from_rgb(r, g, b)))
        *above, last = lines
        # the stream (on the last line) moves the cursor to the top left itself, so it is drawn over these
        return [Strip([blank], crop.width) for _ in above] + [Strip([blank, *last], crop.width)]


class SixelImage(_TextualImageSixel, Renderable=_TextualImageSixel._Renderable):
    """A sixel image widget whose stream defines every colour register before any pixel."""

    def compose(self) -> ComposeResult:
        yield _PaletteFirstSixels(self.image, self._sixel_options)
