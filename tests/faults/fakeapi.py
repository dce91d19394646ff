"""A fake Scenario API for the fault suite: a plain happy path that faults are injected into, per endpoint.

Not the sandbox: every answer here is built by hand so that any of them can be replaced by a broken one.
Runs in process behind ``httpx.MockTransport``; nothing waits for real time.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from PIL import Image

BASE = "https://api.fault.test/v1"
CDN = "https://cdn.fault.test"
KEY, SECRET = "fault-key-8d3a91", "fault-secret-5e7b20"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
MODEL_ID = "model_fault-sd15"
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;SGVsbG8=\x07\x9b31m\x1b[?1049h\r\x08\x00\x85"
MARKUP = "[bold red]loud[/bold red][link=https://evil.test]x[/link]"
ECHO = f"key={KEY} secret={SECRET} Authorization: Basic {TOKEN}"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 200, 90)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed (a few KiB on the wire)."""
    return gzip.compress(b"\0" * size, compresslevel=1)


Handler = Callable[[httpx.Request, "FakeAPI"], httpx.Response]


@dataclass
class Fault:
    """Replace the answer to ``endpoint`` ``times`` times (None: always) with ``answer(request, api)``.

    ``answer`` may also raise an ``httpx`` transport error (a reset, a timeout) or return None to let
    the normal answer through after a side effect (a job created, then its answer lost).
    """

    endpoint: str
    answer: Callable[[httpx.Request, FakeAPI], httpx.Response | None]
    times: int | None = 1


@dataclass
class FakeJob:
    id: str
    input: dict[str, Any]
    samples: int
    polls: int = 0
    canceled: bool = False
    done_after: int = 2  # polls before success
    asset_ids: list[str] = field(default_factory=list)


class FakeAPI:
    """The endpoints scenario-tui uses, with faults injected; counts what it served."""

    def __init__(self, *faults: Fault) -> None:
        self.faults = list(faults)
        self.injected = 0
        self.jobs: dict[str, FakeJob] = {}
        self.generate_posts = 0  # non-dry-run generate requests received
        self.requests: list[tuple[str, str]] = []
        self.job_prefix = "job_"
        self.uploads = 0
        self.transport = httpx.MockTransport(self.handle)

    # ------------------------------------------------------------------ routing

    def endpoint(self, request: httpx.Request) -> str:
        path = request.url.path
        if request.url.host == "cdn.fault.test":
            return "cdn"
        if request.url.host != "api.fault.test":
            return "unknown"
        rest = path.removeprefix("/v1")
        if rest == "/models":
            return "models"
        if rest.startswith("/models/"):
            return "model"
        if rest == "/assets":
            return "upload"
        if rest.startswith("/assets/"):
            return "asset"
        if rest == "/generate/inpaint-ip-adapter":
            return "quote" if request.url.params.get("dryRun") == "true" else "generate"
        if rest == "/jobs":
            return "jobs"
        if rest.endswith("/action"):
            return "cancel"
        if rest.startswith("/jobs/"):
            return "job"
        return "unknown"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        endpoint = self.endpoint(request)
        self.requests.append((endpoint, request.url.path))
        if endpoint == "generate":
            self.generate_posts += 1
        if endpoint == "unknown":
            return httpx.Response(404, text="no such host here")
        if endpoint != "cdn" and request.headers.get("authorization") != f"Basic {TOKEN}":
            return httpx.Response(401, json={"reason": "Unauthorized"})
        for fault in self.faults:
            if fault.endpoint == endpoint and (fault.times is None or fault.times > 0):
                if fault.times is not None:
                    fault.times -= 1
                self.injected += 1
                answer = fault.answer(request, self)
                if answer is not None:
                    return answer
                break
        return getattr(self, f"_{endpoint}")(request)

    # ------------------------------------------------------------------ the happy path

    def model_json(self, **changes: Any) -> dict[str, Any]:
        return {"id": MODEL_ID, "name": "Fault SD 1.5", "type": "sd-1_5", "capabilities": ["inpaint_ip_adapter"],
                "status": "trained", "privacy": "private", **changes}

    def _models(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"models": [self.model_json()]})

    def _model(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model": self.model_json()})

    def _upload(self, request: httpx.Request) -> httpx.Response:
        self.uploads += 1
        return httpx.Response(200, json={"asset": {"id": f"asset_up{self.uploads}", "mimeType": "image/png"}})

    def asset_json(self, asset_id: str, **changes: Any) -> dict[str, Any]:
        seed = asset_id.rsplit("_", 1)[-1]
        return {"id": asset_id, "url": f"{CDN}/{quote(asset_id, safe='')}.png?sig=abc", "mimeType": "image/png",
                "metadata": {"seed": seed}, **changes}

    def _asset(self, request: httpx.Request) -> httpx.Response:
        asset_id = request.url.path.removeprefix("/v1/assets/")
        return httpx.Response(200, json={"asset": self.asset_json(asset_id)})

    def _quote(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(269, json={"creativeUnitsCost": 4, "creativeUnitsDiscount": 0})

    def create_job(self, request: httpx.Request) -> FakeJob:
        body = json.loads(request.content)
        job_id = f"{self.job_prefix}{len(self.jobs) + 1}"
        job = FakeJob(job_id, body, int(body.get("numSamples") or 1))
        job.asset_ids = [f"asset_r{len(self.jobs) + 1}_{100 + i}" for i in range(job.samples)]
        self.jobs[job_id] = job
        return job

    def job_json(self, job: FakeJob, **changes: Any) -> dict[str, Any]:
        done = job.polls > job.done_after
        status = "canceled" if job.canceled else "success" if done else "in-progress" if job.polls else "queued"
        return {"jobId": job.id, "status": status, "progress": 1.0 if done else 0.5 if job.polls else 0.0,
                "jobType": "inference", "createdAt": "2026-12-06T00:00:00.000Z",
                "metadata": {"input": job.input, "assetIds": job.asset_ids if done else []}, **changes}

    def _generate(self, request: httpx.Request) -> httpx.Response:
        job = self.create_job(request)
        return httpx.Response(200, json={"job": self.job_json(job), "creativeUnitsCost": 4})

    def job_of(self, request: httpx.Request) -> FakeJob | None:
        job_id = request.url.path.removeprefix("/v1/jobs/").removesuffix("/action")
        return self.jobs.get(job_id)

    def _job(self, request: httpx.Request) -> httpx.Response:
        job = self.job_of(request)
        if job is None:
            return httpx.Response(404, json={"reason": "Job not found"})
        job.polls += 1
        return httpx.Response(200, json={"job": self.job_json(job)})

    def _jobs(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"jobs": [self.job_json(j) for j in reversed(self.jobs.values())]})

    def _cancel(self, request: httpx.Request) -> httpx.Response:
        job = self.job_of(request)
        if job is None:
            return httpx.Response(404, json={"reason": "Job not found"})
        job.canceled = True
        return httpx.Response(200, json={"job": self.job_json(job)})

    def _cdn(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})

    def _unknown(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"reason": "no such route"})

    # ------------------------------------------------------------------ what was served

    def count(self, endpoint: str) -> int:
        return sum(1 for e, _ in self.requests if e == endpoint)


# --------------------------------------------------------------------------- answers that faults give


def status(code: int, body: Any = None, **headers: str) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response:
        if isinstance(body, (bytes, str)):
            return httpx.Response(code, content=body, headers=headers)
        return httpx.Response(code, json=body if body is not None else {"reason": f"status {code}"}, headers=headers)

    return answer


def raw(content: bytes, code: int = 200, content_type: str = "application/json",
        **headers: str) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    return lambda request, api: httpx.Response(code, content=content,
                                               headers={"Content-Type": content_type, **headers})


def error(exc: type[httpx.TransportError]) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response:
        raise exc("injected", request=request)

    return answer


def streamed(total: int, chunk: bytes = b"\0" * 65536, content_type: str = "image/png",
             head: bytes = b"", code: int = 200) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    """A body of ``total`` bytes produced as it is read (never held in memory)."""

    async def body() -> AsyncIterator[bytes]:
        yield head
        sent = len(head)
        while sent < total:
            yield chunk
            sent += len(chunk)

    return lambda request, api: httpx.Response(code, content=body(), headers={"Content-Type": content_type})


def lost_after_creating(exc: type[httpx.TransportError] | None = None,
                        code: int = 502) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    """The generate request creates its job, then its answer is lost (a reset, a timeout, a gateway error)."""

    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response:
        api.create_job(request)
        if exc is not None:
            raise exc("answer lost", request=request)
        return httpx.Response(code, content=b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"})

    return answer


def job_with(*, finished: bool = False, **changes: Any) -> Callable[[httpx.Request, FakeAPI], httpx.Response | None]:
    """The job's normal answer (or its final, successful one) with fields replaced, ``metadata`` merged."""

    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response | None:
        job = api.job_of(request)
        if job is None:
            return None
        job.polls = job.done_after + 1 if finished else job.polls + 1
        data = api.job_json(job)
        data.update({k: v for k, v in changes.items() if k != "metadata"})
        if "metadata" in changes:
            data["metadata"] = {**data["metadata"], **changes["metadata"]}
        return httpx.Response(200, json={"job": data})

    return answer


def asset_with(**changes: Any) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response:
        asset_id = request.url.path.removeprefix("/v1/assets/")
        return httpx.Response(200, json={"asset": api.asset_json(asset_id, **changes)})

    return answer


def endless_pages(key: str, item: Callable[[FakeAPI, int], dict[str, Any]],
                  repeat: bool = False) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    """Pages that never end: a new token every time (or the same one again)."""
    served = [0]

    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response:
        served[0] += 1
        token = "same-token" if repeat else f"token-{served[0]}"
        return httpx.Response(200, json={key: [item(api, served[0])], "nextPaginationToken": token})

    return answer


CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
