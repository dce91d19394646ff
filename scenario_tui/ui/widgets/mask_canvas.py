"""The mask editor's canvas: a downscaled composite drawn in half cells, a labelled grid and its cursor.

Each terminal cell shows two pixels (upper half block: foreground on top, background below), so the
picture is the same in every terminal, tmux included, and is redrawn whole from the composite it is
given: no stale pixels. Column numbers run along the top, row numbers down the left; a cell's number
(as ``scenario-tui mask --cells`` counts them) is ``row × columns + column``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.filter import LineFilter, Monochrome, NoColor
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

LEFT = 3
"""Columns of row numbers left of the picture."""
TOP = 1
"""Lines of column numbers above the picture."""
GRID_LINE = (96, 96, 96)
CURSOR = (255, 230, 0)
DRAG = (0, 255, 120)
_RULER = Style(color="grey62")
_EMPTY = Style(bgcolor="grey11")


@lru_cache(maxsize=4096)
def _half(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Style:
    """Upper half block: the top pixel in front, the bottom one behind."""
    return Style.from_color(Color.from_rgb(*top), Color.from_rgb(*bottom))


def fit(image: tuple[int, int], area: Size) -> tuple[int, int]:
    """The composite's size in pixels for an image of ``image`` pixels in ``area`` cells (rulers included):
    as large as fits, same aspect, each cell two pixels high."""
    width, height = max(1, area.width - LEFT), max(1, 2 * (area.height - TOP))
    iw, ih = image
    scale = min(width / iw, height / ih)
    return max(1, min(width, round(iw * scale))), max(2, min(height, round(ih * scale)) // 2 * 2)


@dataclass(frozen=True)
class Grid:
    """An N x M grid and a cursor on one of its cells."""

    columns: int = 8
    rows: int = 8
    cursor: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return self.columns, self.rows

    @property
    def place(self) -> tuple[int, int]:
        """(column, row) of the cursor."""
        row, column = divmod(self.cursor, self.columns)
        return column, row

    def moved(self, dx: int, dy: int) -> Grid:
        column, row = self.place
        column, row = (column + dx) % self.columns, (row + dy) % self.rows
        return Grid(self.columns, self.rows, row * self.columns + column)

    def resized(self, columns: int, rows: int) -> Grid:
        """The grid with another shape, the cursor kept on the same column and row where they still exist."""
        columns, rows = max(1, min(256, columns)), max(1, min(256, rows))
        column, row = self.place
        return Grid(columns, rows, min(row, rows - 1) * columns + min(column, columns - 1))

    def edges(self, length: int, count: int) -> list[int]:
        return [i * length // count for i in range(count + 1)]


class MaskCanvas(Widget, can_focus=True):
    """Shows ``composite`` with the grid over it; a mouse drag posts :class:`MaskCanvas.Dragged`."""

    DEFAULT_CSS = "MaskCanvas { width: 1fr; height: 1fr; }"

    @dataclass
    class Dragged(Message):
        """A rectangle dragged with the mouse, as fractions (0..1) of the picture: x0, y0, x1, y1."""

        box: tuple[float, float, float, float]

    @dataclass
    class Clicked(Message):
        """A click on the picture, at the grid cell under it."""

        cell: int

    def __init__(self, typed: Callable[[events.Key, bool], None], *, id: str | None = None) -> None:
        """``typed(key, start)`` gets the command line's keys (``start``: the ":" that opens it)."""
        super().__init__(id=id)
        self._typed = typed
        self.composite: Image.Image | None = None
        self.grid = Grid()
        self._frame: Image.Image | None = None
        self._drag: tuple[tuple[int, int], tuple[int, int]] | None = None  # (start, now) in pixels
        self.typing = False

    def show(self, composite: Image.Image | None = None, grid: Grid | None = None) -> None:
        """Draw a new composite and/or grid."""
        if composite is not None:
            self.composite = composite
        if grid is not None:
            self.grid = grid
        self._frame = None
        self.refresh()

    def get_line_filters(self) -> Sequence[LineFilter]:
        """NO_COLOR is about text styling: the picture (and the tint that shows the mask) keeps its colours."""
        return [f for f in super().get_line_filters() if not isinstance(f, NoColor | Monochrome)]

    # --- drawing

    def _draw(self) -> Image.Image | None:
        if self._frame is None and self.composite is not None:
            frame = self.composite.convert("RGB")
            width, height = frame.size
            draw = ImageDraw.Draw(frame)
            for x in self.grid.edges(width, self.grid.columns)[1:-1]:
                draw.line((x, 0, x, height - 1), fill=GRID_LINE)
            for y in self.grid.edges(height, self.grid.rows)[1:-1]:
                draw.line((0, y, width - 1, y), fill=GRID_LINE)
            column, row = self.grid.place
            xs, ys = self.grid.edges(width, self.grid.columns), self.grid.edges(height, self.grid.rows)
            draw.rectangle((xs[column], ys[row], max(xs[column], xs[column + 1] - 1),
                            max(ys[row], ys[row + 1] - 1)), outline=CURSOR)
            if self._drag is not None:
                (ax, ay), (bx, by) = self._drag
                draw.rectangle((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), outline=DRAG)
            self._frame = frame
        return self._frame

    def _ruler(self, width: int) -> list[Segment]:
        line = [" "] * width
        edges = self.grid.edges(width, self.grid.columns)
        free = 0
        for column, x in enumerate(edges[:-1]):
            label = str(column)
            if x >= free and x + len(label) <= width:
                line[x:x + len(label)] = label
                free = x + len(label) + 1
        return [Segment(" " * LEFT), Segment("".join(line), _RULER)]

    def _row_label(self, y: int, height: int) -> str:
        """The row number on the first line of each grid row, where there is room for it."""
        lines = [e // 2 for e in self.grid.edges(height, self.grid.rows)]
        for row, first in enumerate(lines[:-1]):
            if first == y and (row == 0 or lines[row - 1] < first):
                return str(row).rjust(LEFT - 1) + " "
        return " " * LEFT

    def render_line(self, y: int) -> Strip:
        frame = self._draw()
        width = self.size.width
        if frame is None:
            return Strip([Segment(" " * width, _EMPTY)], width)
        pw, ph = frame.size
        if y == 0:
            return Strip(self._ruler(pw), LEFT + pw).adjust_cell_length(width)
        line = y - TOP
        if line >= ph // 2:
            return Strip.blank(width)
        pixels = frame.load()
        assert pixels is not None
        segments = [Segment(self._row_label(line, ph), _RULER)]
        run, style = 0, None
        for x in range(pw):  # runs of one colour pair make one segment
            cell = _half(pixels[x, 2 * line], pixels[x, 2 * line + 1])
            if cell is not style and run:
                segments.append(Segment("▀" * run, style))
                run = 0
            run, style = run + 1, cell
        segments.append(Segment("▀" * run, style))
        return Strip(segments, LEFT + pw).adjust_cell_length(width)

    # --- keys

    def on_key(self, event: events.Key) -> None:
        """":" (or "/") opens the command line; until Enter or Escape every key goes to it through this widget,
        which keeps the focus, and at once (a call, not a message): typed fast, pasted, or sent in a burst
        over a slow link, no key of a command is taken as an edit, and an edit keyed after Enter comes after
        the command's."""
        start = not self.typing and event.key in ("colon", "slash")
        if not (self.typing or start):
            return
        event.stop()
        event.prevent_default()
        self.typing = not (event.key in ("enter", "escape"))
        self._typed(event, start)

    # --- mouse

    def _pixel(self, event: events.MouseEvent) -> tuple[int, int] | None:
        if self.composite is None:
            return None
        pw, ph = self.composite.size
        x, y = event.x - LEFT, 2 * (event.y - TOP)
        return max(0, min(pw - 1, x)), max(0, min(ph - 1, y))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if (at := self._pixel(event)) is not None:
            self._drag = (at, at)
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is not None and (at := self._pixel(event)) is not None:
            self._drag = (self._drag[0], at)
            self._frame = None
            self.refresh()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is None or self.composite is None:
            return
        self.release_mouse()
        (ax, ay), (bx, by) = self._drag
        self._drag = None
        self._frame = None
        self.refresh()
        pw, ph = self.composite.size
        if (ax, ay // 2) == (bx, by // 2):  # no drag: a click picks the cell
            xs, ys = self.grid.edges(pw, self.grid.columns), self.grid.edges(ph, self.grid.rows)
            column = max(i for i, e in enumerate(xs[:-1]) if e <= ax)
            row = max(i for i, e in enumerate(ys[:-1]) if e <= ay)
            self.post_message(self.Clicked(row * self.grid.columns + column))
            return
        # a cell is two pixels high: the box takes in the whole of the cells at both ends
        x0, x1 = min(ax, bx), max(ax, bx) + 1
        y0, y1 = min(ay, by) // 2 * 2, max(ay, by) // 2 * 2 + 2
        self.post_message(self.Dragged((x0 / pw, y0 / ph, x1 / pw, min(y1, ph) / ph)))
