"""The preview pane: one image at a time (or a contact sheet of all), decoded off the UI thread."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

from scenario_tui.core import compare
from scenario_tui.core.imaging import ImageProblem, contact_sheet, load_image, read_mask, thumbnail
from scenario_tui.ui.actions import Where, bindings
from scenario_tui.ui.images import cell_size, in_colour, is_graphics, remeasure_cell_size
from scenario_tui.ui.paths import shown_path
from scenario_tui.ui.services import app_of

WATCH_INTERVAL = 0.25
"""How often a pixel-drawing preview checks that it is still on screen at the right cell size."""
EMPTY_HINT = "Pick an input image and a mask to preview them here; results appear here when a job finishes."
_GAP = 4


@dataclass
class PreviewItem:
    """Something to preview: a file to decode, or an image already loaded; a result also names the input
    it was made from and its mask, for the compare views."""

    title: str
    path: Path | None = None
    image: Image.Image | None = None
    build: Callable[[], Image.Image] | None = None
    """Makes the image off the UI thread (e.g. an overlay of two big images)."""
    before: Path | None = None
    mask: Path | None = None


Compare = Literal["after", "before", "side", "diff"]
_COMPARE_TITLES: dict[Compare, str] = {"after": "", "before": "BEFORE (the input) · ",
                                       "side": "before | after · ", "diff": "difference · "}


def result_items(title: str, results: Sequence[Path], inputs: Sequence[dict[str, Any]]) -> list[PreviewItem]:
    """A run's results, each with the input image and mask the run recorded (when they were files)."""
    paths = {i.get("field"): Path(i["path"]) for i in inputs if i.get("path")}
    return [PreviewItem(f"{title} · {p.name}", p, before=paths.get("image"), mask=paths.get("mask")) for p in results]


def _compare_view(item: PreviewItem, mode: Compare, title: str, max_px: tuple[int, int] | None) -> _View:
    """Before, before | after, or the difference (changed pixels, flagged outside the mask); text only when
    ``max_px`` is None (no terminal graphics)."""
    assert item.before is not None
    title = _COMPARE_TITLES[mode] + title  # first: a narrow pane cuts the end
    try:
        after = _decode(item)
        before = load_image(item.before).image
        if mode == "before":
            shown = before
            caption = str(shown_path(item.before))
        elif mode == "side":
            shown, caption = compare.side_by_side(before, after), "left: the input · right: the result"
        else:
            mask = read_mask(item.mask).image if item.mask is not None else None
            diff = compare.difference(before, after, mask)
            shown, caption = compare.highlight(after, diff), diff.summary()
    except ImageProblem as exc:
        return _View(title, text=str(exc))
    if max_px is None:
        return _View(title, caption, text=caption)
    return _View(title, caption, image=thumbnail(shown, max_px))


@dataclass(frozen=True)
class _View:
    """What the pane shows after a render: an image, or text (errors, listings, hints)."""

    title: str
    caption: str = ""
    image: Image.Image | None = None
    text: str = ""


def _decode(item: PreviewItem) -> Image.Image:
    if item.image is not None:
        return item.image
    if item.build is not None:
        return item.build()
    if item.path is None:
        raise ImageProblem(f"{item.title}: nothing to show")
    return load_image(item.path).image


def _single_view(item: PreviewItem, title: str, max_px: tuple[int, int]) -> _View:
    caption = str(shown_path(item.path)) if item.path else ""
    try:
        return _View(title, caption, image=thumbnail(_decode(item), max_px))
    except ImageProblem as exc:
        return _View(title, caption, text=str(exc))


def _grid_shape(count: int, max_px: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    """Columns and cell size that make the most of the pane for ``count`` roughly square images."""
    width, height = max_px

    def cell(columns: int) -> tuple[int, int]:
        rows = math.ceil(count / columns)
        return max(1, (width - (columns - 1) * _GAP) // columns), max(1, (height - (rows - 1) * _GAP) // rows)

    columns = max(range(1, count + 1), key=lambda c: min(cell(c)))
    return columns, cell(columns)


def _grid_view(items: Sequence[PreviewItem], max_px: tuple[int, int]) -> _View:
    images: list[Image.Image] = []
    problems: list[str] = []
    for item in items:
        try:
            images.append(_decode(item))
        except ImageProblem as exc:
            problems.append(str(exc))
    title = f"grid · {len(images)} of {len(items)}"
    if not images:
        return _View(title, text="\n".join(problems))
    columns, cell = _grid_shape(len(images), max_px)
    return _View(title, "; ".join(problems), image=contact_sheet(images, columns, cell, _GAP))


def _size_of(item: PreviewItem) -> str:
    if item.image is not None:
        return "{}×{}".format(*item.image.size)
    if item.path is None:
        if item.build is not None:
            return "composite"
        return "no file"
    try:
        with Image.open(item.path) as im:
            return "{}×{}".format(*im.size)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"unreadable: {exc}"


def _listing_view(items: Sequence[PreviewItem], index: int, title: str) -> _View:
    lines = [
        f"{'›' if i == index else ' '} {shown_path(item.path) if item.path else item.title} ({_size_of(item)})"
        for i, item in enumerate(items)
    ]
    return _View(title, "no terminal graphics: paths only", text="\n".join(lines))


class Preview(Widget, can_focus=True):
    """Shows one item at a time; keys step through the items or toggle a contact sheet of them all.

    Renders only on ``show``, navigation and resize, never on a timer (Sixel flickers when redrawn);
    title and caption are one line each, so the image area keeps its size whatever they say.

    With sixel or kitty, pixels sit on top of the cells, so two more things trigger a redraw: the
    screen becoming active again (a modal closed over the image: its border would stay) and the
    cell size changing (a font-size or DPI change, which needn't change the size in cells).
    """

    DEFAULT_CSS = """
    Preview { layout: vertical; overflow: hidden; height: 1fr; }
    Preview #preview-title { height: 1; text-style: bold; }
    Preview #preview-body { height: 1fr; align: center middle; overflow: hidden; }
    Preview #preview-image { width: auto; height: auto; }
    Preview #preview-text { width: 1fr; height: auto; }
    Preview #preview-caption { height: 1; color: $text-muted; }
    """

    BINDINGS = bindings(Where.PREVIEW)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.items: list[PreviewItem] = []
        self.index = 0
        self.grid = False
        self.compare: Compare = "after"
        self._generation = 0  # renders started; a finished render older than the latest is dropped
        self._rendered_size: tuple[int, int] | None = None
        self._was_active = True

    def compose(self) -> ComposeResult:
        yield Static(id="preview-title")
        with Container(id="preview-body"):
            if self._image_cls is not None:
                yield in_colour(self._image_cls)(id="preview-image")
            yield Static(id="preview-text")
        yield Static(id="preview-caption")

    @property
    def _image_cls(self) -> type[Widget] | None:
        return app_of(self).image_cls

    def on_mount(self) -> None:
        self._redraw()
        if is_graphics(self._image_cls):
            self.set_interval(WATCH_INTERVAL, self._watch_screen)

    def _watch_screen(self) -> None:
        """Redraw the image when the screen comes back from under a modal or the cell size changed."""
        active = self.screen.is_active
        came_back = active and not self._was_active
        self._was_active = active
        if remeasure_cell_size():
            self._redraw()
        elif came_back:
            self.repaint_image()

    def repaint_image(self) -> None:
        """Send the image to the terminal again (every line, so the sixel or kitty data is rewritten).

        The caption below is repainted in the same frame, after the image: konsole clears one cell
        row below a sixel image, which would otherwise wipe it.
        """
        if self._image_cls is None:
            return
        image = self.query_one("#preview-image")
        image.refresh(layout=True)
        for child in image.children:
            child.refresh()
        self.query_one("#preview-caption").refresh()

    def show(self, items: Sequence[PreviewItem], index: int = 0) -> None:
        """Replace the items and show the one at ``index``."""
        self.items = list(items)
        self.index = max(0, min(index, len(self.items) - 1))
        self.grid = False
        self.compare = "after"
        self.refresh_bindings()
        self._redraw()

    @property
    def max_pixels(self) -> tuple[int, int]:
        """The largest image, in pixels, the body can show at the terminal's cell size."""
        body = self.query_one("#preview-body").content_size
        width, height = cell_size()
        return max(1, body.width) * width, max(1, body.height) * height

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step":
            return len(self.items) > 1 and not self.grid
        if action == "grid":
            return len(self.items) > 1 and self._image_cls is not None
        if action == "compare":
            return not self.grid and bool(self.items) and self.items[self.index].before is not None
        return True

    def action_step(self, step: int) -> None:
        self.index = (self.index + step) % len(self.items)
        self._redraw()

    def action_compare(self, mode: Compare) -> None:
        """Show ``mode`` (before, side by side, difference), or the result again when it is shown already."""
        self.compare = "after" if self.compare == mode else mode
        self._redraw()

    def action_grid(self) -> None:
        self.grid = not self.grid
        self.refresh_bindings()
        self._redraw()

    def on_resize(self, event: events.Resize) -> None:
        body = self.query_one("#preview-body").content_size
        if remeasure_cell_size() or (body.width, body.height) != self._rendered_size:
            self._redraw()

    # ------------------------------------------------------------------ rendering

    def _redraw(self) -> None:
        self._generation += 1
        body = self.query_one("#preview-body").content_size
        self._rendered_size = (body.width, body.height)
        if not self.items:
            self._apply(self._generation, _View("Preview", text=EMPTY_HINT))
            return
        item = self.items[self.index]
        title = f"{self.index + 1}/{len(self.items)} · {item.title}"
        if self.compare != "after" and item.before is not None and not self.grid:
            mode, max_px = self.compare, (self.max_pixels if self._image_cls is not None else None)
            self._prepare(self._generation, lambda: _compare_view(item, mode, title, max_px))
        elif self._image_cls is None:
            items, index = list(self.items), self.index
            self._prepare(self._generation, lambda: _listing_view(items, index, title))
        elif self.grid:
            items, max_px = list(self.items), self.max_pixels
            self._prepare(self._generation, lambda: _grid_view(items, max_px))
        else:
            max_px = self.max_pixels
            self._set_title(title)
            self._prepare(self._generation, lambda: _single_view(item, title, max_px))

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def _prepare(self, generation: int, build: Callable[[], _View]) -> None:
        try:
            view = build()
        except Exception as exc:  # noqa: BLE001 - Pillow fails in assorted ways; a preview must not end the app
            view = _View("Preview", text=f"preview failed: {exc}")
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply, generation, view)

    def _apply(self, generation: int, view: _View) -> None:
        if generation != self._generation:
            return
        self._set_title(view.title)
        self.query_one("#preview-caption", Static).update(Text(view.caption, no_wrap=True, overflow="ellipsis"))
        text = self.query_one("#preview-text", Static)
        text.update(Text(view.text))
        text.display = view.image is None
        if self._image_cls is not None:
            image = self.query_one("#preview-image")
            image.image = view.image  # type: ignore[attr-defined]
            image.display = view.image is not None

    def _set_title(self, title: str) -> None:
        self.query_one("#preview-title", Static).update(Text(title, no_wrap=True, overflow="ellipsis"))
