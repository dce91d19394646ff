"""The jobs panel: one row per generation job, polled to its end, with details for the selected one."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from scenario_tui.core.api import ApiError, Job, JobState, Submission
from scenario_tui.core.jobs import PollSchedule, follow, save_results

SUBMITTING = "submitting…"
QUEUED = "queued"
IN_PROGRESS = "in progress"
FINALIZING = "finalizing"
SUCCESS = "success"
FAILED = "failed"
CANCELED = "canceled"
NOT_SUBMITTED = "not submitted"
LOST = "tracking stopped"
UNKNOWN_PREFIX = "unknown: "

_RUNNING_LABELS = {
    "pending": QUEUED,
    "queued": QUEUED,
    "warmingup": QUEUED,
    "inprogress": IN_PROGRESS,
    "finalizing": FINALIZING,
}
_TERMINAL_LABELS = {JobState.SUCCESS: SUCCESS, JobState.FAILURE: FAILED, JobState.CANCELED: CANCELED}
_GLYPHS = {
    SUBMITTING: "↑",
    QUEUED: "◌",
    IN_PROGRESS: "▶",
    FINALIZING: "▶",
    SUCCESS: "✓",
    FAILED: "✗",
    CANCELED: "⊘",
    NOT_SUBMITTED: "✗",
    LOST: "!",
}
_SEPARATORS = re.compile(r"[\s_-]+")
_SHORT_ID = 10
_MAX_VALUE = 80


def state_label(job: Job) -> str:
    """The word shown for a job's status; unrecognised statuses are shown verbatim."""
    if job.state in _TERMINAL_LABELS:
        return _TERMINAL_LABELS[job.state]
    known = _RUNNING_LABELS.get(_SEPARATORS.sub("", job.raw_status.lower()))
    return known or f"{UNKNOWN_PREFIX}{job.raw_status}"


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
    """What the panel knows about one job, from the moment it is submitted."""

    key: str
    record: dict[str, Any]
    seed: str | None
    model_name: str
    started: float
    job_id: str | None = None
    state: str = SUBMITTING
    raw_status: str = ""
    progress: float = 0.0
    cost: float | None = None
    finished: float | None = None
    results: list[Path] = field(default_factory=list)
    error: str | None = None
    hint: str | None = None
    note: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def short_id(self) -> str:
        if self.job_id is None:
            return "—"
        return self.job_id if len(self.job_id) <= _SHORT_ID else self.job_id[:_SHORT_ID] + "…"

    def elapsed(self, now: float) -> float:
        return (self.finished if self.finished is not None else now) - self.started

    def apply(self, job: Job) -> None:
        """Take in a polled job's status."""
        self.raw_status = job.raw_status
        self.state = state_label(job)
        self.progress = 1.0 if job.state is JobState.SUCCESS else job.progress
        self.error, self.hint = job.error, job.hint

    def details(self, now: float) -> Text:
        """The detail area's text (no markup: every value may come from the server or a file)."""
        text = Text()
        head = f"{self.job_id or '(no job id)'} · {self.state} · {self.progress:.0%}"
        head += f" · {format_elapsed(self.elapsed(now))}"
        if self.cost is not None:
            head += f" · {self.cost:g} CU"
        text.append(head + "\n", style="bold")
        text.append(f"model: {self.model_name}\n")
        if self.note:
            text.append(f"note: {self.note}\n", style="italic")
        if self.error:
            text.append(f"error: {self.error}\n", style="red")
        if self.hint:
            text.append(f"hint: {self.hint}\n")
        if self.results:
            text.append("results:\n")
            for path in self.results:
                text.append(f"  {path}\n")
        params = [(k, v) for k, v in self.record.items() if v is not None]
        if params:
            text.append("parameters:\n", style="dim")
            for key, value in params:
                text.append(f"  {key}: {_compact(value)}\n", style="dim")
        text.rstrip()
        return text


class JobRow(Horizontal):
    """One job's line: glyph, state and id; a progress bar; elapsed time and cost."""

    DEFAULT_CSS = """
    JobRow { height: 1; }
    JobRow.-selected { background: $boost; }
    JobRow.-selected .job-status { text-style: bold; }
    JobRow .job-status { width: 1fr; min-width: 16; }
    JobRow ProgressBar { width: auto; }
    JobRow Bar { width: 20; }
    JobRow .job-meta { width: 16; text-align: right; }
    """

    def __init__(self, entry: JobEntry) -> None:
        super().__init__(id=f"job-row-{entry.key}")
        self.entry = entry
        self._status = Static(classes="job-status")
        self._meta = Static(classes="job-meta")
        self._bar = ProgressBar(total=100, show_eta=False)

    def compose(self) -> ComposeResult:
        yield self._status
        yield self._bar
        yield self._meta

    def on_mount(self) -> None:
        self.sync(self.app.clock())

    def sync(self, now: float) -> None:
        """Show the entry's current state, repainting only what changed."""
        entry = self.entry
        _set_line(self._status, f"{_GLYPHS.get(entry.state, '?')} {entry.state}  {entry.short_id}")
        self._bar.update(progress=entry.progress * 100)
        self.tick(now)

    def tick(self, now: float) -> None:
        cost = f"{self.entry.cost:g} CU" if self.entry.cost is not None else ""
        _set_line(self._meta, f"{format_elapsed(self.entry.elapsed(now))}  {cost}".rstrip())


def _set_line(static: Static, line: str) -> None:
    """Update a fixed-size one-line Static (no layout pass), unless it already says ``line``."""
    if str(static.content) != line:
        static.update(Text(line, no_wrap=True, overflow="ellipsis"), layout=False)


class JobPanel(Widget, can_focus=True):
    """Jobs submitted in this session, newest first, each followed to its end by its own worker."""

    DEFAULT_CSS = """
    JobPanel { height: 1fr; layout: vertical; }
    JobPanel #job-list { height: 1fr; min-height: 3; }
    JobPanel #job-empty { color: $text-muted; }
    JobPanel #job-detail-scroll { height: auto; max-height: 50%; border-top: solid $primary-darken-2; }
    JobPanel:focus #job-detail-scroll { border-top: solid $accent; }
    JobPanel:focus JobRow.-selected { background: $accent 30%; }
    """

    BINDINGS = [
        Binding("up", "select(-1)", "Previous job", show=False),
        Binding("down", "select(1)", "Next job", show=False),
        Binding("enter", "show", "Show results", id="show-results"),
        Binding("c", "cancel", "Cancel job", id="cancel-job"),
        Binding("q", "app.quit", "Quit", show=False, id="quit-q"),  # not in the form: q is too easy to hit there
    ]

    selected_key: reactive[str | None] = reactive(None, init=False)

    class Selected(Message):
        """The highlighted job changed, or Enter was pressed on it."""

        def __init__(self, entry: JobEntry) -> None:
            super().__init__()
            self.entry = entry

    class Finished(Message):
        """A job stopped running: it succeeded, failed, was canceled, or can no longer be followed."""

        def __init__(self, entry: JobEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.entries: list[JobEntry] = []
        self._rows: dict[str, JobRow] = {}
        self._workers: dict[Worker[None], JobEntry] = {}
        self._poll_trouble: set[str] = set()  # keys whose note is a polling error, cleared by the next good poll
        self._keys = itertools.count(1)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="job-list", can_focus=False):
            yield Static("No jobs yet.", id="job-empty")
        with VerticalScroll(id="job-detail-scroll", can_focus=False):
            yield Static(id="job-detail")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    # ------------------------------------------------------------------ public API

    @property
    def selected(self) -> JobEntry | None:
        return next((e for e in self.entries if e.key == self.selected_key), None)

    @property
    def running_count(self) -> int:
        return sum(1 for entry in self.entries if entry.running)

    def add_submitting(self, record: dict[str, Any], seed: str | None, model_name: str) -> JobEntry:
        """Show a row for a job whose POST is about to be sent, and select it."""
        entry = JobEntry(key=f"{next(self._keys)}", record=record, seed=seed, model_name=model_name,
                         started=self._now())
        self.entries.insert(0, entry)
        row = JobRow(entry)
        self._rows[entry.key] = row
        self.query_one("#job-empty").display = False
        self.query_one("#job-list").mount(row, before=0)
        self.selected_key = entry.key
        return entry

    def submitted(self, entry: JobEntry, submission: Submission) -> None:
        """The POST succeeded: follow the job until it ends."""
        entry.job_id = submission.job.id
        entry.cost = submission.cost
        entry.apply(submission.job)
        self._changed(entry)
        self._workers[self._follow(entry, submission.job.id)] = entry

    def submit_failed(self, entry: JobEntry, message: str) -> None:
        """The POST failed: no job exists to follow (so no ``Finished`` message either)."""
        entry.state = NOT_SUBMITTED
        entry.error = message
        entry.finished = self._now()
        self._changed(entry)

    @work(group="cancel", exit_on_error=False)
    async def cancel(self, entry: JobEntry) -> None:
        """Ask the server to cancel; the job's real end still comes from polling."""
        if not entry.running:
            self._note(entry, f"this job has already ended ({entry.state})")
            return
        if entry.job_id is None:
            self._note(entry, "still submitting: there is no job to cancel yet")
            return
        self._note(entry, "asking the server to cancel…")
        try:
            outcome = await self.app.client.cancel_job(entry.job_id)
        except ApiError as exc:
            self._note(entry, f"cancel failed: {exc}; the job keeps running")
            return
        if outcome.accepted:
            self._note(entry, "cancel requested")
        else:
            self._note(entry, f"the server refused to cancel: {outcome.message}; the job keeps running")

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
        if entry := self.selected:
            self.cancel(entry)

    # ------------------------------------------------------------------ following jobs

    @work(group="poll", exit_on_error=False)
    async def _follow(self, entry: JobEntry, job_id: str) -> None:
        client, settings = self.app.client, self.app.settings
        schedule = PollSchedule(first=settings.poll_interval, maximum=settings.poll_max_interval)
        try:
            job = await follow(client, job_id, schedule=schedule,
                               on_update=lambda job: self._polled(entry, job),
                               on_error=lambda exc: self._poll_error(entry, exc))
        except ApiError as exc:
            entry.state, entry.error = LOST, f"{exc} (the job may still be running on the server)"
            self._end(entry)
            return
        if job.state is JobState.SUCCESS:
            try:
                await save_results(client, job, settings.output_dir, seed=entry.seed, record=entry.record,
                                   on_saved=lambda path: self._saved(entry, path))
            except (ApiError, OSError) as exc:
                entry.error = f"results not saved: {exc}"
        self.app.ledger.finished(job.id, job.raw_status, list(entry.results))
        self._end(entry)

    def _polled(self, entry: JobEntry, job: Job) -> None:
        entry.apply(job)
        if entry.key in self._poll_trouble:
            self._poll_trouble.discard(entry.key)
            entry.note = None
        self._changed(entry)

    def _poll_error(self, entry: JobEntry, exc: ApiError) -> None:
        self._note(entry, f"{exc}; still polling")
        self._poll_trouble.add(entry.key)

    def _saved(self, entry: JobEntry, path: Path) -> None:
        entry.results.append(path)
        self._changed(entry)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A polling worker that crashed ends its job's tracking instead of the app."""
        entry = self._workers.get(event.worker)
        if entry is None or event.state not in (WorkerState.ERROR, WorkerState.SUCCESS, WorkerState.CANCELLED):
            return
        del self._workers[event.worker]
        if event.state is WorkerState.ERROR and entry.running:
            entry.state, entry.error = LOST, f"following this job failed: {event.worker.error!r}"
            self._end(entry)

    # ------------------------------------------------------------------ display

    def _now(self) -> float:
        return self.app.clock()

    def _note(self, entry: JobEntry, note: str) -> None:
        self._poll_trouble.discard(entry.key)
        entry.note = note
        self._changed(entry)

    def _end(self, entry: JobEntry) -> None:
        entry.finished = self._now()
        self._changed(entry)
        self.post_message(self.Finished(entry))

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
