"""Async client for the parts of Scenario's REST API that scenario-tui uses.

Covers the inpaint + IP-Adapter generation (quote and submit), jobs, assets and
models. GETs are retried with backoff; POSTs never are, because a POST that timed
out may still have created a paid job.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import random
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import quote

import httpx

from scenario_tui import __version__
from scenario_tui.core.boundary import safe_url

DEFAULT_BASE_URL = "https://api.cloud.scenario.com/v1"
CAPABILITY = "inpaint_ip_adapter"

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MESSAGE_KEYS = ("reason", "message", "error", "detail")
_MAX_MESSAGE = 300
_UNEXPECTED = "unexpected answer from the server"
_CONNECT_TIMEOUT = 10.0
_WRITE_TIMEOUT = 120.0  # room for ~10 MB JSON bodies on slow uplinks
_CHUNK = 64 * 1024
MAX_ANSWER = 5 * 2**20  # largest JSON answer decoded (as received, after any gzip)
_MAX_ERROR_BODY = 64 * 1024  # what is read of an error body: its message is cut to _MAX_MESSAGE anyway
_MIN_SECRET = 4  # shorter values (test placeholders) would blank out ordinary letters
_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_STATUS_SEPARATORS = re.compile(r"[\s_-]+")

T = TypeVar("T")


class RequestParams(Protocol):
    """What the client needs from a set of generation parameters."""

    def body(self) -> dict[str, Any]:
        """Exact JSON body for POST /generate/inpaint-ip-adapter."""
        ...

    def query(self) -> dict[str, str]:
        """Query parameters (may contain "originalAssets"; never "dryRun")."""
        ...


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A failed API call; ``str()`` is a single line safe to show to the user.

    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one.
    """

    label: ClassVar[str | None] = None

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}: {self.message}"
        return f"{self.label}: {self.message}" if self.label else self.message


class AuthError(ApiError):
    """401: the API key or secret is wrong."""


class ForbiddenError(ApiError):
    """403: the plan or project does not allow this."""


class NotFoundError(ApiError):
    """404: unknown job, asset or model."""


class GoneError(ApiError):
    """410: the resource (typically a model type) was retired."""


class RateLimitedError(ApiError):
    """429: rate or concurrency limit reached."""


class RejectedError(ApiError):
    """Any other 4xx: the server refused the request as sent."""


class ServerError(ApiError):
    """5xx."""


class NetworkError(ApiError):
    """Timeout, connection or protocol failure; no HTTP status."""

    label = "Network error"


class ProtocolError(ApiError):
    """The server answered, but not with what the contract promises."""


class TooLargeError(ProtocolError):
    """An answer or a download over its size limit (asking again gets the same)."""


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    410: GoneError,
    429: RateLimitedError,
}


# --------------------------------------------------------------------------- models


class JobState(StrEnum):
    """Normalised job state."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELED = "canceled"


_STATES = {
    **dict.fromkeys(
        ("pending", "queued", "warmingup", "inprogress", "finalizing"), JobState.RUNNING
    ),
    **dict.fromkeys(("success", "succeeded", "completed"), JobState.SUCCESS),
    **dict.fromkeys(("failure", "failed", "error"), JobState.FAILURE),
    **dict.fromkeys(("canceled", "cancelled"), JobState.CANCELED),
}


def normalize_status(raw: str) -> JobState:
    """Map a server status spelling to a JobState; unknown values count as running."""
    return _STATES.get(_STATUS_SEPARATORS.sub("", raw.lower()), JobState.RUNNING)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _required_id(data: Any, key: str, what: str) -> str:
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not an object")
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} has no {key!r}")
    return value


def _text(value: Any) -> str | None:
    """A displayable string from a string or an error-like object."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for key in _MESSAGE_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                return value[key]
        return json.dumps(value, ensure_ascii=False) if value else None
    return None


@dataclass(frozen=True)
class Job:
    """A generation job as reported by ``GET /jobs/{id}``."""

    id: str
    raw_status: str
    state: JobState
    progress: float
    asset_ids: tuple[str, ...]
    error: str | None
    hint: str | None
    created_at: str | None
    updated_at: str | None
    status_history: tuple[tuple[str, str], ...]
    input: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """``metadata.input``: the server's echo of the request (how a lost job is recognised)."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """Build from the ``job`` object; tolerant of missing or odd fields except ``jobId``."""
        job_id = _required_id(data, "jobId", "job")
        status = data.get("status")
        raw_status = "" if status is None else str(status)
        metadata = _dict(data.get("metadata"))
        history = data.get("statusHistory")
        return cls(
            id=job_id,
            raw_status=raw_status,
            state=normalize_status(raw_status),
            progress=min(1.0, max(0.0, _number(data.get("progress")) or 0.0)),
            asset_ids=_strings(metadata.get("assetIds")),
            error=_text(metadata.get("error")),
            hint=_text(metadata.get("hint")),
            created_at=_str(data.get("createdAt")),
            updated_at=_str(data.get("updatedAt")),
            status_history=tuple(
                (str(entry.get("status", "")), str(entry.get("date", "")))
                for entry in (history if isinstance(history, list) else ())
                if isinstance(entry, dict)
            ),
            input=_dict(metadata.get("input")),
        )


@dataclass(frozen=True)
class Quote:
    """Price of a generation, from a dry run."""

    cost: float
    discount: float | None


@dataclass(frozen=True)
class Submission:
    """A submitted generation: its job and what it cost, when reported."""

    job: Job
    cost: float | None


@dataclass(frozen=True)
class CancelOutcome:
    """Result of a best-effort cancel; ``accepted=False`` carries the server's reason."""

    accepted: bool
    message: str
    job: Job | None


@dataclass(frozen=True)
class Asset:
    """An uploaded or generated asset; ``url`` is a short-lived signed CDN URL."""

    id: str
    url: str | None
    mime_type: str | None
    metadata: dict[str, Any] = field(hash=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Asset:
        """Build from the ``asset`` object."""
        return cls(
            id=_required_id(data, "id", "asset"),
            url=_str(data.get("url")),
            mime_type=_str(data.get("mimeType")),
            metadata=_dict(data.get("metadata")),
        )


@dataclass(frozen=True)
class ModelInfo:
    """The fields of a model that matter for inpaint + IP-Adapter."""

    id: str
    name: str
    type: str
    capabilities: tuple[str, ...]
    status: str | None
    privacy: str | None
    thumbnail_url: str | None
    compliant_model_ids: tuple[str, ...]
    epochs: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """Whether the model supports the inpaint + IP-Adapter generation."""
        return CAPABILITY in self.capabilities

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        """Build from a ``model`` object; the name falls back to the id."""
        model_id = _required_id(data, "id", "model")
        epochs = data.get("epochs")
        return cls(
            id=model_id,
            name=_str(data.get("name")) or model_id,
            type=_str(data.get("type")) or "",
            capabilities=_strings(data.get("capabilities")),
            status=_str(data.get("status")),
            privacy=_str(data.get("privacy")),
            thumbnail_url=_str(_dict(data.get("thumbnail")).get("url")),
            compliant_model_ids=_strings(data.get("compliantModelIds")),
            epochs=tuple(
                epoch
                for entry in (epochs if isinstance(epochs, list) else ())
                if (epoch := entry if isinstance(entry, str) else _str(_dict(entry).get("epoch")))
            ),
        )


def _field(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise ValueError(f"no {key!r} object")
    return value


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    seconds = _number(value.strip())
    if seconds is None:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds)


# --------------------------------------------------------------------------- client

_GENERATE = "/generate/inpaint-ip-adapter"


def _segment(value: str) -> str:
    """An id made safe to use as one path segment."""
    return quote(value, safe="")


def _job_answer(data: Any) -> Job:
    return Job.from_json(_field(data, "job"))


def _asset_answer(data: Any) -> Asset:
    return Asset.from_json(_field(data, "asset"))


def _model_answer(data: Any) -> ModelInfo:
    return ModelInfo.from_json(_field(data, "model"))


def _quote_answer(data: Any) -> Quote:
    cost = _number(_dict(data).get("creativeUnitsCost"))
    if cost is None:
        raise ValueError("no 'creativeUnitsCost'")
    return Quote(cost=cost, discount=_number(data.get("creativeUnitsDiscount")))


def _submission_answer(data: Any) -> Submission:
    return Submission(job=_job_answer(data), cost=_number(data.get("creativeUnitsCost")))


def _cancel_answer(data: Any) -> CancelOutcome:
    job = _dict(data).get("job")
    has_job = isinstance(job, dict) and bool(_str(job.get("jobId")))
    return CancelOutcome(
        accepted=True,
        message="Cancel requested.",
        job=Job.from_json(job) if isinstance(job, dict) and has_job else None,
    )


def _jobs_page(data: Any) -> tuple[list[Job], str | None]:
    jobs = _dict(data).get("jobs")
    if not isinstance(jobs, list):
        raise ValueError("no 'jobs' list")
    parsed = [Job.from_json(j) for j in jobs if isinstance(j, dict) and _str(j.get("jobId"))]
    return parsed, _str(data.get("nextPaginationToken"))


def _models_page(data: Any) -> tuple[list[ModelInfo], str | None]:
    models = _dict(data).get("models")
    if not isinstance(models, list):
        raise ValueError("no 'models' list")
    parsed = [ModelInfo.from_json(m) for m in models if isinstance(m, dict) and _str(m.get("id"))]
    return parsed, _str(data.get("nextPaginationToken"))


class ScenarioClient:
    """Async client for the Scenario API; use as an async context manager."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        user_agent: str = f"scenario-tui/{__version__}",
    ) -> None:
        token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode("ascii")
        # Sent per request, never set on the httpx client, so download() cannot leak it.
        self._auth_headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        # Longest first, so a secret inside the token is never half-replaced.
        self._secrets = sorted({s for s in (token, api_key, api_secret) if len(s) >= _MIN_SECRET}, key=len)[::-1]
        self._base_url = base_url.rstrip("/")
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(
                timeout, connect=_CONNECT_TIMEOUT, write=max(timeout, _WRITE_TIMEOUT)
            ),
            headers={"User-Agent": user_agent},
        )

    async def __aenter__(self) -> ScenarioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._http.aclose()

    # ---------------------------------------------------------------- operations

    async def quote(self, params: RequestParams) -> Quote:
        """Price the generation with a dry run (answered with HTTP 269).

        It creates nothing, so it is retried like a GET.
        """
        query = {**params.query(), "dryRun": "true"}
        return await self._api("POST", _GENERATE, _quote_answer, params=query, body=params.body(), retry=True)

    async def generate(self, params: RequestParams) -> Submission:
        """Submit the generation. Never retried: a failed POST may still have created a paid job."""
        return await self._api("POST", _GENERATE, _submission_answer, params=params.query(), body=params.body())

    async def get_job(self, job_id: str) -> Job:
        """Current state of a job."""
        return await self._api("GET", f"/jobs/{_segment(job_id)}", _job_answer)

    async def cancel_job(self, job_id: str) -> CancelOutcome:
        """Ask to cancel a job; a 400 "Cannot cancel …" is an outcome, not an error."""
        path = f"/jobs/{_segment(job_id)}/action"
        try:
            outcome = await self._api("POST", path, _cancel_answer, body={"action": "cancel"})
        except RejectedError as exc:
            if exc.status == 400 and "cannot cancel" in exc.message.lower():
                return CancelOutcome(accepted=False, message=exc.message, job=None)
            raise
        return outcome

    async def upload_asset(self, data_url: str, name: str, *, hide: bool = False) -> Asset:
        """Upload an image given as a data URL (``hide``: kept out of the asset library)."""
        body: dict[str, Any] = {"image": data_url, "name": name}
        if hide:
            body["hide"] = True
        return await self._api("POST", "/assets", _asset_answer, body=body)

    async def get_asset(self, asset_id: str) -> Asset:
        """Resolve an asset, including its signed download URL."""
        return await self._api("GET", f"/assets/{_segment(asset_id)}", _asset_answer)

    async def list_models(
        self, *, privacy: str | None = None, page_size: int = 100, max_pages: int = 50
    ) -> list[ModelInfo]:
        """Models with the inpaint + IP-Adapter capability, over all pages (at most ``max_pages``)."""
        query = {"pageSize": str(page_size)}
        if privacy:
            query["privacy"] = privacy
        usable: list[ModelInfo] = []
        seen: set[str] = set()
        for _ in range(max_pages):
            page, token = await self._api("GET", "/models", _models_page, params=query)
            usable.extend(model for model in page if model.usable)
            if not token or token in seen:
                break
            seen.add(token)
            query["paginationToken"] = token
        return usable

    async def list_jobs(self, *, created_after: str, page_size: int = 100, max_pages: int = 5) -> list[Job]:
        """Jobs created after ``created_after`` (ISO 8601), newest first, reading at most ``max_pages``."""
        query = {"createdAfter": created_after, "pageSize": str(page_size)}
        jobs: list[Job] = []
        seen: set[str] = set()
        for _ in range(max_pages):
            page, token = await self._api("GET", "/jobs", _jobs_page, params=query)
            jobs.extend(page)
            if not token or token in seen:
                break
            seen.add(token)
            query["paginationToken"] = token
        return jobs

    async def get_model(self, model_id: str) -> ModelInfo:
        """One model, usable or not."""
        return await self._api("GET", f"/models/{_segment(model_id)}", _model_answer)

    async def check_credentials(self) -> None:
        """Cheap authenticated call; raises AuthError (or another ApiError) on failure."""
        await self._api("GET", "/models", _dict, params={"pageSize": "1"})

    async def download(self, url: str, dest: Path, *, max_bytes: int | None = None) -> Path:
        """Stream a signed CDN URL to ``dest`` atomically, without credentials.

        Retried like a GET; the partial file is removed on any failure. A body (as decoded: a
        compressed answer counts at its full size) over ``max_bytes`` is refused.
        """
        dest = Path(dest)
        if not safe_url(url):  # a server-given URL: no other scheme, no plain http across the network
            raise self._error(ProtocolError, f"{_UNEXPECTED}: the download URL is not https: {url[:80]}")

        async def attempt() -> Path:
            temp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
            try:
                with temp.open("xb") as out:
                    # The URL string is sent as is: re-encoding would break the signature.
                    async with self._http.stream("GET", url, follow_redirects=True) as response:
                        if not response.is_success:
                            raise self._status_error(response, await _read_upto(response, _MAX_ERROR_BODY))
                        received = 0
                        async for chunk in response.aiter_bytes(_CHUNK):
                            received += len(chunk)
                            if max_bytes is not None and received > max_bytes:
                                raise self._error(TooLargeError, f"the download is larger than the "
                                                                 f"{max_bytes // 2**20} MiB limit")
                            out.write(chunk)
                os.replace(temp, dest)
            finally:
                temp.unlink(missing_ok=True)
            return dest

        return await self._retrying(self._guarded(attempt), retry=True)

    # ---------------------------------------------------------------- plumbing

    async def _api(
        self,
        method: str,
        path: str,
        build: Callable[[Any], T],
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> T:
        """One API call with credentials; any 2xx is success; GETs (or ``retry``) are retried."""

        async def attempt() -> T:
            async with self._http.stream(
                method, self._base_url + path, params=params, json=body, headers=self._auth_headers
            ) as response:
                if not response.is_success:
                    raise self._status_error(response, await _read_upto(response, _MAX_ERROR_BODY))
                content = await _read_upto(response, MAX_ANSWER + 1)
            if len(content) > MAX_ANSWER:
                raise self._error(TooLargeError, f"{_UNEXPECTED}: the answer is larger than the "
                                                 f"{MAX_ANSWER // 2**20} MiB limit", response.status_code)
            return self._parse(response.status_code, content, build)

        return await self._retrying(self._guarded(attempt), retry=method == "GET" if retry is None else retry)

    def _guarded(self, attempt: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        """Wrap ``attempt`` so httpx exceptions become ApiErrors with no link to the request."""

        async def run() -> T:
            try:
                return await attempt()
            except httpx.TransportError as exc:
                error: ApiError = self._error(NetworkError, _describe(exc))
            except httpx.RequestError as exc:  # decoding errors, too many redirects
                error = self._error(ProtocolError, f"{_UNEXPECTED}: {_describe(exc)}")
            raise error  # outside the except block, so no __context__ holding the request

        return run

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], *, retry: bool) -> T:
        """Run ``attempt``; if ``retry``, repeat it on network errors and 429/5xx."""
        retries = 0
        while True:
            try:
                return await attempt()
            except ApiError as exc:
                retryable = isinstance(exc, NetworkError) or exc.status in _RETRY_STATUSES
                if not (retry and retryable and retries < self._max_retries):
                    raise
                delay = self._delay(retries, exc.retry_after)
            retries += 1
            await self._sleep(delay)

    def _delay(self, retries: int, retry_after: float | None) -> float:
        """Retry-After when given, else exponential backoff with full jitter; both capped."""
        if retry_after is not None:
            return min(retry_after, self._max_backoff)
        return random.uniform(0.0, min(self._max_backoff, self._backoff * 2**retries))

    def _parse(self, status: int, content: bytes, build: Callable[[Any], T]) -> T:
        """Apply ``build`` to a 2xx JSON body; anything unexpected is a ProtocolError."""
        try:
            data = self._scrub_tree(json.loads(content))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python can walk
            problem = f"not JSON: {content[:_MAX_MESSAGE * 4].decode('utf-8', 'replace')}"
        else:
            try:
                return build(data)
            except ValueError as exc:
                problem = str(exc)
        raise self._error(ProtocolError, f"{_UNEXPECTED}: {problem}", status)

    def _status_error(self, response: httpx.Response, content: bytes) -> ApiError:
        """The typed error for a non-2xx response, from (the first part of) its body."""
        status = response.status_code
        message = _server_message(response, content)
        if status < 400:
            return self._error(ProtocolError, f"{_UNEXPECTED}: {message}", status)
        cls = _ERRORS_BY_STATUS.get(status) or (ServerError if status >= 500 else RejectedError)
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        return self._error(cls, message, status, retry_after)

    def _scrub(self, text: str) -> str:
        """``text`` with the key, the secret and the Basic token replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _scrub_tree(self, data: Any) -> Any:
        """A decoded answer with the credentials removed from every string in it (ids, names, statuses,
        errors, seeds: all of it may be stored, shown, printed as ``--json`` or used in a file name)."""
        if isinstance(data, str):
            return self._scrub(data)
        if isinstance(data, list):
            return [self._scrub_tree(item) for item in data]
        if isinstance(data, dict):
            return {self._scrub(key): self._scrub_tree(value) for key, value in data.items()}
        return data

    def _error(
        self,
        cls: type[ApiError],
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> ApiError:
        """An error whose message is one clipped line, free of credentials."""
        message = _CONTROL_OR_SPACE.sub(" ", self._scrub(message)).strip()
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "…"
        return cls(message, status, retry_after)


async def _read_upto(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the (decoded) body, reading no further than that."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes(_CHUNK):
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


def _server_message(response: httpx.Response, content: bytes) -> str:
    """First of reason/message/error/detail (strings), else the raw body; plus a 429's limit."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        message = next(
            (v for k in _MESSAGE_KEYS if isinstance(v := data.get(k), str) and v.strip()), None
        )
        if message:
            details = _dict(data.get("details"))
            limit, action = details.get("actionLimit"), _str(details.get("actionName"))
            if limit is not None:
                message += f" (limit {limit} for {action})" if action else f" (limit {limit})"
            return message
    return content.decode("utf-8", "replace") or response.reason_phrase or "empty answer"


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
