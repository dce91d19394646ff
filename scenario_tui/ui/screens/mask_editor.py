"""The mask editor: make or reshape a mask from the keyboard, over a live preview of the input.

Every edit is a function of the mask run by core/masks.py in a thread; edits (and undo/redo) queue
up and run one after the other in a single worker, which posts :class:`MaskEditor.Updated` with the
new composite, so the UI never waits and no edit is lost to a quicker one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from scenario_tui.core import imaging, masks
from scenario_tui.ui.screens.confirm import ConfirmScreen
from scenario_tui.ui.actions import Where, bindings
from scenario_tui.ui.services import app_of
from scenario_tui.ui.widgets.chrome import KeyFooter, TextBar
from scenario_tui.ui.widgets.mask_canvas import Grid, MaskCanvas, fit

HISTORY_STEPS = 30
HISTORY_BYTES = 256 * 1024 * 1024
"""Undo keeps at most this many steps, and no more masks than fit in this many bytes (at least 5)."""
FIRST_STEP = 8
"""Pixels grown, shrunk or feathered per key press at first ("[" and "]" halve and double it)."""

Op = Callable[[Image.Image], Image.Image]


@dataclass(frozen=True)
class _Edit:
    label: str
    op: Op | Literal["undo", "redo", "show"]


def _toggle_cell(grid: Grid) -> Op:
    """Add the cursor's cell, or take it away when it is mostly there already."""

    def op(mask: Image.Image) -> Image.Image:
        x0, y0, x1, y1 = masks.cell_box(mask.size, grid.size, grid.cursor)
        covered = x1 > x0 and y1 > y0 and masks.coverage(mask.crop((x0, y0, x1, y1))) > 50
        return masks.cells(mask, grid.size, [grid.cursor], add=not covered)

    return op


def _rect(box: tuple[float, float, float, float]) -> Op:
    """Add a rectangle given as fractions of the image."""

    def op(mask: Image.Image) -> Image.Image:
        w, h = mask.size
        x0, y0 = int(box[0] * w), int(box[1] * h)
        x1, y1 = max(x0 + 1, round(box[2] * w)), max(y0 + 1, round(box[3] * h))
        shape = masks.Box(*(masks.Length(v) for v in (x0, y0, x1 - x0, y1 - y0)))
        return masks.shape(mask, "rect", shape)

    return op


def _composite(image: Image.Image, mask: Image.Image, size: tuple[int, int],
               cache: dict[tuple[int, int], Image.Image]) -> Image.Image:
    """The input at ``size`` with the mask tinted over it (the scaled input is kept in ``cache``)."""
    small = cache.get(size)
    if small is None:
        cache.clear()
        small = cache[size] = imaging.thumbnail(image, size).resize(size, Image.Resampling.BILINEAR)
    return imaging.mask_overlay(small, mask.resize(size, Image.Resampling.BILINEAR))


class MaskEditor(Screen[Path | None]):
    """Grid cells, typed shapes, mouse rectangles and shaping keys; ctrl+s saves and returns the file."""

    DEFAULT_CSS = """
    MaskEditor { layout: vertical; }
    MaskEditor #mask-title { height: 1; text-style: bold; }
    MaskEditor #mask-status { height: 2; text-wrap: nowrap; text-overflow: ellipsis; }
    MaskEditor #mask-command { height: 1; }
    MaskEditor #mask-command.-typing { background: $boost; text-style: bold; }
    """

    BINDINGS = bindings(Where.MASK_EDITOR)

    @dataclass
    class Updated(Message):
        """An edit is done: the composite to show, and the mask's figures."""

        composite: Image.Image
        coverage: float
        bbox: tuple[int, int, int, int] | None
        said: str

    def __init__(self, image: Image.Image, mask: Image.Image | None = None, origin: str = "nothing") -> None:
        super().__init__()
        self.image = image
        start = mask.copy() if mask is not None else masks.blank(image.size)
        self.history: list[Image.Image] = [start]
        self.at = 0  # the mask shown is history[at]
        self.saved_at: int | None = 0 if mask is not None else None
        self.limit = max(5, min(HISTORY_STEPS, HISTORY_BYTES // (image.width * image.height)))
        self.origin = origin
        self.step = FIRST_STEP
        self.grid = Grid()
        self.said = f"started from {origin}"
        self.coverage = masks.coverage(start)
        self.bbox = masks.bbox(start)
        self._queue: deque[_Edit] = deque()
        self._draining = False
        self._scaled: dict[tuple[int, int], Image.Image] = {}

    @property
    def mask(self) -> Image.Image:
        return self.history[self.at]

    def compose(self) -> ComposeResult:
        w, h = self.image.size
        title = TextBar(id="mask-title")
        title.text = Text(f" Mask editor · {w}×{h} · tinted = repaint ", style="bold reverse")
        yield title
        yield MaskCanvas(self._typing, id="mask-canvas")
        yield TextBar(id="mask-status")
        yield Input(placeholder=f"type a shape, Enter applies: {masks.COMMAND_HELP}", id="mask-command",
                    compact=True, select_on_focus=False)
        yield KeyFooter()

    @property
    def canvas(self) -> MaskCanvas:
        return self.query_one(MaskCanvas)

    def on_mount(self) -> None:
        self.canvas.focus()
        self._status()

    def on_resize(self) -> None:
        self._enqueue(_Edit("", "show"))

    # --- the queue of edits ------------------------------------------------------------------------
    def _enqueue(self, edit: _Edit) -> None:
        self._queue.append(edit)
        if not self._draining:
            self._draining = True
            self._drain()

    @work(exclusive=True, group="mask-edit", exit_on_error=False)
    async def _drain(self) -> None:
        """Run the queued edits in order; only this worker changes the history."""
        try:
            while self._queue:
                edit = self._queue.popleft()
                said = edit.label
                if edit.op == "undo" or edit.op == "redo":
                    target = self.at + (-1 if edit.op == "undo" else 1)
                    if not 0 <= target < len(self.history):
                        said = f"nothing to {edit.op}"
                    else:
                        self.at = target
                elif callable(edit.op):
                    try:
                        new = await asyncio.to_thread(edit.op, self.mask)
                    except masks.MaskError as exc:
                        self.said = f"✗ {edit.label}: {exc}"
                        self._status()
                        continue
                    self._push(new)
                size = fit(self.image.size, self.canvas.content_size)
                mask = self.mask
                composite, coverage, bbox = await asyncio.to_thread(
                    lambda: (_composite(self.image, mask, size, self._scaled), masks.coverage(mask), masks.bbox(mask)))
                self.post_message(self.Updated(composite, coverage, bbox, said))
        finally:
            self._draining = False

    def _push(self, mask: Image.Image) -> None:
        del self.history[self.at + 1:]
        self.history.append(mask)
        if len(self.history) > self.limit:
            drop = len(self.history) - self.limit
            del self.history[:drop]
            self.saved_at = None if self.saved_at is None or self.saved_at < drop else self.saved_at - drop
        self.at = len(self.history) - 1

    @on(Updated)
    def _updated(self, event: Updated) -> None:
        self.coverage, self.bbox = event.coverage, event.bbox
        if event.said:
            self.said = event.said
        self.canvas.show(event.composite)
        self._status()

    def _status(self) -> None:
        """Two lines: the mask's figures and the grid; then what the last edit did (errors first, so a
        narrow terminal still shows them) and the shaping keys with their step."""
        box = "none" if self.bbox is None else "{},{} {}×{}".format(*self.bbox)
        column, row = self.grid.place
        text = Text(f" {self.coverage:.1f} % to repaint · box {box} · grid {self.grid.columns}×{self.grid.rows} "
                    f"cell {self.grid.cursor} (col {column}, row {row}) · undo {self.at} / redo "
                    f"{len(self.history) - 1 - self.at}\n ", no_wrap=True, overflow="ellipsis")
        text.append(self.said, style="bold red" if self.said.startswith("✗") else "bold")
        text.append(f" · g/s/f grow/shrink/feather by {self.step} px ([ ] ÷2 ×2) · i invert · h fill holes · "
                    ": type a shape")
        self.query_one("#mask-status", TextBar).text = text

    # --- actions ---------------------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        self._set_grid(self.grid.moved(dx, dy))

    def _set_grid(self, grid: Grid) -> None:
        self.grid = grid
        self.canvas.show(grid=grid)
        self._status()

    def action_grid(self, more: int) -> None:
        self._set_grid(self.grid.resized(self.grid.columns + more, self.grid.rows + more))

    def action_toggle_cell(self) -> None:
        self._enqueue(_Edit(f"cell {self.grid.cursor}", _toggle_cell(self.grid)))

    def action_shape(self, name: Literal["grow", "shrink", "feather"]) -> None:
        px = self.step
        ops: dict[str, Op] = {"grow": lambda m: masks.grow(m, px), "shrink": lambda m: masks.shrink(m, px),
                              "feather": lambda m: masks.feather(m, px)}
        self._enqueue(_Edit(f"{name} {px} px", ops[name]))

    def action_step(self, factor: float) -> None:
        self.step = max(1, min(512, round(self.step * factor)))
        self._status()

    def action_invert(self) -> None:
        self._enqueue(_Edit("invert", masks.invert))

    def action_fill_holes(self) -> None:
        self._enqueue(_Edit("fill holes", masks.fill_holes))

    def action_clear(self) -> None:
        self._enqueue(_Edit("cleared", lambda m: masks.blank(m.size)))

    def action_undo(self) -> None:
        self._enqueue(_Edit("undone", "undo"))

    def action_redo(self) -> None:
        self._enqueue(_Edit("redone", "redo"))

    def action_type_command(self) -> None:
        """Open the command line (the canvas keeps the focus and passes the keys on: see ``MaskCanvas.on_key``)."""
        self.set_focus(self.canvas)
        self.canvas.typing = True
        self.query_one("#mask-command", Input).add_class("-typing")

    def _typing(self, key: events.Key, start: bool) -> None:
        command = self.query_one("#mask-command", Input)
        command.set_class(self.canvas.typing, "-typing")
        if start:
            return
        actions = {"backspace": command.action_delete_left, "left": command.action_cursor_left,
                   "right": command.action_cursor_right, "home": command.action_home, "end": command.action_end}
        if key.key == "enter":
            self._run(command)
        elif key.key in actions:
            actions[key.key]()
        elif key.is_printable and key.character:
            command.insert_text_at_cursor(key.character)

    @on(Input.Submitted, "#mask-command")
    def _submitted(self, event: Input.Submitted) -> None:
        self._run(event.input)

    def _run(self, command: Input) -> None:
        """Apply the command line's step (or change the grid), or say what is wrong with it."""
        try:
            step = masks.parse_command(command.value)
        except masks.MaskError as exc:
            self.said = f"✗ {exc}"
            self._status()
            return
        command.value = ""
        if step.name == "grid":
            assert isinstance(step.value, tuple)
            self._set_grid(self.grid.resized(*step.value))
            return
        steps = [masks.Step("grid", self.grid.size), step]
        self._enqueue(_Edit(str(step).removeprefix("--"), lambda m: masks.apply(m, steps)))

    @on(MaskCanvas.Dragged)
    def _dragged(self, event: MaskCanvas.Dragged) -> None:
        self._enqueue(_Edit("rectangle (mouse)", _rect(event.box)))

    @on(MaskCanvas.Clicked)
    def _clicked(self, event: MaskCanvas.Clicked) -> None:
        self._set_grid(Grid(self.grid.columns, self.grid.rows, event.cell))

    def action_open_file(self) -> None:
        from textual_fspicker import FileOpen, Filters

        from scenario_tui.ui.widgets.file_field import is_image_path

        filters = Filters(("Images", is_image_path), ("All files", lambda _: True))
        picker = FileOpen(app_of(self).ui_state.start_folder(), filters=filters, must_exist=True)
        self.app.push_screen(picker, self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is None:
            return
        size = self.image.size

        def load(_: Image.Image) -> Image.Image:
            try:
                return imaging.load_mask(path, size).image
            except imaging.MaskSizeMismatch as exc:
                assert exc.mask is not None
                return imaging.resize_mask(exc.mask, size).image
            except imaging.ImageProblem as exc:
                raise masks.MaskError(str(exc)) from None

        self._enqueue(_Edit(f"opened {path.name}", load))

    # --- leaving -----------------------------------------------------------------------------------
    def action_leave(self) -> None:
        if self.query_one("#mask-command", Input).has_focus:
            self.set_focus(self.canvas)
            return
        if self.saved_at == self.at or (self.at == 0 and self.saved_at is None and self.coverage == 0):
            self.dismiss(None)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Close the mask editor without saving this mask?", yes="Discard",
                                           no="Keep editing"), answer)

    def action_save(self) -> None:
        if self._draining:
            self.notify("Still working on the last edit…", timeout=2)
            return
        if masks.bbox(self.mask) is None:
            self.notify("The mask is empty: nothing would be repainted. Add a cell or a shape first.",
                        severity="warning")
            return
        self._save(self.mask)

    @work(exclusive=True, group="mask-save", exit_on_error=False)
    async def _save(self, mask: Image.Image) -> None:
        app = app_of(self)
        folder = app.settings.output_dir / "masks"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(app.clock()))

        def write() -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            path, n = folder / f"mask-{stamp}.png", 1
            while path.exists():
                n += 1
                path = folder / f"mask-{stamp}-{n}.png"
            masks.save(mask, path)
            return path.resolve()  # the form keeps it: valid from any folder

        try:
            path = await asyncio.to_thread(write)
        except (OSError, masks.MaskError) as exc:
            self.notify(f"Mask not saved: {exc}", severity="error", markup=False)
            return
        self.saved_at = self.at
        self.notify(f"Mask saved: {path}", markup=False)
        self.dismiss(path)


Loaded = imaging.LoadedImage | imaging.LoadedMask | None


def open_editor(screen: Screen[Any], image: Loaded, mask: Loaded, done: Callable[[Path], None]) -> None:
    """Open the editor over ``screen`` on the form's input image, from its mask when it fits; ``done`` gets
    the saved file."""
    if not isinstance(image, imaging.LoadedImage):
        screen.notify("Pick an input image first: the mask is drawn over it.", severity="warning")
        return
    start, origin = None, "nothing"
    if isinstance(mask, imaging.LoadedMask):
        if mask.image.size == image.size:
            start, origin = mask.image, f"the current mask ({mask.path.name if mask.path else 'in the form'})"
        else:
            screen.notify("The current mask is not the input's size: starting from nothing.", severity="warning")

    def saved(path: Path | None) -> None:
        if path is not None:
            done(path)

    screen.app.push_screen(MaskEditor(image.image, start, origin), saved)
