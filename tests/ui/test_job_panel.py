"""The jobs panel against the sandbox and scripted answers: rows, polling, saving, cancel, failures."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Static

from scenario_tui.config import Settings
from scenario_tui.core.api import Job, ScenarioClient, Submission
from scenario_tui.core.imaging import encode_data_url
from scenario_tui.core.jobs import Ledger
from scenario_tui.core.params import InpaintParams
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.widgets.jobs import JobEntry, JobPanel, JobRow
from tests.conftest import make_image, make_mask

BASE = "https://sandbox.local/v1"
RECORD = {"prompt": "a [b]knight[/b]", "strength": 0.75, "numSamples": 2, "negativePrompt": None}


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class JobsApp(App[None]):
    """What the real app offers the panel, with an injected transport and a pinned clock."""

    def __init__(self, transport: httpx.AsyncBaseTransport, tmp_path: Path, clock: Clock | None = None) -> None:
        super().__init__()
        # Credentials long enough that the client's redaction of them leaves server messages readable.
        self.client = ScenarioClient("test-key", "test-secret", base_url=BASE, transport=transport, sleep=no_sleep)
        self.settings = Settings(output_dir=tmp_path / "out", poll_interval=0.01, poll_max_interval=0.02)
        self.image_cls = None
        self.ledger = Ledger(tmp_path / "jobs.jsonl")
        self.clock = clock or Clock()
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield JobPanel()

    def on_mount(self) -> None:
        self.query_one(JobPanel).focus()

    def on_job_panel_selected(self, message: JobPanel.Selected) -> None:
        self.messages.append(message)

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self.messages.append(message)

    @property
    def panel(self) -> JobPanel:
        return self.query_one(JobPanel)

    def finished(self) -> list[JobEntry]:
        return [m.entry for m in self.messages if isinstance(m, JobPanel.Finished)]

    def selected(self) -> list[JobEntry]:
        return [m.entry for m in self.messages if isinstance(m, JobPanel.Selected)]


async def no_sleep(_: float) -> None:
    """The client's retry backoff, skipped."""


def row_text(app: JobsApp, entry: JobEntry) -> str:
    row = app.query_one(f"#job-row-{entry.key}", JobRow)
    return " | ".join(str(s.content) for s in row.query(Static))


def details(app: JobsApp) -> str:
    return str(app.query_one("#job-detail", Static).content)


def job_json(job_id: str, status: str, **metadata: Any) -> dict[str, Any]:
    return {"job": {"jobId": job_id, "status": status, "progress": 0.5, "metadata": metadata}}


def job(job_id: str, status: str = "queued") -> Job:
    return Job.from_json(job_json(job_id, status)["job"])


def scripted(answers: list[Callable[[], Awaitable[httpx.Response]] | httpx.Response]) -> httpx.MockTransport:
    """Answers successive GET /jobs polls in order (the last one repeats); anything else is a 500."""
    polls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal polls
        if request.method != "GET" or "/jobs/" not in request.url.path:
            return httpx.Response(500, json={"reason": f"unexpected {request.method} {request.url.path}"})
        answer = answers[min(polls, len(answers) - 1)]
        polls += 1
        return answer if isinstance(answer, httpx.Response) else await answer()

    return httpx.MockTransport(handle)


def held(response: httpx.Response) -> tuple[asyncio.Event, asyncio.Event, Callable[[], Awaitable[httpx.Response]]]:
    """An answer that waits for ``release``; ``reached`` says the poll before it has been fully handled."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def answer() -> httpx.Response:
        reached.set()
        await release.wait()
        return response

    return reached, release, answer


async def settle(app: App[None], pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app run until ``condition`` holds (polls are at most 0.1 s apart in these tests)."""
    for _ in range(2000):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("condition never met")


async def cancel_workers_done(app: App[None]) -> None:
    for worker in list(app.workers):
        if worker.group == "cancel":
            await worker.wait()


# --------------------------------------------------------------------------- scripted answers


async def test_unknown_status_is_shown_verbatim(tmp_path: Path) -> None:
    reached, release, final = held(httpx.Response(200, json=job_json("job_m", "success")))
    app = JobsApp(scripted([httpx.Response(200, json=job_json("job_m", "mystery-state")), final]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "7", "Model")
        app.panel.submitted(entry, Submission(job("job_m"), cost=12))
        await reached.wait()  # the mystery answer has been applied: the next poll is under way
        await pilot.pause()
        assert entry.state == "unknown: mystery-state" and entry.running
        assert "? unknown: mystery-state  job_m" in row_text(app, entry)
        assert "12 CU" in row_text(app, entry)
        release.set()
        await settle(app, pilot)
        assert entry.state == "success" and not entry.running


async def test_server_markup_in_errors_is_plain_text(tmp_path: Path) -> None:
    failure = job_json("job_f", "failure", error="[red]markup[/red] [/oops]", hint="try [b]less[/b]")
    app = JobsApp(scripted([httpx.Response(200, json=failure)]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, None, "[i]Model[/i]")
        app.panel.submitted(entry, Submission(job("job_f"), cost=None))
        await settle(app, pilot)
        assert entry.state == "failed"
        text = details(app)
        assert "error: [red]markup[/red] [/oops]" in text
        assert "hint: try [b]less[/b]" in text
        assert "model: [i]Model[/i]" in text
        assert "prompt: a [b]knight[/b]" in text
        assert "negativePrompt" not in text
        assert app.finished() == [entry]
        assert [e["status"] for e in app.ledger.entries()] == ["failure"]


async def test_non_transient_error_ends_tracking_without_crashing(tmp_path: Path) -> None:
    app = JobsApp(scripted([httpx.Response(404, json={"reason": "no job [/x]"})]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "1", "Model")
        app.panel.submitted(entry, Submission(job("job_gone"), cost=3))
        await settle(app, pilot)
        assert entry.state == "tracking stopped" and not entry.running
        assert entry.error is not None and entry.error.startswith("HTTP 404: no job [/x]")
        assert "HTTP 404: no job [/x]" in details(app)
        assert app.finished() == [entry]
        assert app.panel.running_count == 0
        assert list(app.ledger.entries()) == []  # the job did not end; it is only no longer followed


async def test_a_crash_while_following_ends_that_job_only(tmp_path: Path) -> None:
    async def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug [/in] the transport")

    app = JobsApp(httpx.MockTransport(broken), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "1", "Model")
        app.panel.submitted(entry, Submission(job("job_x"), cost=1))
        await until(pilot, lambda: not entry.running)
        assert app.is_running
        assert entry.state == "tracking stopped"
        assert entry.error == "following this job failed: RuntimeError('bug [/in] the transport')"
        assert app.finished() == [entry]


async def test_submit_failed_shows_the_message(tmp_path: Path) -> None:
    app = JobsApp(scripted([httpx.Response(500)]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "1", "Model")
        assert app.panel.running_count == 1
        app.panel.submit_failed(entry, "not submitted: HTTP 400: width [must] be a multiple of 8")
        await pilot.pause()
        assert "not submitted" in row_text(app, entry)
        assert "error: not submitted: HTTP 400: width [must] be a multiple of 8" in details(app)
        assert app.panel.running_count == 0
        assert app.finished() == []


async def test_selection_keys_and_messages(tmp_path: Path) -> None:
    app = JobsApp(scripted([httpx.Response(500)]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.panel
        first = panel.add_submitting({"prompt": "one"}, "1", "Model")
        second = panel.add_submitting({"prompt": "two"}, "2", "Model")
        await pilot.pause()
        assert panel.entries == [second, first]  # newest first
        assert panel.selected is second and panel.running_count == 2
        await pilot.press("down")
        assert panel.selected is first
        await pilot.press("down")  # stays on the last row
        await pilot.press("up")
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected() == [first, second, first, second, second]
        assert app.query_one(f"#job-row-{second.key}").has_class("-selected")
        assert "prompt: two" in details(app)


async def test_elapsed_time_follows_the_app_clock(tmp_path: Path) -> None:
    app = JobsApp(scripted([httpx.Response(500)]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "1", "Model")
        await pilot.pause()
        assert "0:00" in row_text(app, entry)
        app.clock.now += 75
        app.panel._tick()
        await pilot.pause()
        assert "1:15" in row_text(app, entry)
        app.panel.submit_failed(entry, "not submitted: nope")
        app.clock.now += 60
        app.panel._tick()
        assert "1:15" in row_text(app, entry)  # a finished row's time stops


async def test_cancel_on_an_ended_job_says_so(tmp_path: Path) -> None:
    app = JobsApp(scripted([httpx.Response(200, json=job_json("job_c", "canceled"))]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "1", "Model")
        app.panel.submitted(entry, Submission(job("job_c"), cost=1))
        await settle(app, pilot)
        assert entry.state == "canceled"
        await pilot.press("c")
        await settle(app, pilot)
        assert entry.note == "this job has already ended (canceled)"
        assert "note: this job has already ended (canceled)" in details(app)


# --------------------------------------------------------------------------- the sandbox

JOB_SECONDS = 10.0


class SandboxApp(JobsApp):
    """The panel talking to the simulator, whose jobs advance only when the test moves the clock."""

    def __init__(self, tmp_path: Path, **knobs: Any) -> None:
        clock = Clock()
        self.sandbox = Sandbox(SandboxConfig(job_seconds=JOB_SECONDS, **knobs), clock=clock)
        super().__init__(SandboxTransport(self.sandbox), tmp_path, clock)
        # The clock is frozen while a test looks at a running job: poll gently meanwhile.
        self.settings = Settings(output_dir=tmp_path / "out", poll_interval=0.05, poll_max_interval=0.1)
        self.inputs = tmp_path / "inputs"
        self.inputs.mkdir()

    async def submit(self, prompt: str = "a knight", seed: str = "7") -> JobEntry:
        """What the main screen does: the row first, then the POST, then hand the job to the panel."""
        params = InpaintParams(
            modelId="model_sandbox-sd15-classic", prompt=prompt, numSamples=2, seed=seed,
            image=encode_data_url(make_image(self.inputs / "in.png", (64, 64)).read_bytes(), "image/png"),
            mask=encode_data_url(make_mask(self.inputs / "mask.png", (64, 64)).read_bytes(), "image/png"),
            ipAdapterImages=[encode_data_url(make_image(self.inputs / "ref.png", (32, 32)).read_bytes(), "image/png")],
        )
        entry = self.panel.add_submitting(params.record(), params.seed, "SD 1.5 Classic")
        assert entry.state == "submitting…" and entry.job_id is None
        self.panel.submitted(entry, await self.client.generate(params))
        return entry

    def advance(self, seconds: float = JOB_SECONDS) -> None:
        self.clock.now += seconds


async def test_row_appears_at_once_then_polls_to_success_and_saves(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await app.submit(seed="7")
        assert entry.state == "queued"
        app.advance(JOB_SECONDS / 2)
        assert entry.job_id is not None and entry.cost is not None
        assert app.panel.running_count == 1
        await until(pilot, lambda: entry.state == "in progress")
        assert 0 < entry.progress < 1
        assert f"{entry.cost:g} CU" in row_text(app, entry)
        app.advance()
        await settle(app, pilot)

        job_id = entry.job_id
        out = tmp_path / "out"
        assert entry.state == "success" and entry.progress == 1.0
        assert [p.name for p in entry.results] == [f"{job_id}_01_seed-7.png", f"{job_id}_02_seed-8.png"]
        assert all(p.parent == out and p.stat().st_size > 0 for p in entry.results)
        assert (out / f"{job_id}.json").exists()
        assert all(str(p) in details(app) for p in entry.results)
        assert "✓ success" in row_text(app, entry) and "0:15" in row_text(app, entry)
        assert app.panel.running_count == 0
        assert app.finished() == [entry]
        assert list(app.ledger.entries())[-1] == {
            **list(app.ledger.entries())[-1], "event": "finished", "jobId": job_id, "status": "success",
            "results": [str(p) for p in entry.results]}


async def test_a_dozen_concurrent_jobs_all_finish_and_keys_still_work(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entries = [await app.submit(seed=str(seed)) for seed in range(12)]
        assert app.panel.running_count == 12
        assert app.panel.entries == entries[::-1]
        await pilot.press("down", "down")
        assert app.panel.selected is entries[-3]
        app.advance()
        await settle(app, pilot)
        assert [e.state for e in entries] == ["success"] * 12
        assert len({p for e in entries for p in e.results}) == 24
        assert sorted(app.finished(), key=entries.index) == entries
        assert app.panel.running_count == 0


@pytest.mark.parametrize(("prompt", "knobs"), [("a [fail] knight", {}), ("a knight", {"fail_rate": 1.0})])
async def test_failing_job_shows_error_and_hint(tmp_path: Path, prompt: str, knobs: dict[str, Any]) -> None:
    app = SandboxApp(tmp_path, **knobs)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await app.submit(prompt=prompt)
        app.advance()
        await settle(app, pilot)
        assert entry.state == "failed" and entry.results == []
        assert entry.error and entry.hint
        assert f"error: {entry.error}" in details(app) and f"hint: {entry.hint}" in details(app)
        assert "✗ failed" in row_text(app, entry)
        assert app.finished() == [entry]
        assert list(app.ledger.entries())[-1]["status"] == "failure"
        assert not (tmp_path / "out" / f"{entry.job_id}_01_seed-7.png").exists()


async def test_cancel_accepted_ends_canceled(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path, cancellable=True)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await app.submit()
        await until(pilot, lambda: entry.raw_status == "pending")
        await pilot.press("c")
        await settle(app, pilot)
        assert entry.note == "cancel requested"
        assert entry.state == "canceled" and not entry.running
        assert "⊘ canceled" in row_text(app, entry)
        assert app.finished() == [entry]
        assert list(app.ledger.entries())[-1]["status"] == "canceled"


async def test_cancel_refused_is_said_honestly_and_the_job_goes_on(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path, cancellable=False)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await app.submit()
        await pilot.press("c")
        await cancel_workers_done(app)
        await pilot.pause()
        assert entry.note == "the server refused to cancel: Cannot cancel this type of job; the job keeps running"
        assert "note: the server refused to cancel" in details(app)
        assert entry.running
        app.advance()
        await settle(app, pilot)
        assert entry.state == "success" and len(entry.results) == 2


async def test_cancel_while_still_submitting_explains(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.panel.add_submitting(RECORD, "1", "Model")
        await pilot.pause()
        assert row_text(app, entry).startswith("↑ submitting…  —")
        await pilot.press("c")
        await cancel_workers_done(app)
        assert entry.note == "still submitting: there is no job to cancel yet"


async def test_transient_errors_show_a_note_and_the_job_still_finishes(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await app.submit()
        knobs = app.sandbox.config
        app.sandbox.config = dataclasses.replace(knobs, error_rate=1.0)  # an outage begins
        await until(pilot, lambda: entry.note is not None)
        assert entry.note == "HTTP 503: Service temporarily unavailable (simulated by error_rate); still polling"
        assert f"note: {entry.note}" in details(app)
        assert entry.running
        app.sandbox.config = knobs
        app.advance()
        await settle(app, pilot)
        assert entry.state == "success" and len(entry.results) == 2
        assert entry.note is None  # the next good poll cleared it


async def test_results_that_cannot_be_saved_are_reported(tmp_path: Path) -> None:
    app = SandboxApp(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    app.settings = Settings(output_dir=blocker, poll_interval=0.01, poll_max_interval=0.02)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = await app.submit()
        app.advance()
        await settle(app, pilot)
        assert entry.state == "success" and entry.results == []
        assert entry.error is not None and entry.error.startswith("results not saved: ")
        assert app.finished() == [entry]
        assert list(app.ledger.entries())[-1]["results"] == []
