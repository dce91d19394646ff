"""A broken or hostile server, on every endpoint, through the real ``scenario-tui`` commands.

Each case injects one kind of fault into the fake API and runs a command. Whatever the fault, the
run must end with a documented exit code, lose no paid result (saved, or left in the store with the
resume command said), send the generate request at most once, write only inside the output folder,
leak no credential and put no control character on the terminal; the harness measures all of it.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.faults.fakeapi import (
    CDN,
    ECHO,
    ESCAPES,
    MARKUP,
    PNG,
    Fault,
    FakeAPI,
    asset_with,
    endless_pages,
    error,
    gzip_bomb,
    job_with,
    lost_after_creating,
    raw,
    status,
    streamed,
)
from tests.faults.harness import Harness, Outcome, record

OK, BAD, API, FAILED, STILL = 0, 2, 3, 4, 5
MIB = 2**20


@dataclass
class Case:
    kind: str
    faults: list[Fault]
    codes: set[int]
    command: str = "generate"  # or models, cancel, resume
    setup: Callable[[FakeAPI], None] | None = None
    extra: list[str] = field(default_factory=list)
    then: Callable[[Outcome, Harness], None] | None = None


def saved(n: int = 2) -> Callable[[Outcome, Harness], None]:
    def check(outcome: Outcome, world: Harness) -> None:
        files = outcome.json()["files"]
        assert len(files) == n and all(Path(f).parent == world.out.resolve() for f in files)

    return check


def nothing_paid(outcome: Outcome, world: Harness) -> None:
    assert outcome.api.generate_posts == 0


def one_job_found(outcome: Outcome, world: Harness) -> None:
    assert outcome.api.generate_posts == 1 and len(outcome.json()["files"]) == 2
    assert "it was not submitted again" in outcome.err


def resume_said(outcome: Outcome, world: Harness) -> None:
    data = outcome.json()
    assert data["resume"].startswith("scenario-tui resume ") and "scenario-tui resume" in outcome.err


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


def _hostile_prefix(prefix: str) -> Callable[[FakeAPI], None]:
    def setup(api: FakeAPI) -> None:
        api.job_prefix = prefix

    return setup


def _generate_answer(content: bytes, code: int = 200) -> Callable[[httpx.Request, FakeAPI], httpx.Response]:
    """The job is created, but its answer is ``content``."""

    def answer(request: httpx.Request, api: FakeAPI) -> httpx.Response:
        api.create_job(request)
        return httpx.Response(code, content=content, headers={"Content-Type": "application/json"})

    return answer


def _listing_of_first_job(api: FakeAPI, page: int) -> dict[str, object]:
    return api.job_json(next(iter(api.jobs.values())))


_STUCK = Fault("job", job_with(status="in-progress", progress=0.4), None)
_PAD = json.dumps({"job": {"jobId": "x", "pad": "x" * (6 * MIB)}}).encode()

CASES = [
    # 5xx bursts (GETs and the quote are retried; a failed upload is not, and nothing is paid)
    Case("model 503 burst", [Fault("model", status(503), 3)], {OK}, then=saved()),
    Case("models 500 burst", [Fault("models", status(500), 2)], {OK}, command="models"),
    Case("quote 503 burst", [Fault("quote", status(503), 3)], {OK}, then=saved()),
    Case("quote 503 forever", [Fault("quote", status(503), None)], {API}, then=nothing_paid),
    Case("upload 502", [Fault("upload", status(502))], {API}, then=nothing_paid),
    Case("poll 504 burst", [Fault("job", status(504), 6)], {OK}, then=saved()),
    Case("poll 500 forever", [Fault("job", status(500), None)], {API, STILL}, then=resume_said),
    Case("asset 503 burst", [Fault("asset", status(503), 3)], {OK}, then=saved()),
    Case("cdn 503 burst", [Fault("cdn", status(503), 3)], {OK}, then=saved()),
    Case("cancel 500", [_STUCK, Fault("cancel", status(500), None)], {API}, command="cancel"),
    # 429, with and without Retry-After
    Case("quote 429 retry-after seconds", [Fault("quote", status(429, RetryAfter="2"), 2)], {OK}),
    Case("poll 429 retry-after http date", [Fault("job", status(429, **{"Retry-After": _http_date(30)}), 2)], {OK}),
    Case("poll 429 without retry-after", [Fault("job", status(429), 3)], {OK}),
    Case("poll 429 retry-after huge", [Fault("job", status(429, **{"Retry-After": "999999999"}), 2)], {OK}),
    Case("asset 429 retry-after garbage", [Fault("asset", status(429, **{"Retry-After": "soon"}), 2)], {OK}),
    # resets and slow answers (the client's timeout fires)
    Case("model connection reset", [Fault("model", error(httpx.ConnectError), 2)], {OK}, then=saved()),
    Case("poll read timeout", [Fault("job", error(httpx.ReadTimeout), 3)], {OK}, then=saved()),
    Case("cdn protocol error", [Fault("cdn", error(httpx.RemoteProtocolError), 2)], {OK}, then=saved()),
    Case("asset read error", [Fault("asset", error(httpx.ReadError), 2)], {OK}, then=saved()),
    Case("upload connect timeout", [Fault("upload", error(httpx.ConnectTimeout))], {API}, then=nothing_paid),
    Case("models write timeout", [Fault("models", error(httpx.WriteTimeout), 2)], {OK}, command="models"),
    # lost generate answers: the job exists; it is found by listing, never submitted twice
    Case("generate answer lost: read timeout", [Fault("generate", lost_after_creating(httpx.ReadTimeout))], {OK},
         then=one_job_found),
    Case("generate answer lost: 502", [Fault("generate", lost_after_creating(code=502))], {OK}, then=one_job_found),
    Case("generate answer lost: reset", [Fault("generate", lost_after_creating(httpx.RemoteProtocolError))], {OK},
         then=one_job_found),
    Case("generate answer lost, listing down", [Fault("generate", lost_after_creating(httpx.ReadTimeout)),
                                                Fault("jobs", status(503), None)], {API}),
    Case("generate 200 without a job id", [Fault("generate", _generate_answer(b'{"job": {}}'))], {OK},
         then=one_job_found),
    Case("generate 200 html", [Fault("generate", _generate_answer(b"<html>ok</html>"))], {OK}, then=one_job_found),
    Case("listing 503 burst after a lost answer", [Fault("generate", lost_after_creating(code=504)),
                                                   Fault("jobs", status(503), 2)], {OK}, then=one_job_found),
    # truncated, HTML, empty and non-JSON 200s
    Case("model truncated json", [Fault("model", raw(b'{"model": {"id": "mod'))], {OK}),
    Case("models html 200", [Fault("models", raw(b"<html>hi</html>", content_type="text/html"))], {API},
         command="models"),
    Case("quote empty 269", [Fault("quote", raw(b"", 269))], {API}, then=nothing_paid),
    Case("poll non-json 200", [Fault("job", raw(b"OK"), 2)], {OK}, then=saved()),
    Case("poll json array", [Fault("job", raw(b"[]"), 2)], {OK}, then=saved()),
    Case("asset truncated json", [Fault("asset", raw(b'{"asset": {"id": "as'))], {OK}, then=saved()),
    Case("listing non-json after a lost answer", [Fault("generate", lost_after_creating(httpx.ReadTimeout)),
                                                  Fault("jobs", raw(b"garbage"), None)], {API}),
    Case("poll deeply nested json", [Fault("job", raw(b"[" * 100_000 + b"]" * 100_000))], {OK}, then=saved()),
    Case("poll invalid utf-8", [Fault("job", raw(b'{"job": {"jobId": "\xff\xfe"}}'))], {OK}, then=saved()),
    Case("model redirect", [Fault("model", raw(b"", 301, Location="https://elsewhere.test/"))], {OK}),
    # missing or unknown status, bad progress
    Case("status missing", [Fault("job", job_with(status=None), 2)], {OK}, then=saved()),
    Case("status unknown", [Fault("job", job_with(status="zombified"), 3)], {OK}, then=saved()),
    Case("status not a string", [Fault("job", job_with(status={"a": [1]}), 2)], {OK}, then=saved()),
    Case("progress NaN", [Fault("job", job_with(progress="NaN"), 2)], {OK}),
    Case("progress huge", [Fault("job", job_with(progress=1e308), 2)], {OK}),
    Case("progress negative", [Fault("job", job_with(progress=-5), 2)], {OK}),
    Case("progress an object", [Fault("job", job_with(progress={"v": 1}), 2)], {OK}),
    # missing, duplicate or odd asset ids
    Case("success without asset ids once", [Fault("job", job_with(finished=True, metadata={"assetIds": []}))], {OK},
         then=saved()),
    Case("success without asset ids ever", [Fault("job", job_with(finished=True, metadata={"assetIds": []}), None)],
         {API}, then=resume_said),
    Case("duplicate asset ids", [Fault("job", job_with(finished=True, metadata={"assetIds": ["asset_d_1"] * 2}),
                                       None)], {OK}, then=saved()),
    Case("asset ids not strings", [Fault("job", job_with(finished=True, metadata={"assetIds": [1, None, {}]}))],
         {OK}, then=saved()),
    Case("asset id hostile", [Fault("job", job_with(finished=True, metadata={"assetIds": [f"../../a{ESCAPES}"]}),
                                    None)], {OK}, then=saved(1)),
    # hostile ids, seeds and mime types
    Case("job id climbing out", [], {OK}, setup=_hostile_prefix("../../../"), then=saved()),
    Case("job id with escapes and markup", [], {OK}, setup=_hostile_prefix(f"..{ESCAPES}{MARKUP}/"), then=saved()),
    Case("job id of dots", [], {OK}, setup=_hostile_prefix(".."), then=saved()),
    Case("seed climbing out", [Fault("asset", asset_with(metadata={"seed": f"../../../escaped{ESCAPES}"}), None)],
         {OK}, then=saved()),
    Case("seed an object", [Fault("asset", asset_with(metadata={"seed": {"x": 1}}), None)], {OK}, then=saved()),
    Case("seed 10k characters", [Fault("asset", asset_with(metadata={"seed": "9" * 10_000}), None)], {OK},
         then=saved()),
    Case("mime type with escapes", [Fault("asset", asset_with(mimeType=f"image/png{ESCAPES}../"), None)], {OK},
         then=saved()),
    Case("mime type lies", [Fault("asset", asset_with(mimeType="image/jpeg"), None)], {API}, then=resume_said),
    Case("model name hostile", [Fault("models", lambda r, api: httpx.Response(200, json={"models": [
        api.model_json(name=ESCAPES + MARKUP, type=ESCAPES)]}), None)], {OK}, command="models"),
    # escapes and markup in every text field
    Case("status with escapes", [Fault("job", job_with(status=f"in-progress{ESCAPES}{MARKUP}"), 2)], {OK},
         then=saved()),
    Case("error and hint with escapes", [Fault("job", job_with(finished=True, status="failure", metadata={
        "error": ESCAPES + MARKUP, "hint": {"message": ESCAPES}}), None)], {FAILED}),
    Case("4xx reason with escapes", [Fault("quote", status(400, {"reason": ESCAPES + MARKUP}))], {API}),
    Case("cancel refused with escapes", [_STUCK, Fault("cancel", status(400, {"reason": f"Cannot cancel{ESCAPES}"}),
                                                       None)], {API}, command="cancel"),
    Case("html error page with escapes", [Fault("job", status(502, f"<html>{ESCAPES}</html>"), 2)], {OK}),
    # echoed credentials
    Case("secret in a job error", [Fault("job", job_with(finished=True, status="failure",
                                                         metadata={"error": ECHO, "hint": ECHO}), None)], {FAILED}),
    Case("secret in a 401", [Fault("quote", status(401, {"reason": ECHO}))], {API}),
    Case("secret in a model name", [Fault("models", lambda r, api: httpx.Response(200, json={"models": [
        api.model_json(name=ECHO)]}), None)], {OK}, command="models"),
    Case("secret in a seed", [Fault("asset", asset_with(metadata={"seed": ECHO}), None)], {OK}, then=saved()),
    Case("secret in a status", [Fault("job", job_with(status=f"in-progress {ECHO}"), 2)], {OK}),
    Case("secret in an html error", [Fault("job", status(500, f"<html>{ECHO}</html>"), 2)], {OK}),
    # huge bodies and gzip bombs
    Case("poll answer over 5 MiB", [Fault("job", raw(_PAD))], {OK}, then=saved()),
    Case("models gzip bomb", [Fault("models", raw(gzip_bomb(16 * MIB), **{"Content-Encoding": "gzip"}), None)],
         {API}, command="models"),
    Case("cdn 300 MB body", [Fault("cdn", streamed(300 * MIB, head=PNG[:16]), None)], {API}, then=resume_said),
    Case("cdn gzip bomb", [Fault("cdn", raw(gzip_bomb(16 * MIB), content_type="image/png",
                                            **{"Content-Encoding": "gzip"}), None)], {API}, then=resume_said),
    Case("50 MB error body", [Fault("job", streamed(50 * MIB, content_type="text/html", code=503), 2)], {OK}),
    # the CDN's other failures
    Case("cdn html page", [Fault("cdn", raw(b"<html>login</html>", content_type="text/html"))], {OK}, then=saved()),
    Case("cdn truncated png", [Fault("cdn", raw(PNG[:40], content_type="image/png"))], {OK}, then=saved()),
    Case("cdn empty body", [Fault("cdn", raw(b"", content_type="image/png"))], {OK}, then=saved()),
    Case("cdn 404", [Fault("cdn", status(404), None)], {API}, then=resume_said),
    Case("cdn redirect loop", [Fault("cdn", lambda r, api: httpx.Response(302, headers={"Location": str(r.url)}),
                                      None)], {API}, then=resume_said),
    Case("asset without url", [Fault("asset", asset_with(url=None), 2)], {OK}, then=saved()),
    Case("asset url to another host", [Fault("asset", asset_with(url="http://169.254.169.254/latest"), 1)], {OK},
         then=saved()),
    Case("asset url file scheme", [Fault("asset", asset_with(url="file:///etc/passwd"), 1)], {OK}, then=saved()),
    # expired signed URLs
    Case("cdn 403 expired twice", [Fault("cdn", status(403, b"<Error>Request has expired</Error>"), 2)], {OK},
         then=saved()),
    Case("cdn 403 always", [Fault("cdn", status(403, b"<Error>AccessDenied</Error>"), None)], {API},
         then=resume_said),
    # endless paging
    Case("models endless pages", [Fault("models", endless_pages("models", lambda api, i: api.model_json(
        id=f"model_{i}")), None)], {OK}, command="models"),
    Case("models repeated token", [Fault("models", endless_pages("models", lambda api, i: api.model_json(),
                                                                 repeat=True), None)], {OK}, command="models"),
    Case("jobs endless pages", [Fault("generate", lost_after_creating(httpx.ReadTimeout)),
                                Fault("jobs", endless_pages("jobs", _listing_of_first_job), None)], {OK},
         then=one_job_found),
    # stuck and vanishing jobs
    Case("job stuck in progress", [_STUCK], {STILL}, then=resume_said),
    Case("job stuck queued", [Fault("job", job_with(status="queued", progress=0), None)], {STILL}, then=resume_said),
    Case("job vanishes (404)", [Fault("job", status(404, {"reason": "Job not found"}), None)], {API},
         then=resume_said),
    Case("resume of an unknown job", [Fault("job", status(404, {"reason": "Job not found"}), None)], {API},
         command="resume"),
    # answers that break the request's guards
    Case("quote cost NaN", [Fault("quote", raw(b'{"creativeUnitsCost": "NaN"}', 269))], {API}, then=nothing_paid),
    Case("quote cost above --max-cost", [Fault("quote", raw(b'{"creativeUnitsCost": 1e308}', 269))], {BAD},
         extra=["--max-cost", "10"], then=nothing_paid),
]


def test_there_are_forty_fault_kinds_over_every_endpoint() -> None:
    kinds = {case.kind for case in CASES}
    endpoints = {fault.endpoint for case in CASES for fault in case.faults}
    assert len(kinds) == len(CASES) >= 40
    assert endpoints == {"models", "model", "upload", "asset", "quote", "generate", "job", "jobs", "cancel", "cdn"}


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_a_server_fault(world: Harness, case: Case) -> None:
    api = FakeAPI(*case.faults)
    if case.setup:
        case.setup(api)
    if case.command == "cancel":  # a job to cancel: submitted, then left running past the follow deadline
        first = world.run(api, world.generate())
        assert first.code == STILL and not first.problems, (first.err, first.problems)
        argv = ["cancel", next(iter(api.jobs)), "--json"]
    elif case.command == "resume":
        argv = ["resume", "job_never-seen", "--json"]
    elif case.command == "models":
        argv = ["models", "--json"]
    else:
        argv = world.generate(*case.extra)
    outcome = world.run(api, argv)
    record(outcome, kind=case.kind)
    assert outcome.problems == {}, (outcome.err[-3000:], outcome.out[-2000:])
    assert outcome.code in case.codes, (outcome.code, outcome.err[-3000:])
    if outcome.out.strip():
        outcome.json()  # --json prints one JSON document, whatever happened
    if case.then:
        case.then(outcome, world)
