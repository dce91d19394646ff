"""The simulator: one thread-safe object answering ``httpx.Request``s like the Scenario API (under ``/v1``)."""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import string
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from scenario_tui.sandbox.assets import CDN_PREFIX, Signer, StoredAsset
from scenario_tui.sandbox.catalogue import CREATED, MODELS, MODELS_BY_ID, CatalogueModel
from scenario_tui.sandbox.config import SandboxConfig
from scenario_tui.sandbox.generation import Picture, parse_generation, read_data_url
from scenario_tui.sandbox.jobs import RUNNING, STATUSES, SimJob
from scenario_tui.sandbox.replies import Answer, Fault, bad_field, reply

if TYPE_CHECKING:
    from PIL import Image

    from scenario_tui.sandbox.render import Scene

MAX_BODY = 10 * 1024 * 1024
GENERATE_PATH = "/v1/generate/inpaint-ip-adapter"
DEFAULT_PAGE_SIZE = 10
DEFAULT_JOBS_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
THUMBNAIL_SIZE = (128, 128)
RATE_LIMIT = {"name": "RateLimitError", "details": {"actionName": "api-requests", "actionLimit": 10}}
_ID_ALPHABET = string.ascii_letters + string.digits
_ASSET_BODY_FIELDS = frozenset({"image", "name", "canvas", "collectionIds", "hide", "parentId", "thumbnail"})
_PRIVACY = ("private", "public", "unlisted")
_FORCED_FAILURE = ("The generation failed because the prompt asks for it with [fail] (sandbox).",
                   "Remove [fail] from the prompt and submit again.")
_RANDOM_FAILURE = ("The generation failed: the worker ran out of GPU memory (simulated by fail_rate).",
                   "Submit again, or ask for fewer samples or a smaller size. Failed jobs are refunded.")
_BAD_GATEWAY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
_MODELS_REASONS = {
    403: "Your plan or project does not give access to models (simulated by models_status).",
    410: "These model types were retired and can no longer be used (simulated by models_status).",
}

Handler = Callable[..., httpx.Response | Answer]


class RequestRecord(NamedTuple):
    """One ``/v1`` request as the sandbox received it (whatever it was answered)."""

    method: str
    path: str  # with the /v1 prefix
    query: dict[str, str]
    body_bytes: int


class Sandbox:
    """An offline Scenario API: jobs, assets and models, with faults to order (see ``SandboxConfig``).

    ``handle`` does all the work and may be called from any thread; job progress follows ``clock``.
    Tests can read what was received (``request_log``, ``generate_posts``, ``bytes_received``).
    """

    def __init__(self, config: SandboxConfig = SandboxConfig(), clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._start = clock()
        self._epoch = time.time()
        self._lock = threading.Lock()
        # Faults follow the configured seed; ids, picked seeds and the URL key differ in every sandbox.
        self._errors = random.Random(f"errors:{config.seed}")
        self._failures = random.Random(f"failures:{config.seed}")
        self._random = random.Random()
        self._signer = Signer(secrets.token_bytes(32))
        self._burst_left = config.rate_limit_burst
        self._lost_left = config.lose_generate_answers
        self._malformed_left = config.malformed_generate_answers
        self._uploads: set[str] = set()  # ids of the assets made by POST /assets
        self._log: list[RequestRecord] = []
        self._jobs: dict[str, SimJob] = {}
        self._results: dict[str, tuple[Scene, int]] = {}  # scenes of jobs whose results are not published yet
        self._assets: dict[str, StoredAsset] = {
            m.thumbnail_id: StoredAsset(m.thumbnail_id, THUMBNAIL_SIZE, partial(_thumbnail, m), source="uploaded",
                                        metadata={"type": "uploaded", "name": f"{m.name} thumbnail"}, created=CREATED)
            for m in MODELS
        }
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/generate/inpaint-ip-adapter"), self._generate),
            ("GET", re.compile(r"/jobs"), self._list_jobs),
            ("GET", re.compile(r"/jobs/([^/]+)"), self._get_job),
            ("POST", re.compile(r"/jobs/([^/]+)/action"), self._job_action),
            ("POST", re.compile(r"/assets"), self._post_asset),
            ("GET", re.compile(r"/assets/([^/]+)"), self._get_asset),
            ("GET", re.compile(r"/models"), self._list_models),
            ("GET", re.compile(r"/models/([^/]+)"), self._get_model),
        ]

    # ------------------------------------------------------------------ entry point

    def handle(self, request: httpx.Request) -> Answer:
        """Answer one request (its body is read here if it was not yet); the transports deliver the answer."""
        try:
            path = request.url.path
            if path.startswith(CDN_PREFIX):
                return Answer(self._download(request, path.removeprefix(CDN_PREFIX)))
            if path == "/v1" or path.startswith("/v1/"):
                answer = self._api(request, path.removeprefix("/v1"))
                return answer if isinstance(answer, Answer) else Answer(answer)
            raise Fault(404, f"No such endpoint: {path} (the API lives under /v1)")
        except Fault as fault:
            return Answer(fault.response())
        except Exception as exc:  # a bug here must reach the client as an answer, not kill its connection
            return Answer(reply(500, {"reason": f"Sandbox internal error: {type(exc).__name__}: {exc}"}))

    def forget_uploads(self) -> None:
        """Delete every asset made by ``POST /assets``, as if the uploads expired; naming them is an error again."""
        with self._lock:
            for asset_id in self._uploads:
                del self._assets[asset_id]
            self._uploads.clear()

    # ------------------------------------------------------------------ request log (for tests)

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every ``/v1`` request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def generate_posts(self) -> list[RequestRecord]:
        """The non-dry-run generate POSTs received, including refused ones and those whose answer was lost."""
        return [r for r in self.request_log if r.method == "POST" and r.path == GENERATE_PATH and not _dry_run(r.query)]

    def bytes_received(self, path_prefix: str = "/v1", method: str | None = None) -> int:
        """Body bytes of the requests whose path starts with ``path_prefix`` (and of ``method`` when given)."""
        return sum(r.body_bytes for r in self.request_log
                   if r.path.startswith(path_prefix) and method in (None, r.method))

    # ------------------------------------------------------------------ the API

    def _api(self, request: httpx.Request, path: str) -> httpx.Response | Answer:
        size = len(request.read())
        with self._lock:
            self._log.append(RequestRecord(request.method, request.url.path, dict(request.url.params), size))
        if size > MAX_BODY:
            raise Fault(413, f"Request body too large: {size:,} bytes, over the {MAX_BODY // 1024 // 1024} MB limit")
        self._authenticate(request)
        with self._lock:
            limited = self._burst_left > 0
            if limited:
                self._burst_left -= 1
            unavailable = self._errors.random() < self.config.error_rate
        if limited:
            raise Fault(429, "Too many requests: rate limit reached, retry later", headers={"Retry-After": "1"},
                        **RATE_LIMIT)
        if unavailable:
            raise Fault(503, "Service temporarily unavailable (simulated by error_rate)")
        matches = [(method, handler, m) for method, pattern, handler in self._routes if (m := pattern.fullmatch(path))]
        if not matches:
            raise Fault(404, f"No such endpoint: /v1{path}")
        for method, handler, m in matches:
            if method == request.method:
                return handler(request, *m.groups())
        allowed = ", ".join(sorted({method for method, _, _ in matches}))
        raise Fault(405, f"Method {request.method} not allowed on /v1{path} (use {allowed})",
                    headers={"Allow": allowed})

    def _authenticate(self, request: httpx.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            raise Fault(401, "Missing credentials: send Authorization: Basic base64(API_KEY:API_SECRET)")
        try:
            key, colon, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except ValueError:  # bad base64, non-ASCII, not UTF-8
            key, colon, secret = "", "", ""
        if not (key and colon and secret):
            raise Fault(401, "Malformed Basic credentials: expected base64(API_KEY:API_SECRET)")
        if self.config.credentials is not None and (key, secret) != tuple(self.config.credentials):
            raise Fault(401, "Invalid API key or secret")

    # ------------------------------------------------------------------ generation and jobs

    def _generate(self, request: httpx.Request) -> httpx.Response | Answer:
        """A quote (269), or a new job answered as the fault knobs say: normally, lost, or not as JSON."""
        generation = parse_generation(_json(request), self._find_asset)
        cost = generation.cost
        if _dry_run(request.url.params):
            return reply(269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0})
        with self._lock:
            now = self._clock()
            image_id, mask_id, *reference_ids = (
                self._store_input(p, now) for p in (generation.image, generation.mask, *generation.references))
            seed = generation.params.seed or str(self._random.randrange(2**32))
            inference = generation.echo(image_id, mask_id, reference_ids, seed)
            unlucky = self._failures.random() < self.config.fail_rate
            forced = "[fail]" in generation.params.prompt.lower()
            job = SimJob(
                id=self._new_id("job"), started=now, duration=max(0.0, self.config.job_seconds), input=inference,
                asset_ids=tuple(self._new_id("asset") for _ in range(generation.params.numSamples)),
                failure=_FORCED_FAILURE if forced else _RANDOM_FAILURE if unlucky else None,
            )
            self._jobs[job.id] = job
            self._results[job.id] = (generation.scene(), int(seed))
            body = {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0, "inference": inference,
                    "job": self._job_json(job, now)}
            response: httpx.Response | None
            if self._lost_left > 0:
                self._lost_left -= 1
                response = None
            elif self._malformed_left > 0:
                self._malformed_left -= 1
                response = httpx.Response(200, content=_BAD_GATEWAY, headers={"Content-Type": "text/html"})
            else:
                response = reply(200, body)
        return Answer(response, max(0.0, self.config.generate_answer_delay))

    def _list_jobs(self, request: httpx.Request) -> httpx.Response:
        """Jobs newest first, filtered, a page at a time; the token names the last job of the page."""
        query = request.url.params
        size = _page_size(query, DEFAULT_JOBS_PAGE_SIZE)
        after = _created_after(query.get("createdAfter"))
        status, kind = query.get("status"), query.get("type")
        if status is not None and status not in STATUSES:
            raise bad_field("status", "must be one of: " + ", ".join(STATUSES))
        cursor = _page_value(query.get("paginationToken"), "jobs")
        with self._lock:
            now = self._clock()
            newest_first = list(reversed(self._jobs))  # kept in creation order
            if cursor is not None and cursor not in self._jobs:
                raise _bad_token()
            start = 0 if cursor is None else newest_first.index(cursor) + 1
            listed = [self._job_json(self._jobs[job_id], now) for job_id in newest_first[start:]]
        matching = [job for job in listed if (after is None or datetime.fromisoformat(job["createdAt"]) > after)
                    and status in (None, job["status"]) and kind in (None, job["jobType"])]
        body: dict[str, Any] = {"jobs": matching[:size]}
        if len(matching) > size:
            body["nextPaginationToken"] = _page_token("jobs", matching[size - 1]["jobId"])
        return reply(200, body)

    def _get_job(self, request: httpx.Request, job_id: str) -> httpx.Response:
        with self._lock:
            job = self._job(job_id)
            return reply(200, {"job": self._job_json(job, self._clock())})

    def _job_action(self, request: httpx.Request, job_id: str) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, dict) or body.get("action") != "cancel":
            raise bad_field("action", 'must be "cancel"')
        with self._lock:
            job = self._job(job_id)
            now = self._clock()
            if not self.config.cancellable:
                raise Fault(400, "Cannot cancel this type of job")
            status = job.status(now)
            if status not in RUNNING:
                raise Fault(400, f"Cannot cancel job {job.id}: it already ended ({status})")
            job.canceled_at = now
            self._results.pop(job.id, None)
            return reply(200, {"job": self._job_json(job, now)})

    def _job(self, job_id: str) -> SimJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise Fault(404, f"Job {job_id} not found")
        return job

    def _job_json(self, job: SimJob, now: float) -> dict[str, Any]:
        """The job as of ``now``, publishing its result assets the first time it is seen succeeded."""
        status = job.status(now)
        if job.id in self._results and status not in RUNNING:
            scene, seed = self._results.pop(job.id)
            if status == "success":
                self._publish(job, scene, seed)
        return job.to_json(now, self._iso)

    def _publish(self, job: SimJob, scene: Scene, seed: int) -> None:
        from scenario_tui.sandbox.render import paint

        created = self._iso(job.ending()[1])
        for index, asset_id in enumerate(job.asset_ids):
            metadata = {"type": "inference-inpaint-ip-adapter", "name": f"{job.id}-{index + 1}.png",
                        "parentJobId": job.id, "modelId": job.input["modelId"], "prompt": scene.prompt,
                        "seed": str(seed + index), "strength": scene.strength}
            self._assets[asset_id] = StoredAsset(
                asset_id, scene.size, partial(paint, scene, seed + index), source="inference-in-paint-ip-adapter",
                metadata=metadata, created=created, output_index=index)

    # ------------------------------------------------------------------ assets

    def _post_asset(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, dict):
            raise Fault(400, "The body must be a JSON object")
        for field in body:
            if field not in _ASSET_BODY_FIELDS:
                raise bad_field(field, "is not a field of an asset upload")
        name, data_url, hide = body.get("name"), body.get("image"), body.get("hide", False)
        if not isinstance(name, str) or not name.strip():
            raise bad_field("name", "is required")
        if not isinstance(hide, bool):
            raise bad_field("hide", "must be true or false")
        if not isinstance(data_url, str) or not data_url:
            raise bad_field("image", "is required (an image data URL)")
        try:
            data, size = read_data_url(data_url)
        except ValueError as exc:
            raise bad_field("image", str(exc)) from None
        with self._lock:
            now = self._clock()
            asset = StoredAsset(self._new_id("asset"), size, data, source="uploaded",
                                metadata={"type": "uploaded", "name": name.strip(), "hide": hide},
                                created=self._iso(now))
            self._assets[asset.id] = asset
            self._uploads.add(asset.id)
        return reply(200, {"asset": asset.to_json(self._signed_url(request, asset.id, now))})

    def _get_asset(self, request: httpx.Request, asset_id: str) -> httpx.Response:
        asset = self._find_asset(asset_id)
        if asset is None:
            raise Fault(404, f"Asset {asset_id} not found")
        return reply(200, {"asset": asset.to_json(self._signed_url(request, asset.id, self._clock()))})

    def _download(self, request: httpx.Request, name: str) -> httpx.Response:
        """The CDN: serves PNG bytes for a signed URL, refusing credentials like S3/CloudFront do."""
        if request.method != "GET":
            raise Fault(405, f"Method {request.method} not allowed on the CDN", headers={"Allow": "GET"})
        if "Authorization" in request.headers:
            raise Fault(400, "Only one auth mechanism allowed: a signed URL must be fetched without an "
                             "Authorization header")
        asset_id = name.removesuffix(".png")
        problem = self._signer.problem(asset_id, request.url.query.decode("ascii", "replace"),
                                       self._epoch_of(self._clock()))
        if problem:
            raise Fault(*problem)
        asset = self._find_asset(asset_id)
        if asset is None or not name.endswith(".png"):
            raise Fault(404, "No such object")
        return httpx.Response(200, content=asset.png(), headers={"Content-Type": "image/png"})

    def _find_asset(self, asset_id: str) -> StoredAsset | None:
        with self._lock:
            return self._assets.get(asset_id)

    def _store_input(self, picture: Picture, now: float) -> str:
        """The asset id of a generation input, storing it first when it was sent as a data URL."""
        if picture.asset_id is not None:
            return picture.asset_id
        asset = StoredAsset(self._new_id("asset"), picture.size, picture.data, source="uploaded",
                            metadata={"type": "uploaded", "name": f"{picture.field}.png"}, created=self._iso(now))
        self._assets[asset.id] = asset
        return asset.id

    def _signed_url(self, request: httpx.Request, asset_id: str, now: float) -> str:
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        return self._signer.url(origin, asset_id, self._epoch_of(now))

    # ------------------------------------------------------------------ models

    def _list_models(self, request: httpx.Request) -> httpx.Response:
        self._models_knob()
        query = request.url.params
        size = _page_size(query, DEFAULT_PAGE_SIZE)
        privacy = query.get("privacy")
        if privacy is not None and privacy not in _PRIVACY:
            raise bad_field("privacy", "must be one of: " + ", ".join(_PRIVACY))
        start_text = _page_value(query.get("paginationToken"), "models") or "0"
        if not start_text.isdigit():
            raise _bad_token()
        start = int(start_text)
        trained = query.get("status", "trained") == "trained"  # every built-in model is trained
        models = [m for m in MODELS if trained and privacy in (None, m.privacy)
                  and not (self.config.empty_models and m.usable)]
        end = start + size
        body: dict[str, Any] = {"models": [self._model_json(request, m) for m in models[start:end]]}
        if end < len(models):
            body["nextPaginationToken"] = _page_token("models", str(end))
        return reply(200, body)

    def _get_model(self, request: httpx.Request, model_id: str) -> httpx.Response:
        self._models_knob()
        model = MODELS_BY_ID.get(model_id)
        if model is None:
            raise Fault(404, f"Model {model_id} not found")
        return reply(200, {"model": self._model_json(request, model)})

    def _models_knob(self) -> None:
        status = self.config.models_status
        if status is not None:
            raise Fault(status, _MODELS_REASONS.get(status, f"Models are unavailable (simulated status {status})."))

    def _model_json(self, request: httpx.Request, model: CatalogueModel) -> dict[str, Any]:
        return model.to_json(self._signed_url(request, model.thumbnail_id, self._clock()))

    # ------------------------------------------------------------------ helpers

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_" + "".join(self._random.choices(_ID_ALPHABET, k=22))

    def _epoch_of(self, t: float) -> float:
        """Wall-clock seconds for a time on the sandbox's clock."""
        return self._epoch + t - self._start

    def _iso(self, t: float) -> str:
        when = datetime.fromtimestamp(self._epoch_of(t), UTC)
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(request: httpx.Request) -> Any:
    try:
        return json.loads(request.content)
    except ValueError as exc:
        raise Fault(400, f"Invalid JSON body: {exc}") from None


def _dry_run(query: Mapping[str, str]) -> bool:
    """Whether a generate POST only asks for a quote (``dryRun=true``, or ``api`` for the API tier's price)."""
    return query.get("dryRun", "").lower() in ("true", "api")


def _page_size(query: Mapping[str, str], default: int) -> int:
    text = query.get("pageSize", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise bad_field("pageSize", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(text)


def _page_token(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _page_value(token: str | None, kind: str) -> str | None:
    """Where a pagination token of ``kind`` points (``None`` without a token); 400 for any other token."""
    if not token:
        return None
    try:
        found, _, value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
    except ValueError:
        found, value = "", ""
    if found != kind or not value:
        raise _bad_token()
    return value


def _bad_token() -> Fault:
    return bad_field("paginationToken", "invalid or expired")


def _created_after(text: str | None) -> datetime | None:
    """An ISO 8601 date and time (UTC when it names no offset); 400 naming ``createdAfter`` otherwise."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise bad_field("createdAfter", "must be an ISO 8601 date and time, e.g. 2026-12-02T10:00:00.000Z") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _thumbnail(model: CatalogueModel) -> Image.Image:
    from scenario_tui.sandbox.render import swatch

    return swatch(model.colors, THUMBNAIL_SIZE, zlib.crc32(model.id.encode()))
