"""The run lifecycle against the in-process sandbox: request rules, uploads once, submit once, reconcile,
follow, download exactly once, provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from scenario_tui.backend import make_engine
from scenario_tui.config import load_settings
from scenario_tui.core import imaging, provenance
from scenario_tui.core.api import ApiError
from scenario_tui.core.engine import (
    Draft,
    Engine,
    Event,
    FileSaved,
    NeedsDecision,
    Notice,
    RequestProblem,
    size_from_input,
)
from scenario_tui.core.store import RunState, Store
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from tests.conftest import make_image, make_mask

MODEL = "model_sandbox-sd15-classic"  # SD 1.5: sizes 64-1024, so a small input keeps its size


class Recorder(httpx.AsyncBaseTransport):
    """The sandbox, with every request kept (method, path, query, body) for the assertions."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = SandboxTransport(sandbox)
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.fail_generate: int = 0  # the next N generate POSTs get a 503 and create nothing

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.seen.append((request.method, request.url.path, dict(request.url.params), body))
        if self.fail_generate and request.url.path.endswith("/generate/inpaint-ip-adapter") \
                and "dryRun" not in request.url.params:
            self.fail_generate -= 1
            return httpx.Response(503, json={"reason": "gateway hiccup"})
        return await self.inner.handle_async_request(request)

    def generate_posts(self) -> list[dict[str, Any]]:
        return [json.loads(body) for method, path, query, body in self.seen
                if method == "POST" and path.endswith("/generate/inpaint-ip-adapter") and "dryRun" not in query]

    def bytes_sent(self, path_end: str) -> int:
        return sum(len(body) for _, path, _, body in self.seen if path.endswith(path_end))

    def count(self, method: str, path_part: str) -> int:
        return sum(1 for m, path, _, _ in self.seen if m == method and path_part in path)


class Rig:
    """An engine on a sandbox with a frozen clock, a store and an output folder in ``tmp_path``."""

    def __init__(self, tmp_path: Path, *, live: bool = True, upload_inputs: bool = True, **knobs: Any) -> None:
        self.tmp = tmp_path
        self.now = 1000.0
        self.sandbox = Sandbox(SandboxConfig(job_seconds=10, **knobs), clock=lambda: self.now)
        self.transport = Recorder(self.sandbox)
        creds = {"api_key": "live-key-1234", "api_secret": "live-secret-5678"} if live else {}
        self.settings, _ = load_settings(output_dir=tmp_path / "out", poll_interval=0.01, poll_max_interval=0.01,
                                         upload_inputs=upload_inputs, **creds)
        self.store_path = tmp_path / "runs.sqlite3"
        self.engine = self.new_engine()
        self.events: list[Event] = []
        self.engine.subscribe(self.events.append)
        self.files = tmp_path / "in"
        self.files.mkdir()

    def new_engine(self) -> Engine:
        """Another process on the same store and the same API (a relaunch)."""
        return make_engine(self.settings, self.transport, Store(self.store_path), retry_sleep=_no_wait)

    def draft(self, **values: Any) -> Draft:
        image = imaging.load_image(make_image(self.files / "in.png", (128, 96)))
        mask = imaging.load_mask(make_mask(self.files / "mask.png", (128, 96)))
        ref = imaging.load_image(make_image(self.files / "ref.png", (32, 32), (200, 40, 40)))
        return Draft({"modelId": MODEL, "prompt": "a lighthouse", "numSamples": 2, "seed": "7", **values},
                     image=image, mask=mask, references=(ref,))

    def finish_jobs(self) -> None:
        self.now += 10


async def _no_wait(_: float) -> None:
    """No backoff between retries."""


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


async def _model(engine: Engine) -> Any:
    return await engine.resolve_model(MODEL)


# --------------------------------------------------------------------------- the request


async def test_size_follows_the_input_and_a_random_seed_is_chosen_and_said(rig: Rig) -> None:
    model = await _model(rig.engine)
    request = rig.engine.build(rig.draft(seed=None), model)
    assert (request.params.width, request.params.height) == (128, 96)
    seed = request.params.seed
    assert seed is not None and seed.isdigit()
    assert request.settled == ("size: 128×96 (from the input image)", f"seed: {seed} (random)")
    explicit = rig.engine.build(rig.draft(width=512, height=512), model)
    assert (explicit.params.width, explicit.params.height) == (512, 512) and explicit.settled == ()
    # the rule the form shows in its empty Width/Height fields is this very one
    assert size_from_input((128, 96), model) == (128, 96)
    assert size_from_input((6000, 3000), model) == (1024, 512)  # SD 1.5: at most 1024


async def test_a_request_the_model_refuses_names_the_field(rig: Rig) -> None:
    with pytest.raises(RequestProblem) as caught:
        rig.engine.build(rig.draft(strength=2), await _model(rig.engine))
    assert [p.field for p in caught.value.problems] == ["strength"]


async def test_inputs_are_recorded_by_path_hash_and_size_never_as_data(rig: Rig) -> None:
    request = rig.engine.build(rig.draft(), await _model(rig.engine))
    run = await rig.engine.submit(request, None)
    fields = [(i["field"], i["name"]) for i in run.inputs]
    assert fields == [("image", "in.png"), ("mask", "mask.png"), ("ipAdapterImages", "ref.png")]
    raw = (rig.files / "in.png").read_bytes()
    import hashlib

    assert run.inputs[0]["sha256"] == hashlib.sha256(raw).hexdigest() and run.inputs[0]["size"] == len(raw)
    stored = json.dumps([run.params, run.inputs])
    assert "data:image" not in stored and "base64" not in stored


# --------------------------------------------------------------------------- uploads


async def test_quotes_and_reruns_after_the_first_send_no_image_bytes(rig: Rig) -> None:
    engine = rig.engine
    model = await _model(engine)
    first = await engine.quote(engine.build(rig.draft(), model))
    uploads = rig.transport.count("POST", "/assets")
    assert uploads == 2  # the input image and the reference; the mask travels inline
    quotes_before = rig.transport.bytes_sent("/generate/inpaint-ip-adapter")
    for prompt in ("a lighthouse at dusk", "a lighthouse in fog", "a lighthouse, stormy"):
        assert (await engine.quote(engine.build(rig.draft(prompt=prompt), model))).cost == first.cost
    run = await engine.submit(engine.build(rig.draft(), model), first)
    again = await engine.submit(engine.build(rig.draft(), model), first)
    assert rig.transport.count("POST", "/assets") == uploads  # nothing uploaded again
    per_request = (rig.transport.bytes_sent("/generate/inpaint-ip-adapter") - quotes_before) / 5
    mask_url = len(imaging.encode_inputs(None, rig.draft().mask, []).mask)  # type: ignore[arg-type]
    assert per_request < mask_url + 2000  # the mask and the parameters, no image
    body = rig.transport.generate_posts()[-1]
    assert body["image"].startswith("asset_") and body["ipAdapterImageIds"][0].startswith("asset_")
    assert "ipAdapterImages" not in body and body["mask"].startswith("data:image/png;base64,")
    assert run.job_id != again.job_id
    hidden = [json.loads(b) for m, p, _, b in rig.transport.seen if m == "POST" and p.endswith("/assets")]
    assert all(upload["hide"] is True for upload in hidden)


async def test_an_upload_the_server_forgot_is_uploaded_again_and_requoted(rig: Rig) -> None:
    engine = rig.engine
    model = await _model(engine)
    await engine.quote(engine.build(rig.draft(), model))
    rig.sandbox.forget_uploads()
    quote = await engine.quote(engine.build(rig.draft(), model))
    assert quote.cost > 0 and rig.transport.count("POST", "/assets") == 4
    assert rig.transport.generate_posts() == []  # quoting never creates a job


async def test_upload_inputs_off_sends_them_inline(tmp_path: Path) -> None:
    rig = Rig(tmp_path, upload_inputs=False)
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    body = rig.transport.generate_posts()[0]
    assert body["image"].startswith("data:image/png") and body["ipAdapterImages"][0].startswith("data:image/png")
    assert rig.transport.count("POST", "/assets") == 0 and run.state is RunState.RUNNING


# --------------------------------------------------------------------------- submit, reconcile


async def test_a_lost_answer_is_reconciled_and_the_job_adopted_not_resubmitted(tmp_path: Path) -> None:
    rig = Rig(tmp_path, lose_generate_answers=1)
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    assert run.state is RunState.RUNNING and run.job_id in rig.sandbox._jobs
    assert len(rig.transport.generate_posts()) == 1
    states = [state for _, state, _, _ in rig.engine.store.history(run.id)]
    assert states[:3] == ["intent", "unsure", "running"]
    assert any(isinstance(e, Notice) and "was not submitted again" in e.message for e in rig.events)
    rig.finish_jobs()
    done = await rig.engine.follow(run.id)
    assert done.state is RunState.SUCCESS and len(done.files) == 2


async def test_a_malformed_answer_is_reconciled_too(tmp_path: Path) -> None:
    rig = Rig(tmp_path, malformed_generate_answers=1)
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    assert run.state is RunState.RUNNING and len(rig.transport.generate_posts()) == 1


async def test_no_job_found_leaves_the_run_unsure_and_asks_the_user(rig: Rig) -> None:
    rig.transport.fail_generate = 1  # a 503 that created nothing
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    assert run.state is RunState.UNSURE and run.job_id is None
    assert run.error is not None and "no job matching it was found" in run.error
    assert [e for e in rig.events if isinstance(e, NeedsDecision)]
    assert len(rig.transport.generate_posts()) == 1  # never sent again
    assert rig.sandbox._jobs == {}


async def test_a_refused_request_is_not_submitted_and_costs_nothing(rig: Rig) -> None:
    request = rig.engine.build(rig.draft(), await _model(rig.engine))
    await rig.engine.quote(request)  # uploads
    rig.sandbox.forget_uploads()  # ... so the generate POST names assets the server no longer has
    run = await rig.engine.submit(request, None)
    assert run.state is RunState.REFUSED and run.error and "HTTP 400" in run.error
    assert len(rig.transport.generate_posts()) == 1
    uploads = rig.transport.count("POST", "/assets")
    await rig.engine.quote(request)  # the refused ids were forgotten: uploaded again
    assert rig.transport.count("POST", "/assets") == uploads + 2


async def test_an_output_folder_that_cant_be_written_stops_before_paying(rig: Rig) -> None:
    blocker = rig.tmp / "blocker"
    blocker.write_text("")
    rig.engine.config.output_dir = blocker / "out"
    with pytest.raises(OSError, match="can't be written to"):
        await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    assert rig.transport.generate_posts() == [] and rig.engine.store.runs() == []


# --------------------------------------------------------------------------- follow, download, resume


async def test_results_are_saved_once_even_when_resumed_twice(rig: Rig) -> None:
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    rig.finish_jobs()
    other = rig.new_engine()  # a second process on the same store: a TUI beside a CLI
    done, resumed = await rig.engine.follow(run.id), await other.resume()
    assert done.state is RunState.SUCCESS and [r.id for r in resumed] == []
    downloads = rig.transport.count("GET", "/sandbox-cdn/")
    assert downloads == 2 and sorted(p.name for p in rig.settings.output_dir.iterdir()) == sorted(
        [f"{run.job_id}.json", *(p.name for p in done.files)])
    assert await other.resume() == [] and await other.resume([done]) == [done]
    assert rig.transport.count("GET", "/sandbox-cdn/") == downloads


async def test_a_relaunch_follows_what_was_left_running(rig: Rig) -> None:
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    relaunched = rig.new_engine()
    events: list[Event] = []
    relaunched.subscribe(events.append)
    rig.finish_jobs()
    [resumed] = await relaunched.resume()
    assert resumed.id == run.id and resumed.state is RunState.SUCCESS and len(resumed.files) == 2
    assert len([e for e in events if isinstance(e, FileSaved)]) == 2
    assert len(rig.transport.generate_posts()) == 1


async def test_an_intent_left_by_a_dead_process_is_reconciled(rig: Rig) -> None:
    request = rig.engine.build(rig.draft(), await _model(rig.engine))
    params, _ = await rig.engine._wire(request)
    run = rig.engine.store.create_run(mode="live", scope=rig.engine.config.scope, params=params.record(),
                                      inputs=request.inputs, model=request.record, seed=params.seed, quote=None)
    await rig.engine.client.generate(params)  # sent; then the process died before reading the answer
    with rig.engine.store._tx() as db:
        db.execute("UPDATE runs SET owner_pid = ? WHERE id = ?", (2**22 + 12345, run.id))  # no such process
    rig.finish_jobs()
    [resumed] = await rig.new_engine().resume()
    assert resumed.state is RunState.SUCCESS and resumed.job_id is not None and len(resumed.files) == 2
    assert len(rig.transport.generate_posts()) == 1


async def test_an_intent_of_a_live_process_is_left_to_it(rig: Rig) -> None:
    rig.engine.store.create_run(mode="live", scope=rig.engine.config.scope, params={"prompt": "x"}, inputs=[],
                                model=None, seed="1", quote=None)  # this process: its POST may be in flight
    other = rig.new_engine()
    [run] = await other.resume()
    assert run.state is RunState.INTENT and rig.transport.count("GET", "/jobs") == 0


async def test_sandbox_runs_of_an_earlier_process_are_marked_lost(tmp_path: Path) -> None:
    rig = Rig(tmp_path, live=False)
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    [lost] = await rig.new_engine().resume()  # a new in-process sandbox: the old one's jobs are gone
    assert lost.id == run.id and lost.state is RunState.LOST and "ends with the app" in (lost.error or "")


async def test_polls_come_quickly_once_the_job_is_finalizing() -> None:
    from scenario_tui.core.api import Job
    from scenario_tui.core.engine import PollSchedule

    schedule = PollSchedule(first=0.5, maximum=8)

    def job(status: str, progress: float) -> Job:
        return Job.from_json({"jobId": "j", "status": status, "progress": progress})

    assert schedule.after(4, job("in-progress", 0.5)) == 6
    assert schedule.after(8, job("finalizing", 1.0)) == 0.5
    assert schedule.after(8, job("in-progress", 0.95)) == 0.5


# --------------------------------------------------------------------------- provenance


def _a1111(text: str) -> tuple[str, str | None, dict[str, str]]:
    """Parse the A1111 'parameters' text as civitai and sd-prompt-reader do."""
    lines = text.split("\n")
    settings = lines[-1]
    assert settings.startswith("Steps: ")
    fields = dict(part.split(": ", 1) for part in settings.split(", "))
    body = lines[:-1]
    negative = next((line.removeprefix("Negative prompt: ") for line in body if line.startswith("Negative prompt: ")),
                    None)
    prompt = "\n".join(line for line in body if not line.startswith("Negative prompt: "))
    return prompt, negative, fields


async def test_every_result_carries_how_it_was_made(rig: Rig) -> None:
    draft = rig.draft(negativePrompt="blurry", guidance=7, scheduler="EulerDiscreteScheduler")
    run = await rig.engine.submit(rig.engine.build(draft, await _model(rig.engine)), None)
    rig.finish_jobs()
    done = await rig.engine.follow(run.id)
    sidecar = json.loads((rig.settings.output_dir / f"{run.job_id}.json").read_text())
    for index, path in enumerate(done.files):
        text, record = provenance.read(path)
        assert text is not None and record is not None
        prompt, negative, fields = _a1111(text)
        seed = str(7 + index)  # the sandbox gives each sample its own seed
        assert (prompt, negative) == ("a lighthouse", "blurry")
        assert fields["Seed"] == seed and fields["Size"] == "128x96" and fields["CFG scale"] == "7"
        assert fields["Sampler"] == "EulerDiscreteScheduler" and fields["Model"] == "SD 1.5 Classic (sandbox)"
        assert record["jobId"] == run.job_id and record["seed"] == seed and record["index"] == index
        assert [i["name"] for i in record["inputs"]] == ["in.png", "mask.png", "ref.png"]
        assert record["cost"] == done.cost and record["version"]
        with Image.open(path) as im:
            assert im.size == (128, 96)
    assert [r["file"] for r in sidecar["results"]] == [p.name for p in done.files]
    assert sidecar["parameters"]["prompt"] == "a lighthouse" and sidecar["inputs"] == done.inputs
    everything = b"".join(p.read_bytes() for p in rig.settings.output_dir.iterdir())
    everything += rig.store_path.read_bytes()
    for secret in (b"live-secret-5678", b"live-key-1234"):
        assert secret not in everything


def test_hostile_ids_and_seeds_never_leave_the_output_folder() -> None:
    from scenario_tui.core.engine import result_name

    name = result_name("../../etc/job\x1b]0;x", 0, "../../../seed", "image/png")
    assert "/" not in name and ".." not in name and "\x1b" not in name
    assert re.fullmatch(r"etc-job-0-x-[0-9a-f]{8}_01_seed-seed-[0-9a-f]{8}\.png", name)
    assert result_name("job_1", 0, "7", "image/png") == "job_1_01_seed-7.png"  # ordinary ids stay as they are


def test_ids_reduced_alike_never_name_the_same_file() -> None:
    from scenario_tui.core.engine import result_name

    names = {result_name(job_id, 0, "7", None) for job_id in ("a/b", "a-b", "a b", "a\x1bb", "../a-b", "a-b/")}
    assert len(names) == 6 and "a-b_01_seed-7.png" in names


class Tampered(Recorder):
    """The CDN answers with something else than the PNG it should (an HTML page, or far too much)."""

    def __init__(self, sandbox: Sandbox, body: bytes) -> None:
        super().__init__(sandbox)
        self.body = body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/sandbox-cdn/" in request.url.path:
            return httpx.Response(200, content=self.body, headers={"Content-Type": "image/png"})
        return await super().handle_async_request(request)


@pytest.mark.parametrize(("body", "message"), [
    (b"<html><body>Access denied</body></html>", "not the image/png it claims"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a usable image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 2**20), "larger than the 2 MiB limit"),
])
async def test_a_download_that_is_not_the_image_is_not_saved(tmp_path: Path, body: bytes, message: str) -> None:
    rig = Rig(tmp_path)
    rig.transport = Tampered(rig.sandbox, body)
    rig.engine = rig.new_engine()
    rig.engine.config.max_download_bytes = 2 * 2**20
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    rig.finish_jobs()
    with pytest.raises(ApiError, match=message):
        await rig.engine.follow(run.id)
    stored = rig.engine.store.get(run.id)
    assert stored is not None and stored.missing_results and stored.files == []
    assert list(rig.settings.output_dir.iterdir()) == []  # nothing saved, no partial file left


class Flaky(Recorder):
    """The sandbox, with the first CDN downloads refused (403: the signed URL expired) and the first asset
    answers malformed."""

    def __init__(self, sandbox: Sandbox, *, expired: int = 0, malformed: int = 0) -> None:
        super().__init__(sandbox)
        self.expired, self.malformed = expired, malformed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/sandbox-cdn/" in request.url.path and self.expired:
            self.expired -= 1
            self.seen.append((request.method, request.url.path, {}, b""))
            return httpx.Response(403, text="<Error><Code>AccessDenied</Code>Request has expired</Error>")
        if request.method == "GET" and "/assets/" in request.url.path and self.malformed:
            self.malformed -= 1
            self.seen.append((request.method, request.url.path, {}, b""))
            return httpx.Response(200, json={"asset": {"url": "https://x.invalid/a.png"}})  # no id
        return await super().handle_async_request(request)


async def _no_sleep(_: float) -> None:
    pass


@pytest.mark.parametrize("knobs", [{"expired": 3}, {"malformed": 2}, {"expired": 1, "malformed": 1}])
async def test_an_expired_url_or_a_malformed_asset_answer_resolves_the_asset_again(
        tmp_path: Path, knobs: dict[str, int]) -> None:
    rig = Rig(tmp_path)
    rig.transport = Flaky(rig.sandbox, **knobs)
    base = rig.new_engine()
    engine = Engine(base.client, base.store, base.config, sleep=_no_sleep)
    run = await engine.submit(engine.build(rig.draft(numSamples=1), await _model(engine)), None)
    rig.finish_jobs()
    done = await engine.follow(run.id)
    assert done.state is RunState.SUCCESS and not done.missing_results and len(done.files) == 1
    assert rig.transport.count("GET", "/assets/") == 1 + sum(knobs.values())  # each failure: resolved again


async def test_an_url_that_stays_expired_gives_up_after_bounded_attempts_and_keeps_the_run(tmp_path: Path) -> None:
    from scenario_tui.core.engine import DOWNLOAD_ATTEMPTS

    rig = Rig(tmp_path)
    rig.transport = Flaky(rig.sandbox, expired=10**6)
    base = rig.new_engine()
    engine = Engine(base.client, base.store, base.config, sleep=_no_sleep)
    run = await engine.submit(engine.build(rig.draft(numSamples=1), await _model(engine)), None)
    rig.finish_jobs()
    with pytest.raises(ApiError, match="HTTP 403"):
        await engine.follow(run.id)
    assert rig.transport.count("GET", "/sandbox-cdn/") == DOWNLOAD_ATTEMPTS
    stored = engine.store.get(run.id)
    assert stored is not None and stored.unfinished and stored.job_id
    assert stored.note and stored.note.endswith(f"scenario-tui resume {stored.job_id}")
    assert [p.name for p in rig.settings.output_dir.iterdir()] == []  # no partial file


# --------------------------------------------------------------------------- bounds


async def test_a_job_past_its_follow_deadline_is_left_running_for_a_later_resume(rig: Rig) -> None:
    from dataclasses import replace

    from scenario_tui.core.engine import STILL_RUNNING

    clock = [0.0]

    async def tick(seconds: float) -> None:  # the engine's waits move a fake clock, nothing sleeps
        clock[0] += seconds

    engine = Engine(rig.engine.client, rig.engine.store, replace(rig.engine.config, follow_timeout=5.0),
                    sleep=tick, clock=lambda: clock[0])
    run = await engine.submit(engine.build(rig.draft(), await _model(engine)), None)
    left = await engine.follow(run.id)  # the sandbox's clock is frozen: the job never ends
    assert left.state is RunState.RUNNING and left.note == STILL_RUNNING and 5.0 <= clock[0] < 20
    rig.finish_jobs()
    done = await rig.engine.follow(run.id)
    assert done.state is RunState.SUCCESS and len(done.files) == 2


async def test_polls_are_bounded_whatever_the_clock_does(rig: Rig) -> None:
    from dataclasses import replace

    from scenario_tui.core.engine import STILL_RUNNING, PollSchedule

    polls = 0

    async def no_wait(_: float) -> None:
        nonlocal polls
        polls += 1

    config = replace(rig.engine.config, schedule=PollSchedule(max_polls=3))
    engine = Engine(rig.engine.client, rig.engine.store, config, sleep=no_wait, clock=lambda: 0.0)
    run = await engine.submit(engine.build(rig.draft(), await _model(engine)), None)
    left = await engine.follow(run.id)
    assert left.state is RunState.RUNNING and left.note == STILL_RUNNING
    assert rig.transport.count("GET", f"/jobs/{run.job_id}") == 3 and polls == 3


def test_follow_timeout_must_be_finite_and_positive() -> None:
    from scenario_tui.config import ConfigError

    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="follow_timeout"):
            load_settings(follow_timeout=bad)
    assert load_settings()[0].follow_timeout == 24 * 3600


class Echoing(Recorder):
    """A server that fails every job with the caller's credentials in its error and hint."""

    def __init__(self, sandbox: Sandbox, echo: str) -> None:
        super().__init__(sandbox)
        self.echo = echo

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method != "GET" or "/jobs/" not in request.url.path:
            return response
        data = json.loads(await response.aread())
        data["job"].update(status="failure")
        data["job"]["metadata"].update(error=f"bad auth {self.echo}", hint=f"retry with {self.echo}")
        return httpx.Response(200, json=data)


async def test_secrets_a_server_echoes_in_a_job_error_never_reach_the_store(tmp_path: Path) -> None:
    import base64

    rig = Rig(tmp_path)
    key, secret = "live-key-1234", "live-secret-5678"
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    rig.transport = Echoing(rig.sandbox, f"{key}:{secret} (Basic {token})")
    rig.engine = rig.new_engine()
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    ended = await rig.engine.follow(run.id)
    assert ended.state is RunState.FAILURE and ended.error == "bad auth ***:*** (Basic ***)"
    assert ended.hint == "retry with ***:*** (Basic ***)"
    stored = rig.store_path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("runs.sqlite3*"))
    assert not any(s.encode() in stored for s in (key, secret, token))


async def test_a_result_used_as_the_next_input_keeps_its_lineage(rig: Rig) -> None:
    model = await _model(rig.engine)
    first = await rig.engine.submit(rig.engine.build(rig.draft(), model), None)
    rig.finish_jobs()
    first = await rig.engine.follow(first.id)
    parent_file = first.files[1]
    image = imaging.load_image(parent_file)
    draft = rig.draft(prompt="again")
    second = await rig.engine.submit(rig.engine.build(Draft(draft.values, image=image, mask=draft.mask, references=draft.references), model))
    assert (second.parent_run, second.parent_result) == (first.id, 1)
    rig.finish_jobs()
    done = await rig.engine.follow(second.id)
    _, record = provenance.read(done.files[0])
    assert record is not None and record["parent"] == {"runId": first.id, "index": 1}
    sidecar = json.loads((rig.settings.output_dir / f"{done.job_id}.json").read_text())
    assert sidecar["parent"] == {"runId": first.id, "index": 1}
    third = await rig.engine.submit(rig.engine.build(rig.draft(), model), None)
    assert third.parent_run is None and "parent" not in sidecar["results"][0]


async def test_memory_freed_by_the_downloads_is_given_back(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(imaging, "_malloc_trim", lambda: trims.append)
    run = await rig.engine.submit(rig.engine.build(rig.draft(), await _model(rig.engine)), None)
    rig.finish_jobs()
    assert (await rig.engine.follow(run.id)).state is RunState.SUCCESS
    assert trims == [0]  # once, after the run's results are saved
    await rig.engine.download(run.id)  # nothing left to save: nothing to give back
    assert trims == [0]


def test_giving_memory_back_is_a_no_op_without_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imaging, "_malloc_trim", lambda: None)
    imaging.give_back_memory()
