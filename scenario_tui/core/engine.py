"""The one lifecycle of a run, shared by the CLI and the TUI.

model → request (files encoded, size and seed settled) → uploads (once per content) → quote →
intent recorded → submit (never resent) → reconcile when the answer was lost → follow →
download (concurrently, each result once) → provenance in every file. Front ends only render
the events it emits and ask the user where it says a decision is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scenario_tui import __version__
from scenario_tui.core import imaging, masks, provenance
from scenario_tui.core import params as P
from scenario_tui.core.api import (
    ApiError,
    Asset,
    CancelOutcome,
    GoneError,
    Job,
    ModelInfo,
    NetworkError,
    NotFoundError,
    ProtocolError,
    Quote,
    RateLimitedError,
    RejectedError,
    ScenarioClient,
    ServerError,
    TooLargeError,
)
from scenario_tui.core.boundary import inside, safe_name
from scenario_tui.core.store import ResultRecord, Run, RunState, Store

TRANSIENT = (NetworkError, ServerError, RateLimitedError, ProtocolError)
UNCLEAR = (NetworkError, ServerError, ProtocolError)  # a generate POST failing so may still have made a job
CLOCK_SKEW = 60.0  # seconds before the intent from which a lost job is looked for
DOWNLOADS_AT_ONCE = 4
FOLLOW_TIMEOUT = 24 * 3600.0  # seconds a run is followed before it is left for a later resume
STILL_RUNNING = "still running, checked again later"  # the note on a run left past its follow deadline
DOWNLOAD_ATTEMPTS = 4  # a result's asset is resolved again (fresh signed URL) at most this often
POST_IN_FLIGHT = 600.0  # seconds after which an intent whose process still lives (or whose pid was reused) is stale
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
_MATCHED = ("modelId", "prompt", "seed", "numSamples", "width", "height")
NO_MODELS = ("No models with the inpaint + IP-Adapter capability in this workspace. Scenario retired its "
             "SD 1.5 / SDXL model types in 2026, and those carry it. If you know a model id, type it.")


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class RunChanged:
    """A run was recorded or its state, status or progress changed."""

    run: Run


@dataclass(frozen=True)
class FileSaved:
    """One result is on disk."""

    run: Run
    path: Path


@dataclass(frozen=True)
class Notice:
    """Something the user should read: ``level`` is "info" or "warning"."""

    message: str
    run: Run | None = None
    level: str = "info"


@dataclass(frozen=True)
class NeedsDecision:
    """The engine stopped where only the user may go on (e.g. re-submitting a run whose job wasn't found)."""

    run: Run
    question: str


Event = RunChanged | FileSaved | Notice | NeedsDecision
Listener = Callable[[Event], None]


# --------------------------------------------------------------------------- requests


class RequestProblem(ValueError):
    """The request can't be built: the problems name their fields."""

    def __init__(self, problems: Sequence[P.Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = tuple(problems)


class ModelProblem(ValueError):
    """The chosen model can't be used (unknown, retired, or without the capability)."""


@dataclass(frozen=True)
class Draft:
    """What a front end hands over: parameter values by API name and the files chosen.

    ``values["image"]`` may hold an asset id instead of ``image``; references given as files go in
    ``references`` (the deprecated single reference too: it is sent as one of them).
    """

    values: Mapping[str, Any]
    image: imaging.LoadedImage | None = None
    mask: imaging.LoadedMask | None = None
    references: tuple[imaging.LoadedImage, ...] = ()
    context_crop: int | None = None  # padding in pixels: send only the mask's box of the input (None: whole)


@dataclass(frozen=True)
class Request:
    """A checked request with inline images, and what it was made from."""

    params: P.InpaintParams
    model: ModelInfo | None
    inputs: tuple[dict[str, Any], ...]  # provenance of each file: field, path, sha256, size
    settled: tuple[str, ...]  # what was chosen for the user: size, seed
    notes: tuple[str, ...]  # what encoding had to do to fit the request
    warnings: tuple[P.Problem, ...]

    @property
    def record(self) -> dict[str, Any]:
        """The model as stored with the run."""
        m = self.model
        return {"id": m.id, "name": m.name, "type": m.type} if m else {"id": self.params.modelId}


@dataclass(frozen=True)
class PollSchedule:
    """Adaptive polling: quick at first, slower as the job runs on, quick again near its end."""

    first: float = 1.0
    factor: float = 1.5
    maximum: float = 8.0
    error_maximum: float = 60.0
    max_consecutive_errors: int = 20
    max_polls: int = 100_000  # a bound besides the follow deadline, whatever the clock does

    near_end: float = 0.5

    def after(self, interval: float, job: Job) -> float:
        """The wait before the next poll; short once the job is finishing, so results come soon."""
        if job.raw_status.lower() == "finalizing" or job.progress >= 0.9:
            return min(self.first, self.near_end)
        return min(interval * self.factor, self.maximum)

    def after_error(self, interval: float) -> float:
        return min(max(interval, self.first) * 2, self.error_maximum)


@dataclass
class EngineConfig:
    output_dir: Path
    mode: str  # "live" or "sandbox"
    scope: str  # the API instance: jobs, uploads and runs belong to one
    upload_inputs: bool = True
    schedule: PollSchedule = field(default_factory=PollSchedule)
    max_download_bytes: int = 200 * 2**20
    follow_timeout: float = FOLLOW_TIMEOUT  # seconds; past it ``follow`` leaves the run RUNNING, noted STILL_RUNNING


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Engine:
    """Runs requests through their whole life against one API, recording everything in the store."""

    def __init__(self, client: ScenarioClient, store: Store, config: EngineConfig, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.store = store
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._listeners: list[Listener] = []
        self._encoded: dict[tuple[Any, ...], imaging.EncodedInputs] = {}

    # ------------------------------------------------------------------ events

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _changed(self, run: Run) -> Run:
        self._emit(RunChanged(run))
        return run

    # ------------------------------------------------------------------ model

    async def resolve_model(self, model_id: str) -> ModelInfo:
        """The model's facts for the model-dependent rules.

        Raises ``ModelProblem`` when it can't be used; other ``ApiError``s mean it couldn't be checked.
        """
        try:
            model = await self.client.get_model(model_id)
        except NotFoundError:
            raise ModelProblem("no model with this id") from None
        except GoneError:
            raise ModelProblem("this model was retired by Scenario (HTTP 410): pick another") from None
        if not model.usable:
            raise ModelProblem(f"{model.name} ({model.type}) can't do inpaint + IP-Adapter")
        return model

    async def first_model(self) -> ModelInfo:
        """The first usable model (the sandbox's default when none is chosen)."""
        models = await self.client.list_models()
        if not models:
            raise ModelProblem(NO_MODELS)
        return models[0]

    # ------------------------------------------------------------------ building the request

    def build(self, draft: Draft, model: ModelInfo | None) -> Request:
        """Check the draft and encode its files (CPU work: front ends run it in a thread).

        Settles what the user left open, the same way for every front end: the size follows the
        input image, and a random seed is chosen and said, so every result can be reproduced.
        """
        values = {k: v for k, v in draft.values.items() if v is not None and v != "" and v != []}
        values.pop("ipAdapterImage", None)  # a file reference always travels in ipAdapterImages
        if model is not None:
            values["modelId"] = model.id
        settled: list[str] = []
        if draft.mask is None:
            raise RequestProblem([P.Problem("mask", "a mask is required")])
        whole, crop = draft, None
        if draft.context_crop is not None:
            draft, crop = _context_crop(draft, P.rules_for(model.type if model else None).size[0])
            if crop is not None:
                x0, y0, x1, y1 = crop
                settled.append(f"context crop: {x1 - x0}×{y1 - y0} at {x0},{y0} sent (references are not cropped)")
                values.pop("width", None)
                values.pop("height", None)
            else:
                settled.append("context crop: the mask's box is the whole image, sent whole")
        if draft.image is not None and "width" not in values and "height" not in values:
            values["width"], values["height"] = size_from_input(draft.image.size, model)
            source = "the context crop" if crop else "the input image"
            settled.append(f"size: {values['width']}×{values['height']} (from {source})")
        if "seed" not in values:
            values["seed"] = str(secrets.randbelow(2**32))
            settled.append(f"seed: {values['seed']} (random)")
        encoded = self._encode(draft)
        if draft.image is not None:
            values["image"] = encoded.image
        values["mask"] = encoded.mask
        if encoded.references:
            values["ipAdapterImages"] = list(encoded.references)
        checked = P.check(values, model)
        if checked.params is None:
            raise RequestProblem(checked.errors)
        inputs = [_input("image", whole.image), _input("mask", whole.mask),
                  *(_input("ipAdapterImages", ref, i) for i, ref in enumerate(draft.references))]
        if crop is not None:  # where the result goes back: recorded with the run, so a resume pastes it too
            x0, y0, x1, y1 = crop
            inputs[1]["contextCrop"] = {"box": [x0, y0, x1 - x0, y1 - y0], "padding": draft.context_crop}
        return Request(checked.params, model, tuple(i for i in inputs if i), tuple(settled), encoded.notes,
                       checked.problems)

    async def prepare(self, draft: Draft, model: ModelInfo | None) -> Request:
        """``build`` in a worker thread."""
        return await asyncio.to_thread(self.build, draft, model)

    def _encode(self, draft: Draft) -> imaging.EncodedInputs:
        """Data URLs of the files, kept while the same contents are used (quotes, re-runs)."""
        assert draft.mask is not None
        files = (draft.image, draft.mask, *draft.references)
        if any(f is not None and not f.sha256 for f in files):  # made in memory: nothing to key on
            return imaging.encode_inputs(draft.image, draft.mask, list(draft.references))
        key = tuple((f.sha256, f.image.size) if f is not None else None for f in files)
        if key not in self._encoded:
            self._encoded = {key: imaging.encode_inputs(draft.image, draft.mask, list(draft.references))}
        return self._encoded[key]

    # ------------------------------------------------------------------ uploads

    async def _wire(self, request: Request, *, fresh: bool = False) -> tuple[P.InpaintParams, list[str]]:
        """The params to send: with ``upload_inputs``, the input image and references by asset id
        (uploaded once per content and scope); returns them with the hashes of uploads reused from before."""
        params = request.params
        if not self.config.upload_inputs:
            return params, []
        reused: list[str] = []
        names = {i["field"] + str(i.get("index", "")): i.get("name") for i in request.inputs}

        async def asset_for(data_url: str, name: str) -> str:
            digest = hashlib.sha256(data_url.encode("ascii")).hexdigest()
            known = None if fresh else self.store.upload(self.config.scope, digest)
            if known:
                reused.append(digest)
                return known
            asset = await self.client.upload_asset(data_url, safe_name(name, fallback="input") + _ext(data_url),
                                                   hide=True)
            self.store.remember_upload(self.config.scope, digest, asset.id)
            return asset.id

        values = params.model_dump(exclude_none=True)
        if P.is_data_url(values.get("image") or ""):
            values["image"] = await asset_for(values["image"], names.get("image") or "input")
        refs = values.pop("ipAdapterImages", None)
        if refs:
            values["ipAdapterImageIds"] = [await asset_for(url, names.get(f"ipAdapterImages{i}") or f"reference-{i}")
                                           for i, url in enumerate(refs)]
        checked = P.check(values, request.model)
        assert checked.params is not None, checked.errors  # only data URLs became asset ids
        return checked.params, reused

    def _forget(self, reused: list[str]) -> None:
        for digest in reused:
            self.store.forget_upload(self.config.scope, digest)

    # ------------------------------------------------------------------ quote and submit

    async def quote(self, request: Request) -> Quote:
        """The cost (dry run). An upload the server no longer knows is uploaded again, once."""
        params, reused = await self._wire(request)
        try:
            return await self.client.quote(params)
        except (RejectedError, NotFoundError):
            if not reused:
                raise
        self._forget(reused)
        params, _ = await self._wire(request, fresh=True)
        return await self.client.quote(params)

    def check_output_dir(self) -> None:
        """Before paying: the output folder exists (or is made) and can be written to."""
        out = self.config.output_dir
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / f".scenario-tui-write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OSError(f"output folder {out} can't be written to ({exc.strerror or exc}); nothing was "
                          "submitted") from None

    async def submit(self, request: Request, quote: Quote | None = None) -> Run:
        """Record the intent, send the generate POST once, and give back the run.

        The run is RUNNING with its job; REFUSED when the server said no (nothing was created); or
        reconciled when the answer was lost: RUNNING if the job was found, else UNSURE (told why).
        The POST is never sent again by the engine.
        """
        self.check_output_dir()
        params, reused = await self._wire(request)
        run = self._changed(self.store.create_run(
            mode=self.config.mode, scope=self.config.scope, params=params.record(), inputs=request.inputs,
            model=request.record, seed=params.seed, quote=quote.cost if quote else None,
            output_dir=self.config.output_dir, parent=self._parent(request)))
        try:
            submission = await self.client.generate(params)
        except UNCLEAR as exc:
            self._changed(self.store.mark_unsure(run.id, str(exc)))
            return await self.reconcile(run.id)
        except ApiError as exc:
            if reused and isinstance(exc, RejectedError | NotFoundError):
                self._forget(reused)  # the next quote uploads them again
            return self._changed(self.store.mark_refused(run.id, str(exc)))
        return self._changed(self.store.attach_job(run.id, submission.job, submission.cost))

    def _parent(self, request: Request) -> tuple[str, int] | None:
        """Lineage: the earlier run and result whose saved file is this request's input image."""
        path = next((i.get("path") for i in request.inputs if i.get("field") == "image"), None)
        return self.store.result_of_file(Path(path)) if path else None

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, run_id: str) -> Run:
        """Find the job a lost generate answer created, by listing recent jobs; adopt it, never resubmit."""
        run = self._get(run_id)
        try:
            jobs = await self.client.list_jobs(created_after=iso(run.created - CLOCK_SKEW))
        except ApiError as exc:
            run = self._changed(self.store.set_note(run.id, f"couldn't look for its job ({exc}); tried again on "
                                                            "the next resume"))
            self._emit(NeedsDecision(run, run.note or ""))
            return run
        known = self.store.job_ids(self.config.scope)
        found = [job for job in jobs if job.id not in known and _matches(job.input, run.params)]
        if not found:
            run = self._changed(self.store.mark_unsure(
                run.id, f"the answer to the generate request was lost ({run.error or 'unknown'}) and no job "
                        "matching it was found; it was not sent again"))
            self._emit(NeedsDecision(run, "No job was found for this request. Submit it again only if you are "
                                          "sure it did not run (check app.scenario.com)."))
            return run
        job = found[-1]  # the oldest match: listings are newest first
        run = self._changed(self.store.attach_job(run.id, job, run.cost, found=True))
        self._emit(Notice(f"found job {job.id} created by the request whose answer was lost; following it "
                          "(it was not submitted again)", run))
        return run

    # ------------------------------------------------------------------ follow and download

    async def follow(self, run_id: str) -> Run:
        """Poll the run's job to its end, then save its results; returns the final run.

        Past ``follow_timeout`` (or ``max_polls``) the run is given back still RUNNING, noted
        ``STILL_RUNNING``: the job goes on on the server and a later resume takes it up.
        """
        run = self._get(run_id)
        if run.job_id is None:
            return run
        try:
            return await self._follow(run)
        except (ApiError, OSError) as exc:  # the job lives on: the run stays unfinished, noted how to take it up
            self._changed(self.store.set_note(run.id, f"stopped following: {exc}; {resume_command(run)}"))
            raise

    async def _follow(self, run: Run) -> Run:
        assert run.job_id is not None
        schedule = self.config.schedule
        interval, errors = schedule.first / schedule.factor, 0  # the first wait is ``first``
        deadline, polls = self._clock() + self.config.follow_timeout, 0
        while run.state is RunState.RUNNING:
            if polls >= schedule.max_polls or (polls and self._clock() >= deadline):
                return self._changed(self.store.set_note(run.id, STILL_RUNNING))
            polls += 1
            try:
                job = await self.client.get_job(run.job_id)
            except TRANSIENT as exc:
                errors += 1
                if errors >= schedule.max_consecutive_errors:
                    raise
                self._changed(self.store.set_note(run.id, f"{exc}; still following"))
                interval = schedule.after_error(interval)
                await self._sleep(interval)
                continue
            errors = 0
            before = (run.state, run.raw_status, run.progress, run.note)
            run = self.store.record_job(run.id, job)
            if (run.state, run.raw_status, run.progress, run.note) != before:
                self._changed(run)
            if run.state is RunState.RUNNING:
                interval = schedule.after(interval, job)
                await self._sleep(interval)
        if run.missing_results:
            run = await self.download(run.id)
        return run

    async def download(self, run_id: str) -> Run:
        """Save every result not yet on disk (each once, also across processes), then the sidecar."""
        run = self._get(run_id)
        if not run.results and run.job_id:
            run = self.store.record_job(run.id, await self.client.get_job(run.job_id))
        self._out(run).mkdir(parents=True, exist_ok=True)  # resumed elsewhere, or removed meanwhile
        gate = asyncio.Semaphore(DOWNLOADS_AT_ONCE)

        async def one(result: ResultRecord) -> None:
            async with gate:
                if not self.store.claim_result(run.id, result.index):
                    return
                try:
                    await self._save(run, result)
                finally:
                    self.store.release_result(run.id, result.index)

        todo = [r for r in run.results if r.file is None]
        await asyncio.gather(*(one(r) for r in todo))
        if todo:
            imaging.give_back_memory()  # decoding them freed tens of MiB the C library would keep
        run = self._get(run.id)
        if run.results and not run.missing_results:
            self._write_sidecar(run)
        return self._changed(run)

    async def _save(self, run: Run, result: ResultRecord) -> None:
        """Resolve the result's asset and download it. A transient failure, or any refusal of the download
        (403: the signed URL expired; another 4xx, a broken or mislabelled body), resolves the asset again,
        at most ``DOWNLOAD_ATTEMPTS`` times in all; an over-size body is not asked for again."""
        assert run.job_id is not None
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            downloading = False
            try:
                asset = await self.client.get_asset(result.asset_id)
                if not asset.url:
                    raise ProtocolError(f"result {result.index + 1} ({result.asset_id}) has no download URL yet")
                downloading = True
                return await self._save_asset(run, result, asset)
            except ApiError as exc:
                again = downloading or isinstance(exc, TRANSIENT)
                if not again or isinstance(exc, TooLargeError) or attempt == DOWNLOAD_ATTEMPTS:
                    raise
                self._emit(Notice(f"result {result.index + 1}: {exc}; resolving it again", run))
                await self._sleep(self.config.schedule.after_error(attempt * self.config.schedule.first))

    async def _save_asset(self, run: Run, result: ResultRecord, asset: Asset) -> None:
        assert run.job_id is not None and asset.url
        own_seed = asset.metadata.get("seed")  # the API records each sample's own seed
        seed = str(own_seed) if isinstance(own_seed, str | int) and str(own_seed) else run.seed
        out = self._out(run)
        name = result_name(run.job_id, result.index, seed, asset.mime_type)
        incoming = inside(out, f".{name}.incoming")
        try:
            await self.client.download(asset.url, incoming, max_bytes=self.config.max_download_bytes)
            _check_image(incoming, asset.mime_type)
            crop = next((i["contextCrop"] for i in run.inputs if i.get("contextCrop")), None)
            if crop is not None:
                problem = await asyncio.to_thread(_paste_back, incoming, run.inputs, crop["box"])
                if problem is None:
                    name = result_name(run.job_id, result.index, seed, "image/png")
                else:
                    self._emit(Notice(f"{name}: the cropped result is saved as it came: {problem}", run, "warning"))
            dest = inside(out, name)
            record = result_record(run, asset_id=asset.id, index=result.index, seed=seed)
            size = (run.params.get("width"), run.params.get("height"))
            text = provenance.a1111_parameters(run.params, seed=seed, model_name=run.model_name or None,
                                               width=size[0], height=size[1])
            try:
                provenance.embed(incoming, parameters=text, record=record)
            except ValueError as exc:
                self._emit(Notice(f"{name}: parameters not embedded ({exc})", run, "warning"))
            os.replace(incoming, dest)
        finally:
            incoming.unlink(missing_ok=True)
        saved = self.store.result_saved(run.id, result.index, seed, dest)
        self._emit(FileSaved(saved, dest))

    def _write_sidecar(self, run: Run) -> None:
        assert run.job_id is not None
        path = inside(self._out(run), f"{safe_name(run.job_id)}.json")
        data = {**result_record(run), "results": [
            {"file": Path(r.file).name if r.file else None, "assetId": r.asset_id, "seed": r.seed}
            for r in run.results]}
        temp = path.with_name(f".{path.name}.incoming")
        temp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temp, path)

    # ------------------------------------------------------------------ resume and cancel

    async def resume(self, runs: Sequence[Run] | None = None) -> list[Run]:
        """Take up every unfinished run of this API (or the ones given): reconcile, follow, download.

        A run whose intent belongs to a live process (its POST may be in flight) is left to it.
        Each run's failure is its own: it is noted on the run and the others go on.
        """
        todo = list(self.store.unfinished() if runs is None else runs)
        return list(await asyncio.gather(*(self._resume_one(run) for run in todo)))

    async def _resume_one(self, run: Run) -> Run:
        if run.scope != self.config.scope:
            if run.mode == "sandbox":  # its simulator is gone, and its results with it
                return self._changed(self.store.mark_lost(run.id, "a sandbox job ends with the app that ran it"))
            return run  # another account or API: taken up when the app runs against it again
        try:
            if run.state is RunState.INTENT:
                if _alive(run.owner_pid) and self.store.age(run) < POST_IN_FLIGHT:
                    return run  # its POST may be on its way: the process that sent it reads the answer
                self._changed(self.store.mark_unsure(run.id, "the app stopped before the server answered"))
            if run.state in (RunState.INTENT, RunState.UNSURE):
                run = await self.reconcile(run.id)
            if run.state is RunState.RUNNING:
                return await self.follow(run.id)
            if run.missing_results:
                return await self.download(run.id)
        except (ApiError, OSError) as exc:
            run = self._changed(self.store.set_note(run.id, f"stopped following: {exc}; {resume_command(run)}"))
            self._emit(Notice(f"run {run.job_id or run.id}: {exc}", run, "warning"))
        return self._get(run.id)

    async def adopt(self, job_id: str) -> Run:
        """A run for a job submitted elsewhere (or before the store existed), to follow it here."""
        job = await self.client.get_job(job_id)
        echo = {k: v for k, v in job.input.items() if not (isinstance(v, str) and P.is_data_url(v))}
        seed = echo.get("seed")
        run = self.store.create_run(mode=self.config.mode, scope=self.config.scope, params=echo, inputs=[],
                                    model={"id": echo["modelId"]} if isinstance(echo.get("modelId"), str) else None,
                                    seed=str(seed) if seed is not None else None, quote=None)
        return self._changed(self.store.attach_job(run.id, job, None, found=True))

    async def cancel(self, run_id: str) -> CancelOutcome:
        """Ask the server to cancel (best effort); the real end still comes from polling."""
        run = self._get(run_id)
        if run.job_id is None:
            raise ValueError("this run has no job to cancel yet")
        outcome = await self.client.cancel_job(run.job_id)
        if outcome.job is not None:
            self._changed(self.store.record_job(run.id, outcome.job))
        return outcome

    def _out(self, run: Run) -> Path:
        """The run's own output folder (the one asked for when it was submitted), else this engine's."""
        return run.output_dir or self.config.output_dir

    def _get(self, run_id: str) -> Run:
        run = self.store.get(run_id)
        if run is None:
            raise KeyError(run_id)
        return run


# --------------------------------------------------------------------------- helpers


def resume_command(run: Run) -> str:
    """How a run is taken up again from a shell."""
    return f"scenario-tui resume {run.job_id or run.id}"


def size_from_input(image_size: tuple[int, int], model: P.ModelLike | None) -> tuple[int, int]:
    """The width and height sent when the user sets neither: the input's aspect, within the model's limits."""
    lo, hi = P.rules_for(model.type if model else None).size
    return imaging.suggest_size(*image_size, lo, hi)


def result_name(job_id: str, index: int, seed: str | None, mime: str | None) -> str:
    """``<job id>_<1-based index>_seed-<seed>.<ext>``, every part reduced to a safe name."""
    return (f"{safe_name(job_id, fallback='job')}_{index + 1:02d}_seed-{safe_name(seed or 'random', limit=24)}"
            f"{_EXTENSIONS.get(mime or '', '.png')}")


def result_record(run: Run, **extra: Any) -> dict[str, Any]:
    """How a result was made, for its PNG chunk and the sidecar: no data URLs, no credentials."""
    return {
        "app": "scenario-tui", "version": __version__, "runId": run.id, "jobId": run.job_id,
        "status": run.raw_status or run.state.value, "mode": run.mode, "model": run.model,
        "parameters": run.params, "inputs": run.inputs, "seed": run.seed, "quote": run.quote, "cost": run.cost,
        "createdAt": iso(run.created), "finishedAt": iso(run.finished) if run.finished else None,
        **({"parent": {"runId": run.parent_run, "index": run.parent_result}} if run.parent_run else {}), **extra,
    }


def _input(field_name: str, loaded: imaging.LoadedImage | imaging.LoadedMask | None,
           index: int | None = None) -> dict[str, Any]:
    if loaded is None:
        return {}
    data: dict[str, Any] = {"field": field_name, "path": str(loaded.path.resolve()) if loaded.path else None,
                            "name": loaded.path.name if loaded.path else None, "sha256": loaded.sha256,
                            "size": loaded.path.stat().st_size if loaded.path and loaded.path.exists() else None,
                            "pixels": list(loaded.image.size)}
    if index is not None:
        data["index"] = index
    return data


def _context_crop(draft: Draft, lo: int) -> tuple[Draft, tuple[int, int, int, int] | None]:
    """The draft with its input and mask cropped to the mask's box plus padding, and that box
    (None, and the draft as it was, when the box is the whole image)."""
    assert draft.mask is not None and draft.context_crop is not None
    if draft.image is None:
        raise RequestProblem([P.Problem("image", "the context crop needs the input image as a file, not an asset id")])
    box = masks.context_box(draft.mask.image, draft.context_crop, lo)
    if box is None or box == (0, 0, *draft.image.size):
        return draft, None
    image, mask = imaging.crop_inputs(draft.image, draft.mask, box)
    return replace(draft, image=image, mask=mask), box


def _paste_back(result: Path, inputs: Sequence[Mapping[str, Any]], box: Sequence[int]) -> str | None:
    """Write the full input image with the cropped ``result`` pasted back through the feathered mask
    (pixels outside the mask stay the input's, bit for bit) over ``result``, as PNG; None when done, else why not."""
    files = {i.get("field"): i for i in inputs}
    try:
        image, mask = (_same_file(files.get(f) or {}) for f in ("image", "mask"))
        full = imaging.load_image(image).image
        try:
            alpha = imaging.load_mask(mask, full.size).image
        except imaging.MaskSizeMismatch as exc:
            assert exc.mask is not None
            alpha = imaging.resize_mask(exc.mask, full.size).image
        x, y, w, h = box
        pasted = masks.paste_back(full, imaging.load_image(result).image, alpha, (x, y, x + w, y + h))
    except (imaging.ImageProblem, ValueError) as exc:
        return str(exc)
    pasted.save(result, "PNG", compress_level=1)  # 5× faster than the default level for ~3 % more bytes
    return None


def _same_file(entry: Mapping[str, Any]) -> Path:
    """The recorded input file, if it still holds the same bytes."""
    path = Path(entry["path"]) if entry.get("path") else None
    if path is None:
        raise ValueError(f"the {entry.get('field', 'input')} was not a file")
    try:
        same = hashlib.sha256(path.read_bytes()).hexdigest() == entry.get("sha256")
    except OSError as exc:
        raise ValueError(f"{path.name} can't be read ({exc.strerror or exc})") from None
    if not same:
        raise ValueError(f"{path.name} has changed since the request was made")
    return path


def _check_image(path: Path, claimed: str | None) -> None:
    """A downloaded result must be a whole image of the type the server said (an HTML error page,
    a truncated or mislabelled body is not saved)."""
    with path.open("rb") as fh:
        actual = imaging.sniff_mime(fh.read(16))
    if actual is None or (claimed is not None and claimed.lower() in _EXTENSIONS and actual != claimed.lower()):
        raise ProtocolError(f"the download is not the {claimed or 'image'} it claims to be")
    try:
        imaging.check_decodes(path)
    except imaging.ImageProblem as exc:
        raise ProtocolError(f"the download is not a usable image ({exc})") from None


def _ext(data_url: str) -> str:
    return _EXTENSIONS.get(data_url[5:data_url.find(";")].lower(), ".png")


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value).strip()


def _matches(echo: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether a listed job's ``metadata.input`` is the echo of the request we recorded."""
    keys = [k for k in _MATCHED if params.get(k) is not None]
    return bool(echo) and all(_norm(echo.get(k)) == _norm(params[k]) for k in keys)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
