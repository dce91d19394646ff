"""Tests for scenario_tui.core.api: no network (respx), no real sleeping."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx

from scenario_tui.core.api import (
    CAPABILITY,
    DEFAULT_BASE_URL,
    ApiError,
    Asset,
    AuthError,
    CancelOutcome,
    ForbiddenError,
    GoneError,
    Job,
    JobState,
    ModelInfo,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    ScenarioClient,
    ServerError,
    normalize_status,
)

KEY = "sk_KEY_7f3a9c"
SECRET = "s3cr3t/VAL+ue=zz"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
BASE = "https://api.test/v1"
CDN_URL = (
    "https://cdn.test/images/out%20put.png"
    "?Policy=eyJ%2FaGk%3D&Signature=ab%2Fcd%3D%3D+ef~gh&Key-Pair-Id=K2"
)

Router = respx.MockRouter
MakeClient = Callable[..., ScenarioClient]

SCHEMA = json.loads((Path(__file__).parent / "contract" / "contract-schema.json").read_text())


def conforms(instance: Any, definition: str) -> Any:
    """Validate against a definition of the vendored contract; return the instance."""
    jsonschema.Draft4Validator(SCHEMA["definitions"][definition]).validate(instance)
    return instance


class Params:
    """A stand-in satisfying api.RequestParams."""

    def __init__(self, body: dict[str, Any], query: dict[str, str] | None = None) -> None:
        self._body = body
        self._query = query or {}

    def body(self) -> dict[str, Any]:
        return dict(self._body)

    def query(self) -> dict[str, str]:
        return dict(self._query)


BODY = {
    "modelId": "model_inpaint",
    "prompt": "a red scarf",
    "image": "data:image/png;base64,iVBORw0KGgo=",
    "mask": "data:image/png;base64,iVBORw0KGgp=",
    "ipAdapterImages": ["data:image/png;base64,iVBORw0KGgq="],
    "ipAdapterScales": [0.9],
    "ipAdapterType": "style",
    "numSamples": 4,
    "strength": 0.75,
    "seed": "42",
    "width": 512,
    "height": 512,
}
PARAMS = Params(conforms(BODY, "PostInpaintIpAdapterInferencesRequest"), {"originalAssets": "true"})

JOB = {
    "jobId": "job_123",
    "jobType": "inference",
    "status": "in-progress",
    "progress": 0.4,
    "statusHistory": [
        {"status": "queued", "date": "2025-11-04T10:00:00.000Z"},
        {"status": "in-progress", "date": "2025-11-04T10:00:03.000Z"},
    ],
    "metadata": {"assetIds": ["asset_a", "asset_b"], "input": {"prompt": "a red scarf"}},
    "createdAt": "2025-11-04T10:00:00.000Z",
    "updatedAt": "2025-11-04T10:00:03.000Z",
}

ASSET = {
    "id": "asset_a",
    "url": CDN_URL,
    "mimeType": "image/png",
    "metadata": {"kind": "image", "type": "inference-inpaint-ip-adapter", "width": 1024},
    "authorId": "user_1",
    "ownerId": "project_1",
    "collectionIds": [],
    "createdAt": "2025-11-04T10:00:00.000Z",
    "updatedAt": "2025-11-04T10:00:00.000Z",
    "editCapabilities": [],
    "kind": "image",
    "privacy": "private",
    "properties": {"size": 1234},
    "source": "inference-in-paint-ip-adapter",
    "status": "success",
    "tags": [],
}


def model(model_id: str, capabilities: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": f"Model {model_id}",
        "type": "sd-xl",
        "capabilities": capabilities,
        "status": "trained",
        "privacy": "private",
        "collectionIds": [],
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2025-01-01T00:00:00.000Z",
        "custom": False,
        "exampleAssetIds": [],
        "source": "scenario",
        "tags": [],
        "trainingImagesNumber": 0,
        **extra,
    }


USABLE = [CAPABILITY, "txt2img"]


class ChunkStream(httpx.AsyncByteStream):
    """Response body delivered in chunks, optionally failing after them."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def make_client(sleeps: list[float]) -> AsyncIterator[MakeClient]:
    clients: list[ScenarioClient] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    def make(**kwargs: Any) -> ScenarioClient:
        kwargs.setdefault("base_url", BASE)
        kwargs.setdefault("sleep", fake_sleep)
        client = ScenarioClient(KEY, SECRET, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> ScenarioClient:
    return make_client()


@pytest.fixture
def router() -> Iterator[Router]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def job_answer(**changes: Any) -> dict[str, Any]:
    return conforms({"job": {**JOB, **changes}}, "GetJobIdResponse")


def no_secrets(error: BaseException) -> None:
    """Neither the message, args nor attributes of ``error`` reveal a credential."""
    texts = [str(error), repr(error), *map(str, error.args), *map(str, vars(error).values())]
    for text in texts:
        for secret in (KEY, SECRET, TOKEN, SECRET[:6], "Authorization"):
            assert secret not in text
    assert error.__cause__ is None and error.__context__ is None


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("pending", JobState.RUNNING),
        ("queued", JobState.RUNNING),
        ("warming-up", JobState.RUNNING),
        ("Warming Up", JobState.RUNNING),
        ("in-progress", JobState.RUNNING),
        ("IN_PROGRESS", JobState.RUNNING),
        ("in progress", JobState.RUNNING),
        ("finalizing", JobState.RUNNING),
        ("success", JobState.SUCCESS),
        ("Succeeded", JobState.SUCCESS),
        ("completed", JobState.SUCCESS),
        ("failure", JobState.FAILURE),
        ("failed", JobState.FAILURE),
        ("ERROR", JobState.FAILURE),
        ("canceled", JobState.CANCELED),
        ("cancelled", JobState.CANCELED),
        (" Cancelled ", JobState.CANCELED),
        ("processing", JobState.RUNNING),
        ("some-new-state", JobState.RUNNING),
        ("", JobState.RUNNING),
    ],
)
def test_normalize_status(raw: str, state: JobState) -> None:
    assert normalize_status(raw) is state


def test_unknown_status_is_running_and_kept_verbatim() -> None:
    job = Job.from_json({"jobId": "j", "status": "Teleporting_Now"})
    assert job.state is JobState.RUNNING
    assert job.raw_status == "Teleporting_Now"


def test_job_from_schema_valid_json() -> None:
    job = Job.from_json(job_answer()["job"])
    assert job == Job(
        id="job_123",
        raw_status="in-progress",
        state=JobState.RUNNING,
        progress=0.4,
        asset_ids=("asset_a", "asset_b"),
        error=None,
        hint=None,
        created_at="2025-11-04T10:00:00.000Z",
        updated_at="2025-11-04T10:00:03.000Z",
        status_history=(
            ("queued", "2025-11-04T10:00:00.000Z"),
            ("in-progress", "2025-11-04T10:00:03.000Z"),
        ),
    )


def test_job_from_minimal_json() -> None:
    job = Job.from_json({"jobId": "j"})
    assert (job.raw_status, job.state, job.progress) == ("", JobState.RUNNING, 0.0)
    assert job.asset_ids == () and job.status_history == ()
    assert job.error is job.hint is job.created_at is job.updated_at is None


@pytest.mark.parametrize(
    ("progress", "expected"),
    [(None, 0.0), ("0.25", 0.25), ("half", 0.0), (7, 1.0), (-3, 0.0), (True, 0.0), (float("nan"), 0.0)],
)
def test_job_progress_is_tolerant_and_clamped(progress: Any, expected: float) -> None:
    assert Job.from_json({"jobId": "j", "progress": progress}).progress == expected


def test_job_metadata_tolerance() -> None:
    job = Job.from_json(
        {
            "jobId": "j",
            "status": "failure",
            "metadata": {
                "assetIds": ["a", 3, None],
                "error": {"code": "NSFW", "message": "Content flagged"},
                "hint": "Try another prompt",
            },
            "statusHistory": [{"status": "queued", "date": "d1"}, "junk", {"status": "failure"}],
        }
    )
    assert job.state is JobState.FAILURE
    assert job.asset_ids == ("a",)
    assert job.error == "Content flagged"
    assert job.hint == "Try another prompt"
    assert job.status_history == (("queued", "d1"), ("failure", ""))
    odd = Job.from_json({"jobId": "j", "metadata": {"error": {"code": 7}, "hint": {"reason": "r"}}})
    assert (odd.error, odd.hint) == ('{"code": 7}', "r")
    assert Job.from_json({"jobId": "j", "metadata": "nope"}).asset_ids == ()


def test_job_without_id_is_rejected() -> None:
    with pytest.raises(ValueError):
        Job.from_json({"status": "success"})


def test_model_info_parsing() -> None:
    data = conforms(
        {
            "model": model(
                "flux_lora",
                USABLE,
                type="flux.1-lora",
                thumbnail={"assetId": "t", "url": "https://cdn.test/t.png"},
                compliantModelIds=["flux.1-dev"],
                epochs=[{"epoch": "000010"}, {"epoch": "000020"}],
            )
        },
        "GetModelsByModelIdResponse",
    )
    info = ModelInfo.from_json(data["model"])
    assert info == ModelInfo(
        id="flux_lora",
        name="Model flux_lora",
        type="flux.1-lora",
        capabilities=(CAPABILITY, "txt2img"),
        status="trained",
        privacy="private",
        thumbnail_url="https://cdn.test/t.png",
        compliant_model_ids=("flux.1-dev",),
        epochs=("000010", "000020"),
    )
    assert info.usable
    bare = ModelInfo.from_json({"id": "m"})
    assert (bare.name, bare.type, bare.usable, bare.thumbnail_url) == ("m", "", False, None)


# --------------------------------------------------------------------------- requests


async def test_get_job_sends_auth_and_parses(client: ScenarioClient, router: Router) -> None:
    route = router.get(f"{BASE}/jobs/job_123").respond(200, json=job_answer())
    job = await client.get_job("job_123")
    assert job.id == "job_123" and job.state is JobState.RUNNING and job.progress == 0.4
    request = route.calls.last.request
    expected = "Basic " + base64.b64encode(b"sk_KEY_7f3a9c:s3cr3t/VAL+ue=zz").decode()
    assert request.headers["Authorization"] == expected
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("scenario-tui/")


async def test_timeouts(client: ScenarioClient, router: Router) -> None:
    route = router.post(f"{BASE}/assets").respond(200, json={"asset": ASSET})
    await client.upload_asset("data:image/png;base64,AAAA", "x.png")
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 10.0, "read": 30.0, "write": 120.0, "pool": 30.0}


async def test_ids_are_escaped_in_paths(client: ScenarioClient, router: Router) -> None:
    route = router.get(f"{BASE}/jobs/a%2Fb%3Fc").respond(200, json=job_answer())
    await client.get_job("a/b?c")
    assert route.called


async def test_base_url_override(make_client: MakeClient, router: Router) -> None:
    route = router.get("http://127.0.0.1:8765/sandbox/v1/jobs/job_123").respond(200, json=job_answer())
    await make_client(base_url="http://127.0.0.1:8765/sandbox/v1/").get_job("job_123")
    assert route.call_count == 1


async def test_default_base_url(router: Router) -> None:
    assert DEFAULT_BASE_URL == "https://api.cloud.scenario.com/v1"
    client = ScenarioClient(KEY, SECRET)
    route = router.get(f"{DEFAULT_BASE_URL}/jobs/j").respond(200, json=job_answer())
    async with client:
        await client.get_job("j")
    assert route.called


@pytest.mark.parametrize("status", [269, 200])
async def test_quote(status: int, client: ScenarioClient, router: Router) -> None:
    answer = conforms({"creativeUnitsCost": 12.5, "creativeUnitsDiscount": 2}, "DryRunResponse")
    route = router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(status, json=answer)
    quote = await client.quote(PARAMS)
    assert (quote.cost, quote.discount) == (12.5, 2.0)
    request = route.calls.last.request
    assert dict(request.url.params) == {"originalAssets": "true", "dryRun": "true"}
    assert json.loads(request.content) == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Basic {TOKEN}"


async def test_quote_without_discount(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(269, json={"creativeUnitsCost": 4})
    assert (await client.quote(PARAMS)).discount is None


async def test_quote_without_cost_is_protocol_error(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(269, json={"creativeUnitsDiscount": 1})
    with pytest.raises(ProtocolError, match="creativeUnitsCost"):
        await client.quote(PARAMS)


async def test_generate(client: ScenarioClient, router: Router) -> None:
    answer = conforms(
        {
            "creativeUnitsCost": 20,
            "inference": {
                "image": BODY["image"],
                "imageId": "",
                "mask": BODY["mask"],
                "maskId": "",
                "prompt": BODY["prompt"],
                "type": "inpaint_ip_adapter",
            },
            "job": {**JOB, "status": "queued", "progress": 0, "metadata": {"input": {}}},
        },
        "PostInpaintIpAdapterInferencesResponse",
    )
    route = router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(200, json=answer)
    submission = await client.generate(PARAMS)
    assert submission.job.id == "job_123"
    assert submission.job.state is JobState.RUNNING
    assert submission.cost == 20.0
    request = route.calls.last.request
    assert dict(request.url.params) == {"originalAssets": "true"}
    assert json.loads(request.content) == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Basic {TOKEN}"


async def test_generate_without_cost(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(200, json={"job": JOB})
    assert (await client.generate(Params(BODY))).cost is None


@pytest.mark.parametrize(
    ("effect", "error"),
    [
        (httpx.Response(500, json={"reason": "boom"}), ServerError),
        (httpx.Response(503, headers={"Retry-After": "1"}), ServerError),
        (httpx.Response(429, json={"reason": "slow down"}), RateLimitedError),
        (httpx.ReadTimeout("timed out"), NetworkError),
        (httpx.ConnectError("refused"), NetworkError),
    ],
)
async def test_generate_is_never_retried(
    effect: Any, error: type[ApiError], client: ScenarioClient, router: Router, sleeps: list[float]
) -> None:
    ok = httpx.Response(200, json={"job": JOB})
    route = router.post(f"{BASE}/generate/inpaint-ip-adapter").mock(side_effect=[effect, ok])
    with pytest.raises(error):
        await client.generate(PARAMS)
    assert route.call_count == 1
    assert sleeps == []


async def test_generate_rate_limited_with_details(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(
        429,
        headers={"Retry-After": "7"},
        json={
            "reason": "Too many concurrent generations",
            "name": "ConcurrencyLimitExceeded",
            "details": {"actionName": "generate", "actionLimit": 3},
        },
    )
    with pytest.raises(RateLimitedError) as caught:
        await client.generate(PARAMS)
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429
    assert str(caught.value) == "HTTP 429: Too many concurrent generations (limit 3 for generate)"


async def test_rate_limit_without_action_name(make_client: MakeClient, router: Router) -> None:
    router.get(f"{BASE}/jobs/j").respond(429, json={"reason": "Slow down", "details": {"actionLimit": 10}})
    with pytest.raises(RateLimitedError) as caught:
        await make_client(max_retries=0).get_job("j")
    assert caught.value.message == "Slow down (limit 10)"
    assert caught.value.retry_after is None


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RejectedError),
        (401, AuthError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, RejectedError),
        (410, GoneError),
        (413, RejectedError),
        (422, RejectedError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
async def test_error_types(
    status: int, error: type[ApiError], make_client: MakeClient, router: Router
) -> None:
    router.get(f"{BASE}/models/m").respond(status, json={"reason": "nope"})
    with pytest.raises(error) as caught:
        await make_client(max_retries=0).get_model("m")
    assert isinstance(caught.value, ApiError)
    assert caught.value.status == status
    assert caught.value.message == "nope"
    assert str(caught.value) == f"HTTP {status}: nope"


async def test_redirect_on_api_call_is_protocol_error(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/models/m").respond(302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(ProtocolError):
        await client.get_model("m")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"reason": "R", "message": "M", "error": "E", "detail": "D"}, "R"),
        ({"reason": "", "message": "M", "error": "E", "detail": "D"}, "M"),
        ({"message": "  ", "error": "E", "detail": "D"}, "E"),
        ({"error": {"code": 42}, "detail": "D"}, "D"),
        ({"reason": None, "message": 5, "detail": "D"}, "D"),
        ({"error": {"code": 42}}, '{"error": {"code": 42}}'),
        ([1, 2], "[1, 2]"),
        ("Gateway said no\r\nplease retry", "Gateway said no please retry"),
        ("\x1b[31mred\x1b[0m", "[31mred [0m"),
        ("", "Bad Request"),
    ],
)
async def test_message_extraction_order(
    content: Any, message: str, make_client: MakeClient, router: Router
) -> None:
    raw = content if isinstance(content, str) else json.dumps(content)
    router.get(f"{BASE}/models/m").respond(400, content=raw.encode())
    with pytest.raises(RejectedError) as caught:
        await make_client().get_model("m")
    assert caught.value.message == message
    assert str(caught.value) == f"HTTP 400: {message}"


async def test_raw_body_is_cut_at_300(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/models/m").respond(404, text="<html>" + "x" * 500)
    with pytest.raises(NotFoundError) as caught:
        await client.get_model("m")
    assert caught.value.message == ("<html>" + "x" * 294) + "…"
    assert len(caught.value.message) == 301


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"jobs": {}}),
        httpx.Response(200, json={"job": {"status": "success"}}),
    ],
)
async def test_malformed_2xx_is_protocol_error(
    answer: httpx.Response, client: ScenarioClient, router: Router, sleeps: list[float]
) -> None:
    route = router.get(f"{BASE}/jobs/j").mock(return_value=answer)
    with pytest.raises(ProtocolError) as caught:
        await client.get_job("j")
    assert str(caught.value).startswith("HTTP 200: unexpected answer from the server: ")
    assert route.call_count == 1 and sleeps == []


async def test_server_echoing_credentials_is_scrubbed(client: ScenarioClient, router: Router) -> None:
    reason = f"bad key {KEY} with secret {SECRET}; got 'Authorization: Basic {TOKEN}'"
    router.post(f"{BASE}/assets").respond(401, json={"reason": reason})
    with pytest.raises(AuthError) as caught:
        await client.upload_asset("data:image/png;base64,AAAA", "x.png")
    assert str(caught.value) == "HTTP 401: bad key *** with secret ***; got 'Authorization: Basic ***'"
    assert not any(secret in str(caught.value) for secret in (KEY, SECRET, TOKEN))


async def test_secret_at_the_cut_is_scrubbed_before_cutting(
    client: ScenarioClient, router: Router
) -> None:
    router.get(f"{BASE}/models/m").respond(500, text="y" * 295 + SECRET + "z" * 50)
    with pytest.raises(ServerError) as caught:
        await client.get_model("m")
    assert caught.value.message == "y" * 295 + "***" + "zz" + "…"
    no_secrets(caught.value)


async def test_network_error_text_is_scrubbed(
    make_client: MakeClient, router: Router
) -> None:
    failure = httpx.ConnectError(f"proxy refused https://{KEY}:{SECRET}@host")
    router.get(f"{BASE}/jobs/j").mock(side_effect=failure)
    with pytest.raises(NetworkError) as caught:
        await make_client(max_retries=0).get_job("j")
    assert caught.value.status is None
    assert str(caught.value) == "Network error: ConnectError: proxy refused https://***:***@host"
    no_secrets(caught.value)


async def test_timeout_is_network_error(make_client: MakeClient, router: Router) -> None:
    router.get(f"{BASE}/jobs/j").mock(side_effect=httpx.ReadTimeout(""))
    with pytest.raises(NetworkError) as caught:
        await make_client(max_retries=0).get_job("j")
    assert str(caught.value) == "Network error: ReadTimeout"
    no_secrets(caught.value)


async def test_protocol_level_failure_is_network_error(
    make_client: MakeClient, router: Router
) -> None:
    router.get(f"{BASE}/jobs/j").mock(side_effect=httpx.RemoteProtocolError("peer closed connection"))
    with pytest.raises(NetworkError, match="RemoteProtocolError: peer closed"):
        await make_client(max_retries=0).get_job("j")


async def test_errors_carry_no_request(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/jobs/j").respond(403, json={"message": "plan does not allow this"})
    with pytest.raises(ForbiddenError) as caught:
        await client.get_job("j")
    no_secrets(caught.value)
    assert set(vars(caught.value)) == {"message", "status", "retry_after"}


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json={"reason": "slow"}),
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
    ],
)
async def test_get_is_retried_then_succeeds(
    failure: Any, client: ScenarioClient, router: Router, sleeps: list[float]
) -> None:
    ok = httpx.Response(200, json=job_answer())
    route = router.get(f"{BASE}/jobs/j").mock(side_effect=[failure, failure, ok])
    job = await client.get_job("j")
    assert job.id == "job_123"
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 501])
async def test_get_is_not_retried_on_other_errors(
    status: int, client: ScenarioClient, router: Router, sleeps: list[float]
) -> None:
    route = router.get(f"{BASE}/jobs/j").respond(status)
    with pytest.raises(ApiError):
        await client.get_job("j")
    assert route.call_count == 1 and sleeps == []


async def test_get_gives_up_after_max_retries(
    make_client: MakeClient, router: Router, sleeps: list[float]
) -> None:
    route = router.get(f"{BASE}/assets/a").respond(503, json={"message": "maintenance"})
    with pytest.raises(ServerError) as caught:
        await make_client(max_retries=3).get_asset("a")
    assert str(caught.value) == "HTTP 503: maintenance"
    assert route.call_count == 4 and len(sleeps) == 3


async def test_get_gives_up_on_network_errors(
    client: ScenarioClient, router: Router, sleeps: list[float]
) -> None:
    route = router.get(f"{BASE}/assets/a").mock(side_effect=httpx.ConnectTimeout("connect timed out"))
    with pytest.raises(NetworkError):
        await client.get_asset("a")
    assert route.call_count == 5 and len(sleeps) == 4


async def test_retry_after_seconds(client: ScenarioClient, router: Router, sleeps: list[float]) -> None:
    router.get(f"{BASE}/jobs/j").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(503, headers={"Retry-After": "1.5"}),
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=job_answer()),
        ]
    )
    await client.get_job("j")
    assert sleeps == [3.0, 1.5, 20.0]


async def test_retry_after_http_date(
    make_client: MakeClient, router: Router, sleeps: list[float]
) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=100), usegmt=True)
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=100), usegmt=True)
    router.get(f"{BASE}/jobs/j").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": soon}),
            httpx.Response(429, headers={"Retry-After": past}),
            httpx.Response(200, json=job_answer()),
        ]
    )
    await make_client(max_backoff=1000).get_job("j")
    assert 98 <= sleeps[0] <= 100
    assert sleeps[1] == 0.0


async def test_rate_limited_error_keeps_uncapped_retry_after(
    make_client: MakeClient, router: Router, sleeps: list[float]
) -> None:
    router.get(f"{BASE}/jobs/j").respond(429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as caught:
        await make_client(max_retries=1).get_job("j")
    assert caught.value.retry_after == 120.0
    assert sleeps == [20.0]


async def test_backoff_grows_and_is_capped(
    make_client: MakeClient,
    router: Router,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the top of the jitter range
    router.get(f"{BASE}/jobs/j").respond(500)
    with pytest.raises(ServerError):
        await make_client(max_retries=6, backoff=0.5, max_backoff=5.0).get_job("j")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


async def test_backoff_uses_full_jitter(
    make_client: MakeClient, router: Router, sleeps: list[float]
) -> None:
    router.get(f"{BASE}/jobs/j").respond(502)
    with pytest.raises(ServerError):
        await make_client(max_retries=8, backoff=1.0, max_backoff=10.0).get_job("j")
    bounds = [1, 2, 4, 8, 10, 10, 10, 10]
    assert len(sleeps) == 8
    assert all(0 <= delay <= bound for delay, bound in zip(sleeps, bounds, strict=True))


async def test_no_retries_when_max_retries_is_zero(
    make_client: MakeClient, router: Router, sleeps: list[float]
) -> None:
    route = router.get(f"{BASE}/jobs/j").respond(503)
    with pytest.raises(ServerError):
        await make_client(max_retries=0).get_job("j")
    assert route.call_count == 1 and sleeps == []


# --------------------------------------------------------------------------- jobs


async def test_cancel_accepted(client: ScenarioClient, router: Router) -> None:
    answer = conforms({"job": {**JOB, "status": "canceled"}}, "PostJobActionByJobIdResponse")
    route = router.post(f"{BASE}/jobs/job_123/action").respond(200, json=answer)
    outcome = await client.cancel_job("job_123")
    assert outcome.accepted
    assert outcome.job is not None and outcome.job.state is JobState.CANCELED
    request = route.calls.last.request
    sent = conforms(json.loads(request.content), "PostJobActionByJobIdRequest")
    assert sent == {"action": "cancel"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Basic {TOKEN}"


async def test_cancel_accepted_without_job(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/jobs/j/action").respond(200, json={})
    assert await client.cancel_job("j") == CancelOutcome(accepted=True, message="Cancel requested.", job=None)


async def test_cancel_refused_is_an_outcome(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/jobs/j/action").respond(400, json={"reason": "Cannot cancel this type of job"})
    outcome = await client.cancel_job("j")
    assert outcome == CancelOutcome(accepted=False, message="Cannot cancel this type of job", job=None)


async def test_cancel_other_400_is_rejected(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/jobs/j/action").respond(400, json={"reason": "action must be one of [cancel]"})
    with pytest.raises(RejectedError):
        await client.cancel_job("j")


async def test_cancel_unknown_job(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/jobs/j/action").respond(404, json={"reason": "Cannot cancel: no such job"})
    with pytest.raises(NotFoundError):
        await client.cancel_job("j")


async def test_cancel_is_not_retried(client: ScenarioClient, router: Router, sleeps: list[float]) -> None:
    route = router.post(f"{BASE}/jobs/j/action").respond(503)
    with pytest.raises(ServerError):
        await client.cancel_job("j")
    assert route.call_count == 1 and sleeps == []


async def test_get_job_unknown_id(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/jobs/nope").respond(404, json={"reason": "Job not found"})
    with pytest.raises(NotFoundError, match="^HTTP 404: Job not found$"):
        await client.get_job("nope")


async def test_get_job_success_state(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/jobs/job_123").respond(200, json=job_answer(status="success", progress=1))
    job = await client.get_job("job_123")
    assert (job.state, job.progress, job.asset_ids) == (JobState.SUCCESS, 1.0, ("asset_a", "asset_b"))


# --------------------------------------------------------------------------- assets


async def test_upload_asset(client: ScenarioClient, router: Router) -> None:
    answer = conforms({"asset": ASSET}, "PostAssetResponse")
    route = router.post(f"{BASE}/assets").respond(200, json=answer)
    asset = await client.upload_asset("data:image/png;base64,iVBORw0KGgo=", "input.png")
    assert asset == Asset(id="asset_a", url=CDN_URL, mime_type="image/png", metadata=ASSET["metadata"])
    request = route.calls.last.request
    sent = conforms(json.loads(request.content), "PostAssetRequest")
    assert sent == {"image": "data:image/png;base64,iVBORw0KGgo=", "name": "input.png"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Basic {TOKEN}"


async def test_upload_is_not_retried(client: ScenarioClient, router: Router, sleeps: list[float]) -> None:
    route = router.post(f"{BASE}/assets").mock(side_effect=httpx.WriteTimeout("slow uplink"))
    with pytest.raises(NetworkError):
        await client.upload_asset("data:image/png;base64,AAAA", "x.png")
    assert route.call_count == 1 and sleeps == []


async def test_upload_too_large(client: ScenarioClient, router: Router) -> None:
    router.post(f"{BASE}/assets").respond(413, text="Request Entity Too Large")
    with pytest.raises(RejectedError, match="^HTTP 413: Request Entity Too Large$"):
        await client.upload_asset("data:image/png;base64,AAAA", "x.png")


async def test_get_asset(client: ScenarioClient, router: Router) -> None:
    answer = conforms({"asset": ASSET}, "GetAssetsByAssetIdResponse")
    router.get(f"{BASE}/assets/asset_a").respond(200, json=answer)
    asset = await client.get_asset("asset_a")
    assert (asset.id, asset.url, asset.mime_type) == ("asset_a", CDN_URL, "image/png")
    assert asset.metadata["type"] == "inference-inpaint-ip-adapter"
    hash(asset)  # usable as a dict key / in sets despite the metadata dict


async def test_get_asset_tolerates_missing_fields(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/assets/a").respond(200, json={"asset": {"id": "a", "metadata": None}})
    assert await client.get_asset("a") == Asset(id="a", url=None, mime_type=None, metadata={})


# --------------------------------------------------------------------------- models


def models_router(router: Router, pages: dict[str | None, dict[str, Any]]) -> respx.Route:
    """Serve ``pages`` keyed by the paginationToken they answer (None for the first)."""

    def answer(request: httpx.Request) -> httpx.Response:
        page = pages[request.url.params.get("paginationToken")]
        return httpx.Response(200, json=conforms(page, "GetModelsResponse"))

    return router.get(f"{BASE}/models").mock(side_effect=answer)


async def test_list_models_paginates_and_filters(client: ScenarioClient, router: Router) -> None:
    route = models_router(
        router,
        {
            None: {"models": [model("a", USABLE), model("b", ["txt2img"])], "nextPaginationToken": "t1"},
            "t1": {"models": [model("c", [CAPABILITY], type="flux.1")], "nextPaginationToken": "t2"},
            "t2": {"models": [model("d", ["inpaint"], type="sd-1_5"), model("e", USABLE)]},
        },
    )
    models = await client.list_models(privacy="private", page_size=50)
    assert [m.id for m in models] == ["a", "c", "e"]
    assert all(m.usable for m in models)
    queries = [dict(call.request.url.params) for call in route.calls]
    assert queries == [
        {"pageSize": "50", "privacy": "private"},
        {"pageSize": "50", "privacy": "private", "paginationToken": "t1"},
        {"pageSize": "50", "privacy": "private", "paginationToken": "t2"},
    ]
    assert all(call.request.headers["Authorization"] == f"Basic {TOKEN}" for call in route.calls)


async def test_list_models_stops_on_empty_token(client: ScenarioClient, router: Router) -> None:
    route = models_router(router, {None: {"models": [model("a", USABLE)], "nextPaginationToken": ""}})
    assert [m.id for m in await client.list_models()] == ["a"]
    assert route.call_count == 1
    assert dict(route.calls.last.request.url.params) == {"pageSize": "100"}


async def test_list_models_stops_on_repeated_token(client: ScenarioClient, router: Router) -> None:
    route = models_router(
        router,
        {
            None: {"models": [model("a", USABLE)], "nextPaginationToken": "t1"},
            "t1": {"models": [model("b", USABLE)], "nextPaginationToken": "t1"},
        },
    )
    assert [m.id for m in await client.list_models()] == ["a", "b"]
    assert route.call_count == 2


async def test_list_models_reads_a_bounded_number_of_pages(client: ScenarioClient, router: Router) -> None:
    tokens = iter(range(1000))
    route = router.get(f"{BASE}/models").mock(side_effect=lambda request: httpx.Response(
        200, json={"models": [model(f"m{next(tokens)}", USABLE)], "nextPaginationToken": f"t{request.url}"}))
    assert len(await client.list_models(max_pages=7)) == 7 and route.call_count == 7
    assert len(await client.list_models()) == 50 and route.call_count == 57


async def test_list_models_empty(client: ScenarioClient, router: Router) -> None:
    models_router(router, {None: {"models": []}})
    assert await client.list_models() == []


async def test_list_models_retries_a_page(
    client: ScenarioClient, router: Router, sleeps: list[float]
) -> None:
    first = conforms({"models": [model("a", USABLE)], "nextPaginationToken": "t1"}, "GetModelsResponse")
    second = conforms({"models": [model("b", USABLE)]}, "GetModelsResponse")
    router.get(f"{BASE}/models").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(503), httpx.Response(200, json=second)]
    )
    assert [m.id for m in await client.list_models()] == ["a", "b"]
    assert len(sleeps) == 1


async def test_list_models_skips_entries_without_id(client: ScenarioClient, router: Router) -> None:
    models = [{"name": "x", "capabilities": [CAPABILITY]}, "junk", model("a", USABLE)]
    router.get(f"{BASE}/models").respond(200, json={"models": models})
    assert [m.id for m in await client.list_models()] == ["a"]


async def test_list_models_without_list_is_protocol_error(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/models").respond(200, json={"items": []})
    with pytest.raises(ProtocolError, match="models"):
        await client.list_models()


async def test_list_models_retired(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/models").respond(410, json={"message": "SD XL models have been retired"})
    with pytest.raises(GoneError, match="^HTTP 410: SD XL models have been retired$"):
        await client.list_models()


async def test_get_model(client: ScenarioClient, router: Router) -> None:
    answer = conforms({"model": model("m", ["txt2img"], type="flux.1")}, "GetModelsByModelIdResponse")
    router.get(f"{BASE}/models/m").respond(200, json=answer)
    info = await client.get_model("m")
    assert (info.id, info.type, info.usable) == ("m", "flux.1", False)


async def test_check_credentials(client: ScenarioClient, router: Router) -> None:
    route = router.get(f"{BASE}/models").respond(200, json=conforms({"models": []}, "GetModelsResponse"))
    assert await client.check_credentials() is None
    request = route.calls.last.request
    assert dict(request.url.params) == {"pageSize": "1"}
    assert request.headers["Authorization"] == f"Basic {TOKEN}"


async def test_check_credentials_bad(client: ScenarioClient, router: Router, sleeps: list[float]) -> None:
    route = router.get(f"{BASE}/models").respond(401, json={"message": "Unauthorized"})
    with pytest.raises(AuthError, match="^HTTP 401: Unauthorized$"):
        await client.check_credentials()
    assert route.call_count == 1 and sleeps == []


async def test_check_credentials_html_answer(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/models").respond(200, text="<html>captive portal</html>")
    with pytest.raises(ProtocolError):
        await client.check_credentials()


# --------------------------------------------------------------------------- download


def cdn_route(router: Router, *effects: Any) -> respx.Route:
    return router.get(host="cdn.test").mock(side_effect=list(effects))


async def test_download_streams_without_credentials(
    client: ScenarioClient, router: Router, tmp_path: Path
) -> None:
    router.get(f"{BASE}/assets/asset_a").respond(200, json={"asset": ASSET})
    chunks = [bytes([i]) * 70_000 for i in range(5)]
    route = cdn_route(router, httpx.Response(200, stream=ChunkStream(chunks)))
    asset = await client.get_asset("asset_a")
    assert asset.url is not None
    dest = tmp_path / "out.png"
    assert await client.download(asset.url, dest) == dest
    assert dest.read_bytes() == b"".join(chunks)
    assert list(tmp_path.iterdir()) == [dest]
    request = route.calls.last.request
    assert "authorization" not in request.headers
    assert "Basic" not in str(request.headers)
    assert str(request.url) == CDN_URL
    assert request.url.raw_path == CDN_URL.removeprefix("https://cdn.test").encode()


async def test_download_overwrites_existing_file(
    client: ScenarioClient, router: Router, tmp_path: Path
) -> None:
    dest = tmp_path / "out.png"
    dest.write_bytes(b"old")
    cdn_route(router, httpx.Response(200, content=b"new"))
    await client.download(CDN_URL, dest)
    assert dest.read_bytes() == b"new"


async def test_download_retried_on_503(
    client: ScenarioClient, router: Router, sleeps: list[float], tmp_path: Path
) -> None:
    route = cdn_route(
        router, httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200, content=b"png-bytes")
    )
    dest = tmp_path / "out.png"
    await client.download(CDN_URL, dest)
    assert dest.read_bytes() == b"png-bytes"
    assert route.call_count == 2 and sleeps == [2.0]
    assert list(tmp_path.iterdir()) == [dest]


async def test_download_gives_up_and_leaves_nothing(
    make_client: MakeClient, router: Router, sleeps: list[float], tmp_path: Path
) -> None:
    dest = tmp_path / "out.png"
    dest.write_bytes(b"previous")
    route = router.get(host="cdn.test").respond(500, text="<Error>AccessDenied</Error>")
    with pytest.raises(ServerError, match="AccessDenied"):
        await make_client(max_retries=2).download(CDN_URL, dest)
    assert route.call_count == 3 and len(sleeps) == 2
    assert list(tmp_path.iterdir()) == [dest]
    assert dest.read_bytes() == b"previous"


async def test_download_expired_url_is_not_retried(
    client: ScenarioClient, router: Router, sleeps: list[float], tmp_path: Path
) -> None:
    route = router.get(host="cdn.test").respond(403, text="Request has expired")
    with pytest.raises(ForbiddenError, match="expired"):
        await client.download(CDN_URL, tmp_path / "out.png")
    assert route.call_count == 1 and sleeps == []
    assert list(tmp_path.iterdir()) == []


async def test_download_mid_stream_failure_is_retried(
    client: ScenarioClient, router: Router, sleeps: list[float], tmp_path: Path
) -> None:
    cdn_route(
        router,
        httpx.Response(200, stream=ChunkStream([b"part"], httpx.ReadError("connection reset"))),
        httpx.Response(200, stream=ChunkStream([b"whole", b"-file"])),
    )
    dest = tmp_path / "out.png"
    await client.download(CDN_URL, dest)
    assert dest.read_bytes() == b"whole-file"
    assert len(sleeps) == 1
    assert list(tmp_path.iterdir()) == [dest]


async def test_download_mid_stream_failures_leave_nothing(
    make_client: MakeClient, router: Router, tmp_path: Path
) -> None:
    router.get(host="cdn.test").mock(
        side_effect=lambda request: httpx.Response(
            200, stream=ChunkStream([b"part"], httpx.ReadError("connection reset"))
        )
    )
    with pytest.raises(NetworkError, match="ReadError: connection reset"):
        await make_client(max_retries=1).download(CDN_URL, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


async def test_download_unexpected_exception_removes_temp(
    client: ScenarioClient, router: Router, sleeps: list[float], tmp_path: Path
) -> None:
    cdn_route(router, httpx.Response(200, stream=ChunkStream([b"part"], RuntimeError("disk on fire"))))
    with pytest.raises(RuntimeError, match="disk on fire"):
        await client.download(CDN_URL, tmp_path / "out.png")
    assert sleeps == []
    assert list(tmp_path.iterdir()) == []


async def test_download_to_missing_folder(client: ScenarioClient, router: Router, tmp_path: Path) -> None:
    route = cdn_route(router, httpx.Response(200, content=b"x"))
    with pytest.raises(FileNotFoundError):
        await client.download(CDN_URL, tmp_path / "missing" / "out.png")
    assert not route.called


# --------------------------------------------------------------------------- answer sizes


class Counting(httpx.AsyncByteStream):
    """A body of ``total`` bytes made on demand, counting what was read of it."""

    def __init__(self, total: int, fill: bytes = b" ") -> None:
        self.total, self.fill, self.read = total, fill, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.read < self.total:
            chunk = self.fill * min(65536, self.total - self.read)
            self.read += len(chunk)
            yield chunk


async def test_a_json_answer_over_the_limit_is_refused_before_decoding(
        client: ScenarioClient, router: Router) -> None:
    from scenario_tui.core.api import MAX_ANSWER

    body = Counting(1024 * 2**20)  # 1 GiB of JSON whitespace, never read whole
    router.get(f"{BASE}/jobs/j").respond(200, stream=body)
    with pytest.raises(ProtocolError, match="larger than the 5 MiB limit") as caught:
        await client.get_job("j")
    assert caught.value.status == 200 and body.read < MAX_ANSWER + 2**20


async def test_a_gzip_bomb_answer_counts_at_its_expanded_size(client: ScenarioClient, router: Router) -> None:
    import gzip

    bomb = gzip.compress(b" " * (64 * 2**20))  # ~64 KB on the wire
    router.get(f"{BASE}/jobs/j").respond(200, content=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ProtocolError, match="5 MiB limit"):
        await client.get_job("j")


async def test_an_answer_just_under_the_limit_is_decoded(client: ScenarioClient, router: Router) -> None:
    from scenario_tui.core.api import MAX_ANSWER

    text = json.dumps(job_answer())
    router.get(f"{BASE}/jobs/j").respond(200, content=text + " " * (MAX_ANSWER - len(text)))
    assert (await client.get_job("j")).id == "job_123"


async def test_a_huge_error_body_is_read_only_in_part_and_keeps_its_status(
        client: ScenarioClient, router: Router, sleeps: list[float]) -> None:
    bodies = [Counting(512 * 2**20, b"x") for _ in range(5)]
    route = router.get(f"{BASE}/jobs/j").mock(side_effect=[httpx.Response(503, stream=b) for b in bodies])
    with pytest.raises(ServerError) as caught:
        await client.get_job("j")
    assert route.call_count == 5 and len(sleeps) == 4  # still retried like any 503
    assert caught.value.message == "x" * 300 + "…"
    assert all(b.read <= 2**20 for b in bodies)


async def test_a_download_error_body_is_read_only_in_part(
        client: ScenarioClient, router: Router, tmp_path: Path) -> None:
    body = Counting(512 * 2**20, b"<")
    cdn_route(router, httpx.Response(404, stream=body))
    with pytest.raises(NotFoundError):
        await client.download(CDN_URL, tmp_path / "out.png")
    assert body.read <= 2**20 and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- secrets in job text


def _echoing_job(**changes: Any) -> dict[str, Any]:
    echo = f"key {KEY}, secret {SECRET}, header Basic {TOKEN}"
    return {**JOB, "status": "failure", **changes,
            "metadata": {**JOB["metadata"], "error": {"message": f"failed: {echo}"}, "hint": f"check {echo}"}}


def _clean_job(job: Job | None) -> None:
    assert job is not None and job.error and job.hint
    for text in (job.error, job.hint, job.raw_status, repr(job)):
        assert KEY not in text and SECRET not in text and TOKEN not in text
    assert job.error == "failed: key ***, secret ***, header Basic ***"


async def test_secrets_echoed_in_a_jobs_error_and_hint_are_scrubbed(client: ScenarioClient, router: Router) -> None:
    router.get(f"{BASE}/jobs/j").respond(200, json={"job": _echoing_job(status=f"failure {SECRET}")})
    router.get(f"{BASE}/jobs").respond(200, json={"jobs": [_echoing_job()]})
    router.post(f"{BASE}/jobs/j/action").respond(200, json={"job": _echoing_job()})
    job = await client.get_job("j")
    _clean_job(job)
    assert job.raw_status == "failure ***"
    [listed] = await client.list_jobs(created_after="2025-01-01T00:00:00Z")
    _clean_job(listed)
    _clean_job((await client.cancel_job("j")).job)


async def test_secrets_echoed_in_a_submitted_jobs_text_are_scrubbed(client: ScenarioClient, router: Router) -> None:
    class Params:
        def body(self) -> dict[str, Any]:
            return {"prompt": "p"}

        def query(self) -> dict[str, str]:
            return {}

    router.post(f"{BASE}/generate/inpaint-ip-adapter").respond(200, json={"job": _echoing_job()})
    _clean_job((await client.generate(Params())).job)


async def test_secrets_echoed_anywhere_in_an_answer_are_scrubbed(client: ScenarioClient, router: Router) -> None:
    """Ids, names, seeds and nested input echoes go to the store, the screen, --json and file names too."""
    echo = f"{KEY}-{SECRET}-{TOKEN}"
    model = {"id": f"model_{echo}", "name": f"name {echo}", "type": "sd-xl", "capabilities": ["inpaint_ip_adapter"]}
    router.get(f"{BASE}/models").respond(200, json={"models": [model]})
    router.get(f"{BASE}/assets/a").respond(200, json={"asset": {"id": "a", "url": "https://cdn.example/a.png",
                                                                "metadata": {"seed": echo, "nested": [echo]}}})
    router.get(f"{BASE}/jobs/j").respond(200, json={"job": {**JOB, "jobId": f"job_{echo}",
                                                            "metadata": {"input": {"prompt": echo}}}})
    seen = repr(await client.list_models()) + repr(await client.get_asset("a")) + repr(await client.get_job("j"))
    assert KEY not in seen and SECRET not in seen and TOKEN not in seen
    assert "model_***-***-***" in seen and "'seed': '***-***-***'" in seen
