"""An input for an image, mask or reference: a path (or asset id) with completion, browsing and an inline check."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from PIL.Image import Image as PILImage
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.suggester import Suggester
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from scenario_tui.core.imaging import (
    ImageProblem,
    LoadedImage,
    LoadedMask,
    MaskSizeMismatch,
    describe,
    load_image,
    load_mask,
    resize_mask,
    thumbnail,
)
from scenario_tui.core.params import looks_like_asset_id
from scenario_tui.ui.actions import Where, bindings
from scenario_tui.ui.images import thumbnail_class
from scenario_tui.ui.paths import shown_path
from scenario_tui.ui.services import app_of
from scenario_tui.ui.widgets.buttons import ShortcutButton

if TYPE_CHECKING:
    from scenario_tui.ui.app import ScenarioApp

Role = Literal["image", "mask", "reference"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
THUMB_CELLS = (8, 3)
"""Largest thumbnail, in terminal cells (columns, rows)."""

_THUMB_PIXELS = (160, 120)  # enough for 8×3 cells of 20×40 px; the image widget scales the rest
_SCAN_LIMIT = 2000
_LOADING = "loading…"
_ASSET_INFO = "asset id (sent as is)"
_MASK_ASSET = "masks must be files here; use the Mask asset id field for an uploaded mask"
_PLACEHOLDERS: dict[Role, str] = {  # short: they must fit the field at 80 columns
    "image": "image file or asset id",
    "reference": "image file or asset id",
    "mask": "mask file, white=repaint",
}


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _expand(text: str) -> Path:
    """``text`` as a path with ``~`` expanded; an unknown ``~user`` stays as typed."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


# --- path completion -------------------------------------------------------------------------


def _completion(entry: os.DirEntry[str]) -> str | None:
    """The entry's name as a completion: directories with a trailing "/", image files as is."""
    try:
        if entry.is_dir():
            return entry.name + "/"
        if entry.is_file() and is_image_path(Path(entry.name)):
            return entry.name
    except OSError:
        pass
    return None


def complete_path(value: str) -> str | None:
    """``value`` completed with the alphabetically first matching directory or image file, or None."""
    if not value:
        return None
    stem = value.rpartition("/")[2]
    folder_text = value[: len(value) - len(stem)]
    folder = _expand(folder_text) if folder_text else Path.cwd()
    wanted, show_hidden = stem.casefold(), stem.startswith(".")
    best: str | None = None
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, _SCAN_LIMIT):
                name = entry.name
                if not name.casefold().startswith(wanted) or (name.startswith(".") and not show_hidden):
                    continue
                found = _completion(entry)
                if found is not None and (best is None or found.casefold() < best.casefold()):
                    best = found
    except (OSError, ValueError):  # ValueError: a NUL byte in pasted text
        return None
    return None if best is None else folder_text + best


class PathSuggester(Suggester):
    """Suggests directories and image files as a path is typed (``~`` expanded, relative to the cwd)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value)


# --- loading (runs in a thread) --------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """The result of one load: a value, an asset id, a problem, or nothing (empty text)."""

    loaded: LoadedImage | LoadedMask | None = None
    asset_id: str | None = None
    info: str = ""
    problem: str | None = None
    mismatch: MaskSizeMismatch | None = None
    thumb: PILImage | None = None
    stamp: tuple[int, int] | None = None
    """(mtime in ns, size) of the file when it was read: a change on disk means reading it again."""


def _thumb(image: PILImage, wanted: bool) -> PILImage | None:
    return thumbnail(image, _THUMB_PIXELS) if wanted else None


def _with_notes(text: str, notes: tuple[str, ...]) -> str:
    return "; ".join((text, *notes))


def _mask_outcome(mask: LoadedMask, thumbs: bool) -> _Outcome:
    width, height = mask.image.size
    info = _with_notes(f"{width}×{height} mask, coverage {mask.coverage:.1f} %", mask.notes)
    return _Outcome(loaded=mask, info=info, thumb=_thumb(mask.image, thumbs))


def _stamp(text: str) -> tuple[int, int] | None:
    """What tells a file's versions apart cheaply: (mtime in ns, size), or None when there is none."""
    if not text:
        return None
    try:
        found = os.stat(_expand(text))
    except (OSError, ValueError):
        return None
    return found.st_mtime_ns, found.st_size


def _resolve(role: Role, text: str, image_size: tuple[int, int] | None, thumbs: bool) -> _Outcome:
    outcome = _analyse(role, text, image_size, thumbs)
    return replace(outcome, stamp=_stamp(text)) if outcome.asset_id is None else outcome


def _analyse(role: Role, text: str, image_size: tuple[int, int] | None, thumbs: bool) -> _Outcome:
    if not text:
        return _Outcome()
    path = _expand(text)
    if looks_like_asset_id(text) and not path.exists():
        if role == "mask":
            return _Outcome(problem=f"{text}: {_MASK_ASSET}")
        return _Outcome(asset_id=text, info=_ASSET_INFO)
    try:
        if role == "mask":
            return _mask_outcome(load_mask(path, image_size), thumbs)
        image = load_image(path)
    except MaskSizeMismatch as exc:
        assert exc.mask is not None, "load_mask always attaches the loaded mask to MaskSizeMismatch"
        return _Outcome(problem=str(exc), mismatch=exc, thumb=_thumb(exc.mask.image, thumbs))
    except ImageProblem as exc:
        return _Outcome(problem=str(exc))
    return _Outcome(loaded=image, info=_with_notes(describe(image), image.notes), thumb=_thumb(image.image, thumbs))


def _resized(mismatch: MaskSizeMismatch, thumbs: bool) -> _Outcome:
    # mismatch comes from _resolve, which only keeps a MaskSizeMismatch raised by load_mask (mask attached).
    assert mismatch.mask is not None, "MaskSizeMismatch from load_mask carries the loaded mask"
    try:
        return _mask_outcome(resize_mask(mismatch.mask, mismatch.image_size), thumbs)
    except ImageProblem as exc:
        return _Outcome(problem=str(exc))


def _cell_box(size: tuple[int, int]) -> tuple[int, int]:
    """Thumbnail size in cells within THUMB_CELLS, keeping the aspect (cells are ~twice as tall as wide)."""
    cols, rows = THUMB_CELLS
    width, height = size
    ratio = 2 * width / height
    if ratio >= cols / rows:
        return cols, max(1, round(cols / ratio))
    return max(1, round(rows * ratio)), rows


# --- the widget ------------------------------------------------------------------------------


class FileField(Widget):
    """A path or asset id with a Browse button and a status line: thumbnail and info, or the problem.

    Files are loaded in a worker shortly after typing stops (``Timings.file``), on Enter and on leaving
    the input, and again when the file changes on disk (checked every ``RECHECK_INTERVAL`` s and on
    focus). The start of a load and every outcome post :class:`FileField.Changed`; ``reading`` is True
    in between. For masks, set ``image_size`` to check the size.
    """

    RECHECK_INTERVAL = 2.0
    """Seconds between checks that the file read is still the one on disk (0: never)."""

    DEFAULT_CSS = """
    FileField { height: auto; }
    FileField > .file-row { height: auto; }
    FileField .file-path { width: 1fr; }
    FileField .file-browse { width: auto; min-width: 9; margin-left: 1; }
    FileField > .file-status { height: auto; padding: 0 1; }
    FileField .file-thumb { display: none; margin-right: 1; }
    FileField .file-info { width: 1fr; height: auto; color: $text-muted; }
    FileField .file-info.-problem { color: $text-error; }
    FileField .file-resize { display: none; margin-left: 1; }
    FileField .file-edit { width: auto; min-width: 7; margin-left: 1; }
    """

    BINDINGS = bindings(Where.FILE)

    image_size: reactive[tuple[int, int] | None] = reactive(None, init=False)
    """Size of the input image; a mask of another size is refused with an offer to resize it."""

    class Changed(Message):
        """Posted after every load outcome: loaded, asset id, problem, or cleared."""

        def __init__(self, file_field: FileField) -> None:
            super().__init__()
            self.file_field = file_field

        @property
        def control(self) -> FileField:
            return self.file_field

    @dataclass
    class _Loaded(Message):
        """A load worker's outcome, for load number ``generation`` (a later load makes it stale)."""

        outcome: _Outcome
        generation: int

    @dataclass
    class EditMask(Message):
        """The user asked for the mask editor (the screen has the input image it needs)."""

        file_field: FileField

    def __init__(self, role: Role, value: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.role: Role = role
        self._input = Input(value, placeholder=_PLACEHOLDERS[role], suggester=PathSuggester(), classes="file-path",
                            compact=True)
        self._info = Static("", markup=False, classes="file-info")
        self._resize = Button("Resize mask", compact=True, classes="file-resize")
        self._edit = ShortcutButton("Edit…", classes="file-edit", tooltip="Make or edit the mask (f7)") \
            if role == "mask" else None
        self._thumb: Widget | None = None
        self._debounce: Timer | None = None
        self._requested = ""
        self._generation = 0  # loads started; only the latest one's outcome is shown
        self._outcome = _Outcome()
        self._reading = False

    @property
    def _host(self) -> ScenarioApp:
        return app_of(self)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="file-row"):
            yield self._input
            keys = self._host.keys_text("browse")
            yield ShortcutButton("Browse…", classes="file-browse", tooltip=f"Browse ({keys})")
        with Horizontal(classes="file-status"):
            if (image_cls := thumbnail_class(self._host.image_cls)) is not None:
                self._thumb = image_cls(classes="file-thumb")
                yield self._thumb
            yield self._info
            yield self._resize
            if self._edit is not None:  # on the status line: the path keeps its width at 80 columns
                yield self._edit

    def on_mount(self) -> None:
        if self._input.value.strip():
            self._load()
        if self.RECHECK_INTERVAL:
            self.set_interval(self.RECHECK_INTERVAL, self.recheck)

    # --- public surface

    @property
    def value(self) -> str:
        """The text as typed."""
        return self._input.value

    @property
    def loaded(self) -> LoadedImage | LoadedMask | None:
        return self._outcome.loaded

    @property
    def asset_id(self) -> str | None:
        return self._outcome.asset_id

    @property
    def problem(self) -> str | None:
        return self._outcome.problem

    @property
    def reading(self) -> bool:
        """A file is being read: ``loaded`` and ``problem`` are still those of the previous text."""
        return self._reading

    def set_value(self, text: str) -> None:
        """Replace the text (e.g. restoring saved state) and load it now."""
        with self._input.prevent(Input.Changed):
            self._input.value = text
        if self.is_mounted:
            self._load()

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focus the path input."""
        self._input.focus(scroll_visible)
        return self

    # --- loading

    def watch_image_size(self) -> None:
        if self.role == "mask" and self.is_mounted and self._input.value.strip():
            self._load()

    @on(Input.Changed, ".file-path")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        if event.value.strip() != self._requested:
            self._debounce = self.set_timer(self._host.timings.file, self._load)

    @on(Input.Submitted, ".file-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._load()

    @on(Input.Blurred, ".file-path")
    def _blurred(self) -> None:
        if self._input.value.strip() != self._requested:
            self._load()

    def on_descendant_focus(self) -> None:
        self.recheck()  # back from editing the file elsewhere

    def recheck(self) -> None:
        """Read the file again if it changed on disk (or appeared, or went) since it was read."""
        if self._requested and not self._reading and self._outcome.asset_id is None:
            self._recheck()

    @work(group="file-recheck", exclusive=True, exit_on_error=False)
    async def _recheck(self) -> None:
        text = self._requested
        stamp = await asyncio.to_thread(_stamp, text)
        if text == self._requested and not self._reading and stamp != self._outcome.stamp:
            self._load()

    def _load(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self._requested = text = self._input.value.strip()
        if not text:
            self.workers.cancel_group(self, "file-load")
            self._generation += 1  # an outcome still on its way is stale
            self._show(_Outcome())
            return
        self._start(partial(_resolve, self.role, text, self.image_size, self._thumb is not None))

    def _start(self, job: Callable[[], _Outcome]) -> None:
        self._reading = True
        self._generation += 1
        self._info.update(_LOADING)
        self._info.set_class(False, "-problem")
        self.post_message(self.Changed(self))
        self.run_worker(self._run(job, self._generation), group="file-load", exclusive=True, exit_on_error=False)

    async def _run(self, job: Callable[[], _Outcome], generation: int) -> None:
        try:
            outcome = await asyncio.to_thread(job)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must show as a problem, not end the app
            outcome = _Outcome(problem=f"can't load this file ({type(exc).__name__}: {exc})")
        self.post_message(self._Loaded(outcome, generation))

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        message.stop()
        if message.generation == self._generation:
            self._show(message.outcome)

    def _show(self, outcome: _Outcome) -> None:
        self._reading = False
        self._outcome = outcome
        self._info.update(outcome.problem or outcome.info)
        self._info.set_class(outcome.problem is not None, "-problem")
        self._resize.display = outcome.mismatch is not None
        if self._thumb is not None:
            self._thumb.image = outcome.thumb  # type: ignore[attr-defined]
            self._thumb.display = outcome.thumb is not None
            if outcome.thumb is not None:
                self._thumb.styles.width, self._thumb.styles.height = _cell_box(outcome.thumb.size)
        self.refresh_bindings()
        self.post_message(self.Changed(self))

    # --- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resize_mask":
            return self._outcome.mismatch is not None
        return True

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button is self._resize:
            self.action_resize_mask()
        elif event.button is self._edit:
            self.action_edit_mask()
        else:
            self.action_browse()

    def action_resize_mask(self) -> None:
        if (mismatch := self._outcome.mismatch) is not None:
            self._start(partial(_resized, mismatch, self._thumb is not None))

    def action_edit_mask(self) -> None:
        self.post_message(self.EditMask(self))

    def use_file(self, path: Path) -> None:
        """Take a file made for this field (the mask editor's), as if it had been picked."""
        self.set_value(str(path))
        self.focus()

    def action_browse(self) -> None:
        from textual_fspicker import FileOpen, Filters  # only when browsing: keeps start-up light

        filters = Filters(("Images", is_image_path), ("All files", lambda _: True))
        self.app.push_screen(FileOpen(self._browse_folder(), filters=filters, must_exist=True), self._picked)

    def _browse_folder(self) -> Path:
        """The current value's folder when it exists, else where the user last browsed."""
        text = self._input.value.strip()
        if text:
            path = _expand(text)
            folder = path if path.is_dir() else path.parent
            if folder.is_dir() and (path.exists() or "/" in text):
                return folder
        return self._host.ui_state.start_folder()

    def _picked(self, path: Path | None) -> None:
        if path is None:
            return
        self._host.ui_state.last_folder = str(path.parent)
        self.set_value(str(shown_path(path)))
        self.focus()
