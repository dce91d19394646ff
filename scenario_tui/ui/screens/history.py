"""The history: every run in the engine's store, filtered by text and state, each with a thumbnail.

From here a run's parameters go back into the form, a run is re-run (through the form's own submit:
quote, confirmation and cost rules as always), a result becomes the next input (the engine records
the lineage), and results are starred or discarded (discarding hides, it never deletes a file).
The screen hands its decisions to the main screen as the result it is dismissed with.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from scenario_tui.core import params as P
from scenario_tui.core.boundary import printable
from scenario_tui.core.store import ResultRecord, Run, RunState
from scenario_tui.ui.actions import Where, bindings
from scenario_tui.ui.images import thumbnail_class
from scenario_tui.ui.paths import shown_path
from scenario_tui.ui.screens.confirm import ConfirmScreen
from scenario_tui.ui.services import app_of
from scenario_tui.ui.widgets.chrome import KeyFooter
from scenario_tui.ui.widgets.jobs import state_label

HISTORY_LIMIT = 500  # runs listed at most
THUMB_CELLS = (8, 3)  # columns x rows of a row's thumbnail (half-cell: 8 x 6 pixels)

# The state filter, cycled with a key: (name shown, the run states it keeps; none = all).
STATE_FILTERS: tuple[tuple[str, tuple[RunState, ...]], ...] = (
    ("all", ()),
    ("succeeded", (RunState.SUCCESS,)),
    ("failed", (RunState.FAILURE, RunState.REFUSED, RunState.LOST)),
    ("canceled", (RunState.CANCELED,)),
    ("unfinished", (RunState.INTENT, RunState.UNSURE, RunState.RUNNING)),
)


@dataclass
class LoadRun(Message):
    """Put ``run``'s parameters and files back into the form; with ``submit``, submit it then (a re-run)."""

    run: Run
    new_seed: bool = False  # a random seed instead of the run's own
    submit: bool = False


@dataclass
class UseResult(Message):
    """Make one saved result the form's input image (the next run records it as its parent)."""

    run: Run
    index: int
    path: Path


@dataclass(frozen=True)
class FormLoad:
    """A run as the form takes it: plain values by API name, the files that still exist, those that don't."""

    values: dict[str, Any]
    seed_mode: str
    image: str = ""
    mask: str = ""
    references: list[tuple[str, str]] = field(default_factory=list)  # (path or asset id, scale)
    missing: list[str] = field(default_factory=list)  # "image in.png", "reference 2 r2.png", …


def _recorded(value: Any) -> bool:
    """A value as sent, not the stand-in the store keeps for a data URL ("<image/png data URL, 3 KiB>")."""
    return not (isinstance(value, str) and value.startswith("<") and "data URL" in value)


def form_load(run: Run, *, new_seed: bool = False) -> FormLoad:
    """What the form should hold to send ``run`` again: inputs by path when they still exist on disk."""
    params = {k: v for k, v in run.params.items() if k in P.PARAM_INFO and v is not None and _recorded(v)}
    files = {f"{i['field']}{i.get('index', '')}": i for i in run.inputs if i.get("path")}
    missing: list[str] = []

    def existing(key: str, what: str) -> str:
        record = files.get(key)
        if record is None:
            return ""
        path = Path(record["path"])
        if path.is_file():
            return str(shown_path(path))
        missing.append(f"{what} {record.get('name') or path.name}")
        return ""

    image = existing("image", "input image")
    if "image" in files:
        params.pop("image", None)  # the asset id it was uploaded as: the file is the input
    elif isinstance(params.get("image"), str):
        image = params.pop("image")  # an asset id typed by the user
    mask = existing("mask", "mask")
    params.pop("mask", None)
    scales = [str(s) for s in params.pop("ipAdapterScales", None) or []]
    ref_files = sorted((int(i.get("index", 0)), key) for key, i in files.items() if i["field"] == "ipAdapterImages")
    references: list[tuple[str, str]] = []
    if ref_files:
        params.pop("ipAdapterImageIds", None)  # the uploads of those files
        for position, (index, key) in enumerate(ref_files):
            path = existing(key, f"reference {index + 1}")
            if path:
                references.append((path, scales[position] if position < len(scales) else ""))
    params.pop("ipAdapterImages", None)
    params.pop("ipAdapterImage", None)
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name == "concepts" and isinstance(value, list):
            value = ", ".join(":".join(str(c[k]) for k in ("modelId", "scale", "modelEpoch") if k in c)
                              for c in value if isinstance(c, dict))
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        values[name] = value
    seed = None if new_seed else (str(run.seed) if run.seed else values.get("seed"))
    values["seed"] = seed
    return FormLoad(values, "random" if seed is None else "fixed", image, mask, references, missing)


def when(t: float) -> str:
    """A wall-clock time in local time, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def excerpt(prompt: str, limit: int = 70) -> str:
    text = " ".join(prompt.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_results(run: Run, show_discarded: bool) -> list[ResultRecord]:
    return [r for r in run.results if show_discarded or not r.discarded]


def _thumb_of(path: Path) -> Image.Image | None:
    """A small copy of a result for a row (None when it can't be read: moved, deleted, not an image)."""
    try:
        with Image.open(path) as image:
            image.thumbnail((THUMB_CELLS[0] * 4, THUMB_CELLS[1] * 8))
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


class HistoryRow(Horizontal):
    """One run: its thumbnail, then state, cost, time and seed; the prompt; ids, results and lineage."""

    DEFAULT_CSS = f"""
    HistoryRow {{ height: {THUMB_CELLS[1]}; margin-bottom: 1; }}
    HistoryRow.-selected {{ background: $boost; }}
    HistoryRow .history-thumb {{ width: {THUMB_CELLS[0]}; height: {THUMB_CELLS[1]}; margin-right: 1; }}
    HistoryRow .history-text {{ width: 1fr; height: {THUMB_CELLS[1]}; text-wrap: nowrap; text-overflow: ellipsis; }}
    """

    def __init__(self, run: Run, image_cls: type[Widget] | None) -> None:
        super().__init__(id=f"history-{run.id}")
        self.run = run
        self.thumb: Widget | None = image_cls(classes="history-thumb") if image_cls else None
        self.thumb_loaded = False
        self._text = Static(classes="history-text", markup=False)

    def compose(self) -> ComposeResult:
        if self.thumb is not None:
            yield self.thumb
        yield self._text

    def on_mount(self) -> None:
        self.sync(self.run)

    def sync(self, run: Run) -> None:
        self.run = run
        cost = f"{run.cost:g} CU" if run.cost is not None else f"quoted {run.quote:g} CU" if run.quote else "no cost"
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(state_label(run), style="bold")
        head.append(f" · {cost} · {when(run.created)} · seed {run.seed or '—'}")
        starred = sum(r.starred for r in run.results)
        discarded = sum(r.discarded for r in run.results)
        tail = [f"run {run.id}", f"job {run.job_id}" if run.job_id else "no job",
                f"{len(run.files)} saved" if run.results else "no results"]
        if starred:
            tail.append(f"★ {starred}")
        if discarded:
            tail.append(f"{discarded} discarded")
        if run.parent_run:
            tail.append(f"from {run.parent_run} #{(run.parent_result or 0) + 1}")
        lines = [head, Text(printable(excerpt(run.prompt, 200)) or "(no prompt)", no_wrap=True, overflow="ellipsis"),
                 Text(printable(" · ".join(tail)), style="dim", no_wrap=True, overflow="ellipsis")]
        self._text.update(Text("\n").join(lines))

    def thumb_path(self) -> Path | None:
        """The first saved result that isn't discarded."""
        return next((Path(r.file) for r in self.run.results if r.file and not r.discarded), None)

    def set_thumb(self, image: Image.Image | None) -> None:
        self.thumb_loaded = True
        if self.thumb is not None:
            self.thumb.image = image  # type: ignore[attr-defined]


class HistoryList(VerticalScroll, can_focus=True):
    """The rows. Up and down move the selection (scrolling along), not just the view."""

    BINDINGS = [
        Binding("up", "screen.select(-1)", "Previous run", show=False),
        Binding("down", "screen.select(1)", "Next run", show=False),
        Binding("pageup", "screen.select(-5)", "Five runs up", show=False),
        Binding("pagedown", "screen.select(5)", "Five runs down", show=False),
        Binding("left", "screen.result(-1)", "Previous result", show=False),
        Binding("right", "screen.result(1)", "Next result", show=False),
    ]


class HistoryScreen(Screen[LoadRun | UseResult | None]):
    """Past runs, newest first. Keys act on the selected run and, for star/discard/use, its selected result."""

    DEFAULT_CSS = """
    HistoryScreen #history-bar { height: 1; }
    HistoryScreen #history-filter { width: 1fr; }
    HistoryScreen #history-state { width: auto; padding: 0 1; color: $text-muted; }
    HistoryScreen #history-list { height: 1fr; padding: 0 1; }
    HistoryScreen #history-list:focus HistoryRow.-selected { background: $accent 30%; }
    HistoryScreen #history-empty { color: $text-muted; }
    HistoryScreen #history-detail {
        height: auto; max-height: 8; padding: 0 1; border-top: solid $primary-darken-2;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    BINDINGS = bindings(Where.HISTORY)

    def __init__(self) -> None:
        super().__init__()
        self.state_filter = 0
        self.show_discarded = False
        self.selected = 0
        self.result_index = 0
        self.rows: list[HistoryRow] = []
        self._reload_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(" History ", id="topbar")
        with Horizontal(id="history-bar"):
            yield Input(placeholder="/ filter: prompt, run or job id, model, seed", id="history-filter", compact=True)
            yield Static(id="history-state", markup=False)
        yield HistoryList(Static("No runs.", id="history-empty"), id="history-list")
        yield Static(id="history-detail", markup=False)
        yield KeyFooter()

    async def on_mount(self) -> None:
        await self.reload()
        self.set_focus(self.query_one("#history-list"))

    # ------------------------------------------------------------------ listing

    @property
    def run(self) -> Run | None:
        return self.rows[self.selected].run if self.rows else None

    async def reload(self) -> None:
        """List the runs matching the filters again (the store is the truth: other processes add runs)."""
        name, states = STATE_FILTERS[self.state_filter]
        self.query_one("#history-state", Static).update(f"state: {name} (t)")
        text = self.query_one("#history-filter", Input).value.strip()
        runs = app_of(self).engine.store.runs(limit=HISTORY_LIMIT, text=text, states=states)
        keep = self.run.id if self.run else None
        listing = self.query_one(HistoryList)
        await listing.remove_children(HistoryRow)
        image_cls = thumbnail_class(app_of(self).image_cls)
        self.rows = [HistoryRow(run, image_cls) for run in runs]
        self.query_one("#history-empty").display = not self.rows
        if self.rows:
            await listing.mount_all(self.rows)
        self.selected = next((i for i, row in enumerate(self.rows) if row.run.id == keep), 0)
        self.result_index = 0
        self._select(self.selected)
        if image_cls is not None:
            self._load_thumbs()

    @work(exclusive=True, group="history-thumbs", exit_on_error=False)
    async def _load_thumbs(self) -> None:
        """Thumbnails, one file at a time off the UI thread, in list order."""
        for row in list(self.rows):
            if not row.thumb_loaded and row.is_mounted:
                path = row.thumb_path()
                row.set_thumb(await asyncio.to_thread(_thumb_of, path) if path else None)

    def _select(self, index: int) -> None:
        for i, row in enumerate(self.rows):
            row.set_class(i == index, "-selected")
        self.selected = index
        if self.rows:
            self.rows[index].scroll_visible(animate=False)
        self._show_detail()

    def _show_detail(self) -> None:
        run = self.run
        detail = self.query_one("#history-detail", Static)
        if run is None:
            detail.update("")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        results = shown_results(run, self.show_discarded)
        if not results:
            text.append("no results" + (" shown (a: show discarded)" if run.results else ""), style="dim")

        folders = {shown_path(Path(r.file)).parent for r in results if r.file}
        one_folder = len(folders) == 1  # then said once, and the files by name
        if one_folder:
            text.append(printable(f"in {folders.pop()}/") + "\n", style="dim")
        for position, result in enumerate(results):
            marks = ("★ " if result.starred else "") + ("discarded " if result.discarded else "")
            path = shown_path(Path(result.file)) if result.file else None
            name = "(not saved)" if path is None else path.name if one_folder else str(path)
            style = "reverse" if position == self.result_index else ""
            text.append(f"{'▸' if position == self.result_index else ' '} {result.index + 1}. {marks}", style=style)
            text.append(printable(name), style=style)
            text.append("\n")
        if results and len(results) < len(run.results):
            text.append(f"{len(run.results) - len(results)} discarded, hidden (a: show)\n", style="dim")
        if run.error:
            text.append(printable(f"error: {run.error}"), style="red")
        text.rstrip()
        detail.update(text)

    def _result(self) -> ResultRecord | None:
        run = self.run
        results = shown_results(run, self.show_discarded) if run else []
        return results[min(self.result_index, len(results) - 1)] if results else None

    def _refresh_run(self, run: Run) -> None:
        row = self.rows[self.selected]
        row.sync(run)
        if not row.thumb_loaded or row.thumb_path() is None:
            row.thumb_loaded = False
            self._load_thumbs()
        results = shown_results(run, self.show_discarded)
        self.result_index = max(0, min(self.result_index, len(results) - 1))
        self._show_detail()

    # ------------------------------------------------------------------ filtering

    @on(Input.Changed, "#history-filter")
    def _typed(self) -> None:
        if self._reload_timer is not None:
            self._reload_timer.stop()
        self._reload_timer = self.set_timer(app_of(self).timings.filter, self.reload)

    @on(Input.Submitted, "#history-filter")
    async def _filter_done(self) -> None:
        if self._reload_timer is not None:
            self._reload_timer.stop()
        await self.reload()
        self.set_focus(self.query_one("#history-list"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "find":  # a "/" typed in the filter is text
            return self.focused is not self.query_one("#history-filter")
        return True

    def action_delete_file(self) -> None:
        """Delete a discarded result's file, once the user says yes (nothing else ever deletes one)."""
        run, result = self.run, self._result()
        if run is None or result is None or not result.discarded or not result.file:
            self.notify("Only a discarded result's file can be deleted (d discards it first).", timeout=4)
            return
        path = Path(result.file)
        if not path.is_file():
            self.notify(f"{shown_path(path)} is already gone.", markup=False, timeout=4)
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                path.unlink()
            except OSError as exc:
                self.notify(f"Couldn't delete {shown_path(path)}: {exc.strerror or exc}", severity="error",
                            markup=False)
                return
            self.notify(f"Deleted {shown_path(path)}", markup=False, timeout=4)
            self._refresh_run(run)

        self.app.push_screen(ConfirmScreen(f"Delete {shown_path(path)} from the disk? This can't be undone.",
                                           yes="Delete", no="Keep"), answer)

    def action_find(self) -> None:
        self.set_focus(self.query_one("#history-filter", Input))  # now, not on a later turn like Widget.focus

    async def action_next_state(self) -> None:
        self.state_filter = (self.state_filter + 1) % len(STATE_FILTERS)
        await self.reload()

    # ------------------------------------------------------------------ moving

    def action_select(self, step: int) -> None:
        if self.rows:
            self.result_index = 0
            self._select(max(0, min(self.selected + step, len(self.rows) - 1)))

    def action_result(self, step: int) -> None:
        run = self.run
        if run is not None:
            count = len(shown_results(run, self.show_discarded))
            self.result_index = max(0, min(self.result_index + step, count - 1))
            self._show_detail()

    def action_back(self) -> None:
        if self.focused is self.query_one("#history-filter"):
            self.set_focus(self.query_one("#history-list"))
        else:
            self.dismiss(None)

    # ------------------------------------------------------------------ acting

    def action_open(self) -> None:
        if run := self.run:
            self.dismiss(LoadRun(run))

    def action_rerun(self, new_seed: bool) -> None:
        if run := self.run:
            self.dismiss(LoadRun(run, new_seed=new_seed, submit=True))

    def action_use(self) -> None:
        run, result = self.run, self._result()
        if run is None:
            return
        if result is None or not result.file:
            self.notify("This run has no saved result to use.", severity="warning")
        elif not Path(result.file).is_file():
            self.notify(f"{shown_path(Path(result.file))} is no longer there.", severity="warning", markup=False)
        else:
            self.dismiss(UseResult(run, result.index, Path(result.file)))

    def action_star(self) -> None:
        run, result = self.run, self._result()
        if run is not None and result is not None:
            self._refresh_run(app_of(self).engine.store.mark_result(run.id, result.index, starred=not result.starred))

    def action_discard(self) -> None:
        """Hide a result from the history (or take it back); its file stays on disk."""
        run, result = self.run, self._result()
        if run is not None and result is not None:
            discard = not result.discarded
            self._refresh_run(app_of(self).engine.store.mark_result(run.id, result.index, discarded=discard))
            if discard and result.file:
                self.notify(f"Discarded {shown_path(Path(result.file)).name} (the file is kept; x deletes it)",
                            markup=False, timeout=4)

    def action_show_discarded(self) -> None:
        self.show_discarded = not self.show_discarded
        self.result_index = 0
        for row in self.rows:
            row.sync(row.run)
        self._show_detail()
