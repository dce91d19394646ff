"""The jobs panel: one row per run from the engine's store, followed to its end, with details for the selected one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from scenario_tui.core.api import ApiError
from scenario_tui.core.boundary import printable
from scenario_tui.core.engine import Event, FileSaved, NeedsDecision, Notice, RunChanged
from scenario_tui.core.store import Run, RunState
from scenario_tui.ui.actions import Where, bindings
from scenario_tui.ui.paths import shown_path
from scenario_tui.ui.services import app_of

HISTORY_ROWS = 50  # earlier runs shown at start
SUBMITTING = "submitting…"
QUEUED = "queued"
IN_PROGRESS = "in progress"
FINALIZING = "finalizing"
SAVING = "saving results"
SUCCESS = "success"
FAILED = "failed"
CANCELED = "canceled"
NOT_SUBMITTED = "not submitted"
UNSURE = "answer lost"
LOST = "tracking stopped"
UNKNOWN_PREFIX = "unknown: "

_RUNNING_LABELS = {
    "pending": QUEUED,
    "queued": QUEUED,
    "warmingup": QUEUED,
    "inprogress": IN_PROGRESS,
    "finalizing": FINALIZING,
}
_ENDED_LABELS = {RunState.SUCCESS: SUCCESS, RunState.FAILURE: FAILED, RunState.CANCELED: CANCELED,
                 RunState.REFUSED: NOT_SUBMITTED, RunState.LOST: LOST, RunState.INTENT: SUBMITTING,
                 RunState.UNSURE: UNSURE}
_GLYPHS = {
    SUBMITTING: "↑",
    QUEUED: "◌",
    IN_PROGRESS: "▶",
    FINALIZING: "▶",
    SAVING: "↓",
    SUCCESS: "✓",
    FAILED: "✗",
    CANCELED: "⊘",
    NOT_SUBMITTED: "✗",
    UNSURE: "?",
    LOST: "!",
}
_SEPARATORS = re.compile(r"[\s_-]+")
_SHORT_ID = 8
_PROMPT = 24  # characters of the prompt in a job's label
TWO_LINES_BELOW = 64  # a row narrower than this puts its label on a second line
_MAX_VALUE = 80


def state_label(run: Run) -> str:
    """The word shown for a run; unrecognised job statuses are shown verbatim."""
    if run.state is RunState.SUCCESS and run.missing_results:
        return SAVING
    if run.state is not RunState.RUNNING:
        return _ENDED_LABELS[run.state]
    known = _RUNNING_LABELS.get(_SEPARATORS.sub("", run.raw_status.lower()))
    return known or f"{UNKNOWN_PREFIX}{run.raw_status}"


def format_elapsed(seconds: float) -> str:
    """m:ss (minutes keep counting past an hour)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


@dataclass(eq=False)
class JobEntry:
    """What the panel shows of one run: the store's snapshot, and a note of this session's."""

    run: Run
    note: str | None = None

    @property
    def key(self) -> str:
        return self.run.id

    @property
    def job_id(self) -> str | None:
        return self.run.job_id

    @property
    def state(self) -> str:
        return state_label(self.run)

    @property
    def raw_status(self) -> str:
        return self.run.raw_status

    @property
    def progress(self) -> float:
        return 1.0 if self.run.state is RunState.SUCCESS else self.run.progress

    @property
    def cost(self) -> float | None:
        return self.run.cost

    @property
    def results(self) -> list[Path]:
        return self.run.files

    @property
    def error(self) -> str | None:
        return self.run.error

    @property
    def hint(self) -> str | None:
        return self.run.hint

    @property
    def running(self) -> bool:
        """Still being worked on: submitting, running on the server, or saving its results."""
        return self.run.unfinished and self.run.state is not RunState.UNSURE

    @property
    def short_id(self) -> str:
        """The start of the job id, after its ``job_`` prefix: enough to tell jobs apart."""
        job_id = self.run.job_id
        return "—" if job_id is None else job_id.removeprefix("job_")[:_SHORT_ID]

    @property
    def label(self) -> str:
        """What tells this run from the others: short job id, the start of the prompt, the seed."""
        parts = [self.short_id]
        if prompt := " ".join(self.run.prompt.split()):
            parts.append(prompt if len(prompt) <= _PROMPT else prompt[: _PROMPT - 1] + "…")
        if self.run.seed:
            parts.append(f"seed {self.run.seed}")
        return " · ".join(parts)

    def elapsed(self, now: float) -> float:
        return (self.run.finished if self.run.finished is not None else now) - self.run.created

    def details(self, now: float) -> Text:
        """The detail area's text: no markup and no control characters (any value may come from the server
        or a file)."""
        run = self.run
        text = Text()

        def line(value: str, style: str = "") -> None:
            text.append(printable(value) + "\n", style=style)

        head = f"{run.job_id or '(no job id)'} · {self.state} · {self.progress:.0%}"
        head += f" · {format_elapsed(self.elapsed(now))}"
        if run.cost is not None:
            head += f" · {run.cost:g} CU"
        line(head, "bold")
        line(f"model: {run.model_name}")
        if run.seed:
            line(f"seed: {run.seed}")
        for note in (self.note, run.note):
            if note:
                line(f"note: {note}", "italic")
        if run.error:
            line(f"error: {run.error}", "red")
        if run.hint:
            line(f"hint: {run.hint}")
        if run.files:
            line("results:")
            for path in run.files:
                line(f"  {shown_path(path)}")
        params = [(k, v) for k, v in run.params.items() if v is not None]
        if params:
            line("parameters:", "dim")
            for key, value in params:
                line(f"  {key}: {_compact(value)}", "dim")
        text.rstrip()
        return text


class JobRow(Widget):
    """One run: glyph, state and label (short job id, seed, prompt); a progress bar; elapsed time and cost.

    Narrower than ``TWO_LINES_BELOW`` (the side column at 80x24), the label goes on a second line
    so the state, %, time and cost stay whole.
    """

    DEFAULT_CSS = """
    JobRow { height: 1; layout: vertical; }
    JobRow.-two-lines { height: 2; }
    JobRow.-selected { background: $boost; }
    JobRow.-selected .job-status { text-style: bold; }
    JobRow > Horizontal { height: 1; }
    JobRow Static { text-wrap: nowrap; text-overflow: ellipsis; }
    JobRow .job-status { width: 1fr; }
    JobRow ProgressBar { width: auto; }
    JobRow Bar { width: 10; }
    JobRow.-two-lines Bar { width: 6; }
    JobRow .job-meta { width: 12; text-align: right; }
    JobRow .job-label { display: none; height: 1; padding-left: 2; color: $text-muted; }
    JobRow.-two-lines .job-label { display: block; }
    """

    def __init__(self, entry: JobEntry) -> None:
        super().__init__(id=f"job-row-{entry.key}")
        self.entry = entry
        self._status = Static(classes="job-status")
        self._meta = Static(classes="job-meta")
        self._label = Static(classes="job-label")
        self._bar = ProgressBar(total=100, show_eta=False)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield self._status
            yield self._bar
            yield self._meta
        yield self._label

    def on_mount(self) -> None:
        self.sync(app_of(self).clock())

    def on_resize(self, event: events.Resize) -> None:
        two_lines = event.size.width < TWO_LINES_BELOW
        if two_lines != self.has_class("-two-lines"):
            self.set_class(two_lines, "-two-lines")
            self.sync(app_of(self).clock())

    def sync(self, now: float) -> None:
        """Show the entry's current state, repainting only what changed."""
        entry = self.entry
        state = f"{_GLYPHS.get(entry.state, '?')} {entry.state}"
        if self.has_class("-two-lines"):
            _set_line(self._status, state)
            _set_line(self._label, entry.label)
        else:
            _set_line(self._status, f"{state}  {entry.label}")
            _set_line(self._label, "")
        self._bar.update(progress=entry.progress * 100)
        self.tick(now)

    def tick(self, now: float) -> None:
        cost = f"{self.entry.cost:g} CU" if self.entry.cost is not None else ""
        _set_line(self._meta, f"{format_elapsed(self.entry.elapsed(now))} {cost}".rstrip())


def _set_line(static: Static, line: str) -> None:
    """Update a fixed-size one-line Static (no layout pass), unless it already says ``line`` (shown as
    plain text without control characters)."""
    line = printable(line)
    if str(static.content) != line:
        static.update(Text(line, no_wrap=True, overflow="ellipsis"), layout=False)


class JobPanel(Widget, can_focus=True):
    """Runs newest first: earlier sessions' from the store, and this one's; unfinished ones are followed."""

    DEFAULT_CSS = """
    JobPanel { height: 1fr; layout: vertical; }
    JobPanel #job-list { height: 1fr; min-height: 3; }
    JobPanel #job-empty { color: $text-muted; }
    JobPanel #job-detail-scroll { height: auto; max-height: 50%; border-top: solid $primary-darken-2; }
    JobPanel:focus #job-detail-scroll { border-top: solid $accent; }
    JobPanel:focus JobRow.-selected { background: $accent 30%; }
    """

    BINDINGS = bindings(Where.JOBS)

    selected_key: reactive[str | None] = reactive(None, init=False)

    class Selected(Message):
        """The highlighted job changed, or Enter was pressed on it."""

        def __init__(self, entry: JobEntry) -> None:
            super().__init__()
            self.entry = entry

    class Finished(Message):
        """A run stopped: its job succeeded (results saved), failed, was canceled, or can't be followed."""

        def __init__(self, entry: JobEntry) -> None:
            super().__init__()
            self.entry = entry

    class EngineEvent(Message):
        """An event of the engine, delivered on the UI's own turn."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    @dataclass
    class Noted(Message):
        """A worker's note on a run, shown on the UI's own turn; ``ended``: the run is no longer followed."""

        run_id: str
        note: str
        ended: bool = False

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.entries: list[JobEntry] = []
        self._rows: dict[str, JobRow] = {}
        self._followed: dict[Worker[None], str] = {}
        self._unsubscribe: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="job-list", can_focus=False):
            yield Static("No jobs yet.", id="job-empty")
        with VerticalScroll(id="job-detail-scroll", can_focus=False):
            yield Static(id="job-detail")

    def on_mount(self) -> None:
        engine = app_of(self).engine
        def deliver(event: Event) -> None:
            self.post_message(self.EngineEvent(event))

        self._unsubscribe = engine.subscribe(deliver)
        self.set_interval(app_of(self).timings.tick, self._tick)
        for run in reversed(engine.store.runs(limit=HISTORY_ROWS)):
            self._show(run, select=False)
        if self.entries:
            self.selected_key = self.entries[0].key
        self._resume()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    # ------------------------------------------------------------------ public API

    @property
    def selected(self) -> JobEntry | None:
        return self._entry(self.selected_key)

    @property
    def running_count(self) -> int:
        return sum(1 for entry in self.entries if entry.running)

    def follow(self, run: Run) -> None:
        """Follow a run just submitted until it ends and its results are saved.

        Its row comes (and changes) with the engine's events, in the order they happened.
        """
        if run.unfinished:
            self._followed[self._follow(run.id)] = run.id

    def cancel(self, entry: JobEntry) -> None:
        """Ask the server to cancel; the job's real end still comes from polling."""
        if not entry.running:
            self._note(entry, f"this job has already ended ({entry.state})")
            return
        if entry.job_id is None:
            self._note(entry, "still submitting: there is no job to cancel yet")
            return
        self._note(entry, "asking the server to cancel…")
        self._ask_cancel(entry.key)

    @work(group="cancel", exit_on_error=False)
    async def _ask_cancel(self, run_id: str) -> None:
        try:
            outcome = await app_of(self).engine.cancel(run_id)
        except ApiError as exc:
            self.post_message(self.Noted(run_id, f"cancel failed: {exc}; the job keeps running"))
            return
        if outcome.accepted:
            self.post_message(self.Noted(run_id, "cancel requested"))
        else:
            self.post_message(self.Noted(run_id, f"the server refused to cancel: {outcome.message}; "
                                                 "the job keeps running"))

    # ------------------------------------------------------------------ actions

    def action_select(self, step: int) -> None:
        if not self.entries:
            return
        current = self.selected
        index = self.entries.index(current) + step if current else 0
        self.selected_key = self.entries[max(0, min(index, len(self.entries) - 1))].key

    def action_show(self) -> None:
        if entry := self.selected:
            self.post_message(self.Selected(entry))

    def action_cancel(self) -> None:
        """Cancel the selected job after a yes (the safe answer, No, is the default); a job that can't be
        canceled is told at once."""
        entry = self.selected
        if entry is None:
            return
        if not entry.running or entry.job_id is None:
            self.cancel(entry)  # says why there is nothing to cancel
            return
        from scenario_tui.ui.screens.confirm import ConfirmScreen

        prompt = " ".join(entry.run.prompt.split())
        prompt = prompt if len(prompt) <= 60 else prompt[:59] + "…"
        cost = f", {entry.cost:g} CU" if entry.cost is not None else ""
        question = printable(f"Cancel job {entry.job_id} ({entry.state}{cost}: \"{prompt}\")? The server may "
                             "refuse; the job's real end comes from following it.")

        def answer(yes: bool | None) -> None:
            if yes:
                self.cancel(entry)

        self.app.push_screen(ConfirmScreen(question, yes="Cancel job", no="Keep it"), answer)

    # ------------------------------------------------------------------ following runs

    @work(group="poll", exit_on_error=False)
    async def _resume(self) -> None:
        """Take up what earlier sessions left: jobs still running, results not saved, answers lost."""
        await app_of(self).engine.resume()

    @work(group="poll", exit_on_error=False)
    async def _follow(self, run_id: str) -> None:
        try:
            await app_of(self).engine.follow(run_id)
        except (ApiError, OSError) as exc:
            self.post_message(self.Noted(run_id, f"following stopped: {exc} (the job may still be running; it is "
                                                 "taken up again at the next start)", ended=True))

    @on(Noted)
    def _on_noted(self, message: Noted) -> None:
        entry = self._entry(message.run_id)
        if entry is None:
            return
        self._note(entry, message.note)
        if message.ended:
            self.post_message(self.Finished(entry))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A follower that crashed ends its run's tracking, not the app."""
        run_id = self._followed.get(event.worker)
        if run_id is None or event.state not in (WorkerState.ERROR, WorkerState.SUCCESS, WorkerState.CANCELLED):
            return
        del self._followed[event.worker]
        entry = self._entry(run_id)
        if event.state is WorkerState.ERROR and entry is not None:
            self._note(entry, f"following this job failed: {event.worker.error!r}")
            self.post_message(self.Finished(entry))

    @on(EngineEvent)
    def _on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, RunChanged | FileSaved):
            before = self._entry(event.run.id)
            was_open = before is not None and before.run.unfinished
            entry = self._show(event.run, select=before is None and event.run.state is RunState.INTENT)
            if was_open and not entry.run.unfinished:
                self.post_message(self.Finished(entry))
        elif isinstance(event, Notice | NeedsDecision) and event.run is not None:
            noted = self._entry(event.run.id)
            if noted is not None:
                self._note(noted, event.message if isinstance(event, Notice) else event.question)

    # ------------------------------------------------------------------ display

    def _entry(self, key: str | None) -> JobEntry | None:
        return next((e for e in self.entries if e.key == key), None)

    def _show(self, run: Run, *, select: bool = True) -> JobEntry:
        """Add a row for ``run`` (newest first) or bring its row up to date."""
        entry = self._entry(run.id)
        if entry is None:
            entry = JobEntry(run)
            self.entries.insert(0, entry)
            row = JobRow(entry)
            self._rows[entry.key] = row
            self.query_one("#job-empty").display = False
            self.query_one("#job-list").mount(row, before=0)
            if select:
                self.selected_key = entry.key
        else:
            entry.run = run
            self._changed(entry)
        return entry

    def _now(self) -> float:
        return app_of(self).clock()

    def _note(self, entry: JobEntry, note: str) -> None:
        entry.note = note
        self._changed(entry)

    def _changed(self, entry: JobEntry) -> None:
        """Refresh one row in place (and the details, when it is the selected job)."""
        row = self._rows[entry.key]
        if row.is_mounted:
            row.sync(self._now())
        if entry.key == self.selected_key:
            self._show_details(entry)

    def _show_details(self, entry: JobEntry | None) -> None:
        detail = self.query_one("#job-detail", Static)
        text = entry.details(self._now()) if entry else Text()
        if str(detail.content) != text.plain:
            detail.update(text)

    def _tick(self) -> None:
        now = self._now()
        for entry in self.entries:
            if entry.running and self._rows[entry.key].is_mounted:
                self._rows[entry.key].tick(now)
        if (selected := self.selected) and selected.running:
            self._show_details(selected)

    def watch_selected_key(self, old: str | None, new: str | None) -> None:
        if old in self._rows:
            self._rows[old].remove_class("-selected")
        entry = self.selected
        self._show_details(entry)
        if entry is None:
            return
        row = self._rows[entry.key]
        row.add_class("-selected")
        row.scroll_visible(animate=False)
        self.post_message(self.Selected(entry))
