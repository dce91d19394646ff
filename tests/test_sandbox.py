"""The API simulator against the vendored contract: every endpoint, the job life, result images and fault knobs.

No test sleeps: jobs move on a fake clock. Every success response (and every request body sent) is
validated against its contract definition.
"""

from __future__ import annotations

import asyncio
import gc
import io
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import httpx
import jsonschema
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from scenario_tui.core.api import ScenarioClient
from scenario_tui.core.imaging import encode_data_url
from scenario_tui.core.params import check, rules_for
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport, SyncSandboxTransport
from scenario_tui.sandbox.replies import Answer
from scenario_tui.sandbox.server import make_server, serve
from tests.conftest import contract_validator

BASE_URL = "https://sandbox.local/v1"
SD15 = "model_sandbox-sd15-classic"  # 64-1024 px: small, fast results
SDXL = "model_sandbox-sdxl-painter"
FLUX_LORA = "model_sandbox-flux-watercolor"
FLUX = "model_sandbox-flux-fill"  # sides up to 2048 px
NOT_CAPABLE = "model_sandbox-flux-dev"
GENERATE = "/generate/inpaint-ip-adapter"
SIZE = 64
SQUARE = (16, 16, 47, 47)  # the mask's white area (inclusive)
STATUSES = ["pending", "queued", "warming-up", "in-progress", "finalizing", "success"]


@cache
def _validator(definition: str) -> jsonschema.Draft4Validator:
    return contract_validator(definition)


def conforms(definition: str, instance: Any) -> Any:
    _validator(definition).validate(instance)
    return instance


class FakeClock:
    """A settable clock for the sandbox."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """A sync client on a fresh sandbox, with helpers that check status codes and the contract."""

    def __init__(self, config: SandboxConfig, auth: tuple[str, str] | None = ("key", "secret")) -> None:
        self.clock = FakeClock()
        self.sandbox = Sandbox(config, clock=self.clock)
        self.http = httpx.Client(transport=SyncSandboxTransport(self.sandbox), base_url=BASE_URL, auth=auth)

    def call(self, method: str, path: str, expect: int = 200, schema: str | None = None, **kw: Any) -> Any:
        response = self.http.request(method, path, **kw)
        assert response.status_code == expect, response.text
        body = response.json()
        if expect >= 400:
            assert isinstance(body["reason"], str) and body["reason"]
        return conforms(schema, body) if schema else body

    def generate(self, body: dict[str, Any], expect: int = 200, **kw: Any) -> Any:
        if expect in (200, 269):
            conforms("PostInpaintIpAdapterInferencesRequest", body)
        schema = "PostInpaintIpAdapterInferencesResponse" if expect == 200 else None
        return self.call("POST", GENERATE, expect, schema, json=body, **kw)

    def job(self, job_id: str) -> Any:
        return self.call("GET", f"/jobs/{job_id}", schema="GetJobIdResponse")["job"]

    def cancel(self, job_id: str, expect: int = 200) -> Any:
        body = conforms("PostJobActionByJobIdRequest", {"action": "cancel"})
        schema = "PostJobActionByJobIdResponse" if expect == 200 else None
        return self.call("POST", f"/jobs/{job_id}/action", expect, schema, json=body)

    def asset(self, asset_id: str) -> Any:
        return self.call("GET", f"/assets/{asset_id}", schema="GetAssetsByAssetIdResponse")["asset"]

    def download(self, url: str) -> Image.Image:
        response = self.http.get(url, auth=None)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "PNG"
        return image.convert("RGB")

    def finish(self, job_id: str) -> Any:
        self.clock.advance(self.sandbox.config.job_seconds)
        return self.job(job_id)

    def results(self, body: dict[str, Any]) -> list[Image.Image]:
        job = self.finish(self.generate(body)["job"]["jobId"])
        assert job["status"] == "success"
        return [self.download(self.asset(asset_id)["url"]) for asset_id in job["metadata"]["assetIds"]]


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(auth: tuple[str, str] | None = ("key", "secret"), **config: Any) -> Api:
        made.append(Api(SandboxConfig(**config), auth))
        return made[-1]

    yield make
    for api in made:
        api.http.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api(job_seconds=10.0)


# --- request bodies ------------------------------------------------------------------------------


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return encode_data_url(buffer.getvalue(), "image/png")


def input_image(size: int = SIZE) -> Image.Image:
    image = Image.new("RGB", (size, size), (40, 120, 200))
    ImageDraw.Draw(image).line((0, 0, size, size), fill=(250, 250, 250), width=3)
    return image


def mask_image(size: int = SIZE) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rectangle([v * size // SIZE for v in SQUARE], fill=255)
    return mask


def reference(color: tuple[int, int, int]) -> str:
    image = Image.new("RGB", (32, 32), color)
    ImageDraw.Draw(image).ellipse((8, 8, 24, 24), fill=tuple(c // 2 for c in color))
    return data_url(image)


RED, BLUE = (230, 20, 20), (20, 20, 230)


def request(**overrides: Any) -> dict[str, Any]:
    body = {
        "modelId": SD15,
        "prompt": "a brass lantern",
        "image": data_url(input_image()),
        "mask": data_url(mask_image()),
        "ipAdapterImages": [reference(RED), reference((240, 120, 20))],
        "numSamples": 1,
        "seed": "42",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def inside(image: Image.Image) -> Image.Image:
    left, top, right, bottom = SQUARE
    return image.crop((left, top, right + 1, bottom + 1))


def outside_mask(image: Image.Image) -> Image.Image:
    """The image with the mask's area blacked out."""
    return Image.composite(Image.new("RGB", image.size), image, mask_image(image.width))


# --- generation: quote and submit ---------------------------------------------------------------


def test_dry_run_answers_269_with_a_cost_that_grows_with_samples_steps_and_pixels(api: Api) -> None:
    def quote(**overrides: Any) -> Any:
        body = api.generate(request(**{"width": 512, "height": 512, **overrides}), 269, params={"dryRun": "true"})
        conforms("DryRunResponse", body)
        assert body["creativeUnitsDiscount"] == 0
        return body["creativeUnitsCost"]

    one = quote(numSamples=1)
    assert one == 5
    assert quote(numSamples=4) == 4 * one
    assert quote(numSamples=1, numInferenceSteps=60) > one
    assert quote(numSamples=1, width=1024, height=1024) > one


def test_dry_run_api_quotes_like_dry_run_true(api: Api) -> None:
    body = request(width=512, height=512, numSamples=2)
    quotes = [conforms("DryRunResponse", api.generate(body, 269, params={"dryRun": value}))
              for value in ("true", "api", "API")]
    assert quotes == [{"creativeUnitsCost": 10, "creativeUnitsDiscount": 0}] * 3
    assert api.call("GET", "/jobs")["jobs"] == []


def test_dry_run_still_checks_the_request(api: Api) -> None:
    body = api.generate(request(width=513), 400, params={"dryRun": "true"})
    assert body["errors"][0]["field"] == "width"


def test_submit_echoes_the_inference_and_stores_inline_inputs_as_assets(api: Api) -> None:
    body = api.generate(request(width=128, height=96, numSamples=3, strength=0.5))
    inference, job = body["inference"], body["job"]
    assert body["creativeUnitsCost"] == 3
    assert inference["type"] == "inpaint_ip_adapter"
    assert inference["modelId"] == SD15 and inference["prompt"] == "a brass lantern" and inference["seed"] == "42"
    assert (inference["width"], inference["height"], inference["strength"]) == (128, 96, 0.5)
    assert inference["image"] == inference["imageId"] and inference["mask"] == inference["maskId"]
    assert len(inference["ipAdapterImageIds"]) == 2 and "ipAdapterImages" not in inference
    assert api.asset(inference["image"])["properties"]["width"] == SIZE
    assert api.download(api.asset(inference["mask"])["url"]).size == (SIZE, SIZE)
    assert job["status"] == "pending" and job["progress"] == 0 and job["jobType"] == "inference"
    assert job["metadata"]["input"] == inference and job["metadata"]["assetIds"] == []


def test_seeds_are_picked_and_ids_are_unique_across_sandboxes(make_api: Callable[..., Api]) -> None:
    first, second = make_api(), make_api()
    one, two = (api.generate(request(seed=None)) for api in (first, second))
    assert one["inference"]["seed"].isdigit() and one["inference"]["seed"] != two["inference"]["seed"]
    assert one["job"]["jobId"] != two["job"]["jobId"]


# --- the job's life ---------------------------------------------------------------------------


def test_job_goes_through_every_status_with_rising_progress(api: Api) -> None:
    job_id = api.generate(request(numSamples=2))["job"]["jobId"]
    seen: list[str] = []
    progress: list[float] = []
    history_lengths: list[int] = []
    for _ in range(45):  # 11.25 s of a 10 s job, in quarter seconds
        job = api.job(job_id)
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        progress.append(job["progress"])
        history = job["statusHistory"]
        history_lengths.append(len(history))
        assert [h["status"] for h in history] == STATUSES[: len(history)]
        dates = [datetime.fromisoformat(h["date"]) for h in history]
        assert dates == sorted(dates) and job["updatedAt"] == history[-1]["date"]
        if job["status"] in ("pending", "queued", "warming-up"):
            assert job["progress"] == 0
        api.clock.advance(0.25)
    assert seen == STATUSES
    assert progress == sorted(progress) and progress[-1] == 1
    assert len({p for p in progress if 0 < p < 1}) > 10  # rises gradually while in progress
    assert history_lengths == sorted(history_lengths)
    assert len(job["metadata"]["assetIds"]) == 2


def test_zero_second_jobs_succeed_at_once(make_api: Callable[..., Api]) -> None:
    api = make_api(job_seconds=0)
    job = api.generate(request())["job"]
    assert job["status"] == "success" and len(job["metadata"]["assetIds"]) == 1


def test_unknown_job_is_404(api: Api) -> None:
    api.call("GET", "/jobs/job_nope", 404)
    api.call("POST", "/jobs/job_nope/action", 404, json={"action": "cancel"})


@pytest.mark.parametrize("prompt", ["a lantern [fail]", "a lantern [FAIL] please"])
def test_a_fail_prompt_ends_in_failure_with_error_and_hint(api: Api, prompt: str) -> None:
    job = api.finish(api.generate(request(prompt=prompt))["job"]["jobId"])
    assert job["status"] == "failure" and job["statusHistory"][-1]["status"] == "failure"
    assert "[fail]" in job["metadata"]["error"] and job["metadata"]["hint"]
    assert job["metadata"]["assetIds"] == [] and 0 < job["progress"] < 1


def test_fail_rate_fails_jobs_deterministically(make_api: Callable[..., Api]) -> None:
    def outcomes(seed: int) -> list[str]:
        api = make_api(job_seconds=1, fail_rate=0.5, seed=seed)
        ids = [api.generate(request())["job"]["jobId"] for _ in range(12)]
        api.clock.advance(1)
        return [api.job(job_id)["status"] for job_id in ids]

    first = outcomes(7)
    assert set(first) == {"success", "failure"}
    assert outcomes(7) == first
    assert set(outcomes(8)) <= {"success", "failure"}
    every = make_api(job_seconds=1, fail_rate=1.0)
    job = every.finish(every.generate(request())["job"]["jobId"])
    assert job["status"] == "failure" and job["metadata"]["error"] and job["metadata"]["hint"]


# --- listing jobs ------------------------------------------------------------------------------


def list_jobs(api: Api, expect: int = 200, **query: str) -> Any:
    """One page of ``GET /jobs``; every job in it checked against the contract's job object."""
    page = api.call("GET", "/jobs", expect, params=query)
    for job in page.get("jobs", []):
        conforms("GetJobIdResponse", {"job": job})
    return page


def submit_jobs(api: Api, count: int, every: float = 1.0) -> list[str]:
    """``count`` jobs, ``every`` seconds apart on the sandbox's clock, oldest first."""
    ids = []
    for index in range(count):
        ids.append(api.generate(request(prompt=f"lantern {index}"))["job"]["jobId"])
        api.clock.advance(every)
    return ids


def test_jobs_are_listed_newest_first_as_get_job_shows_them(api: Api) -> None:
    ids = submit_jobs(api, 3)
    page = list_jobs(api)
    assert [job["jobId"] for job in page["jobs"]] == ids[::-1] and "nextPaginationToken" not in page
    assert page["jobs"] == [api.job(job_id) for job_id in ids[::-1]]
    inputs = [job["metadata"]["input"] for job in page["jobs"]]
    assert [i["prompt"] for i in inputs] == ["lantern 2", "lantern 1", "lantern 0"]
    assert not any(isinstance(v, str) and v.startswith("data:") for i in inputs for v in i.values())
    assert all(i["image"].startswith("asset_") and i["ipAdapterImageIds"] for i in inputs)


def test_jobs_are_paginated_with_a_cursor_that_new_jobs_do_not_shift(api: Api) -> None:
    ids = submit_jobs(api, 5)
    first = list_jobs(api, pageSize="2")
    assert [job["jobId"] for job in first["jobs"]] == ids[:2:-1]
    newer = submit_jobs(api, 1)
    second = list_jobs(api, pageSize="2", paginationToken=first["nextPaginationToken"])
    third = list_jobs(api, pageSize="2", paginationToken=second["nextPaginationToken"])
    assert [job["jobId"] for job in second["jobs"] + third["jobs"]] == ids[2::-1]
    assert "nextPaginationToken" not in third
    assert [job["jobId"] for job in list_jobs(api)["jobs"]] == (ids + newer)[::-1]  # default page size: 50


def test_jobs_created_after_a_date(api: Api) -> None:
    old, new = submit_jobs(api, 2, every=60)
    created = api.job(old)["createdAt"]
    assert created.endswith("Z")
    for after in (created, created.replace("Z", "+00:00"), created.removesuffix("Z")):  # no offset: UTC
        assert [job["jobId"] for job in list_jobs(api, createdAfter=after)["jobs"]] == [new]
    assert len(list_jobs(api, createdAfter="2020-01-01T00:00:00.000Z")["jobs"]) == 2
    assert list_jobs(api, createdAfter="2999-01-01T00:00:00Z") == {"jobs": []}


def test_jobs_filter_by_current_status_and_type(api: Api) -> None:
    done, canceled = submit_jobs(api, 2, every=0)
    api.cancel(canceled)
    api.clock.advance(10)
    running = submit_jobs(api, 1, every=0)[0]
    assert [j["jobId"] for j in list_jobs(api, status="success")["jobs"]] == [done]
    assert [j["jobId"] for j in list_jobs(api, status="canceled")["jobs"]] == [canceled]
    assert [j["jobId"] for j in list_jobs(api, status="pending")["jobs"]] == [running]
    assert len(list_jobs(api, type="inference")["jobs"]) == 3 and list_jobs(api, type="training")["jobs"] == []


@pytest.mark.parametrize("query", [
    {"pageSize": "0"}, {"pageSize": "101"}, {"pageSize": "ten"}, {"paginationToken": "bogus"},
    {"paginationToken": "bW9kZWxzOjI"},  # a models token ("models:2")
    {"paginationToken": "am9iczpqb2Jfbm9wZQ"},  # "jobs:job_nope"
    {"createdAfter": "yesterday"}, {"createdAfter": "2026-13-01T00:00:00Z"}, {"status": "done"},
])
def test_bad_job_list_queries_are_400_naming_the_field(api: Api, query: dict[str, str]) -> None:
    answer = list_jobs(api, 400, **query)
    assert answer["errors"][0]["field"] == next(iter(query)) and answer["reason"].startswith(next(iter(query)))


def test_job_routes_and_their_methods(api: Api) -> None:
    job_id = api.generate(request())["job"]["jobId"]
    assert [j["jobId"] for j in list_jobs(api)["jobs"]] == [job_id]
    assert api.job(job_id)["jobId"] == job_id and api.cancel(job_id)["job"]["status"] == "canceled"
    for method, path, allowed in (("POST", "/jobs", "GET"), ("DELETE", "/jobs", "GET"),
                                  ("POST", f"/jobs/{job_id}", "GET"), ("GET", f"/jobs/{job_id}/action", "POST")):
        response = api.http.request(method, path)
        assert response.status_code == 405 and response.headers["Allow"] == allowed, (method, path)


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_a_running_job(api: Api) -> None:
    job_id = api.generate(request())["job"]["jobId"]
    api.clock.advance(5)
    job = api.cancel(job_id)["job"]
    assert job["status"] == "canceled" and job["statusHistory"][-1]["status"] == "canceled"
    frozen = job["progress"]
    assert 0 < frozen < 1
    later = api.finish(job_id)
    assert later["status"] == "canceled" and later["progress"] == frozen and later["metadata"]["assetIds"] == []
    assert "Cannot cancel" in api.cancel(job_id, 400)["reason"]


def test_cancel_refused_when_not_cancellable(make_api: Callable[..., Api]) -> None:
    api = make_api(cancellable=False)
    job_id = api.generate(request())["job"]["jobId"]
    assert api.cancel(job_id, 400)["reason"] == "Cannot cancel this type of job"
    assert api.finish(job_id)["status"] == "success"


def test_cancel_refused_once_finished(api: Api) -> None:
    job_id = api.generate(request())["job"]["jobId"]
    api.finish(job_id)
    reason = api.cancel(job_id, 400)["reason"]
    assert "Cannot cancel" in reason and "success" in reason


@pytest.mark.parametrize("body", [{"action": "pause"}, {}, ["cancel"]])
def test_cancel_with_a_bad_body_is_400(api: Api, body: Any) -> None:
    job_id = api.generate(request())["job"]["jobId"]
    answer = api.call("POST", f"/jobs/{job_id}/action", 400, json=body)
    assert answer["errors"][0]["field"] == "action"
    assert api.job(job_id)["status"] == "pending"


# --- result images -----------------------------------------------------------------------------


def test_results_are_pngs_of_the_requested_size_one_per_sample(api: Api) -> None:
    results = api.results(request(width=128, height=96, numSamples=3))
    assert [r.size for r in results] == [(128, 96)] * 3
    assert len({r.tobytes() for r in results}) == 3  # each sample has its own seed


def test_results_default_to_the_input_size(api: Api) -> None:
    assert api.results(request())[0].size == (SIZE, SIZE)


def test_results_are_deterministic_for_a_seed(api: Api) -> None:
    first = api.results(request(seed="42"))[0]
    again = api.results(request(seed="42"))[0]
    other = api.results(request(seed="43"))[0]
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_only_the_masked_area_is_repainted(api: Api) -> None:
    result = api.results(request())[0]
    original = input_image()
    assert outside_mask(result).tobytes() == outside_mask(original).tobytes()
    changed = ImageChops.difference(inside(result), inside(original)).convert("L")
    assert changed.point(lambda v: 255 if v > 8 else 0).histogram()[255] > 0.9 * 32 * 32


def test_pixels_outside_the_mask_follow_the_resized_input(api: Api) -> None:
    flat = Image.new("RGB", (SIZE, SIZE), (40, 120, 200))  # resizing can't change a flat colour
    result = api.results(request(image=data_url(flat), width=128, height=128))[0]
    mask = mask_image().resize((128, 128), Image.Resampling.NEAREST)
    kept = Image.composite(Image.new("RGB", (128, 128)), result, mask)
    expected = Image.composite(Image.new("RGB", (128, 128)), Image.new("RGB", (128, 128), (40, 120, 200)), mask)
    assert kept.tobytes() == expected.tobytes()


def test_a_mask_of_another_size_is_stretched_to_the_image(api: Api) -> None:
    result = api.results(request(mask=data_url(mask_image(32))))[0]
    assert outside_mask(result).tobytes() == outside_mask(input_image()).tobytes()


def test_references_colour_the_repainted_area(api: Api) -> None:
    def redness(color: tuple[int, int, int]) -> float:
        result = api.results(request(ipAdapterImages=[reference(color)] * 2, strength=1))[0]
        r, _, b = ImageStat.Stat(inside(result)).mean
        return r - b

    assert redness(RED) > redness(BLUE) + 60


def test_strength_sets_how_far_from_the_original_the_result_goes(api: Api) -> None:
    def change(strength: float) -> float:
        result = api.results(request(strength=strength))[0]
        return sum(ImageStat.Stat(ImageChops.difference(inside(result), inside(input_image()))).mean)

    assert change(0.1) < change(0.5) < change(1.0)


# --- memory ------------------------------------------------------------------------------------


def held_by(root: object) -> tuple[list[Image.Image], int]:
    """The PIL images reachable from ``root``'s data (not through modules, classes or function globals) and the
    total length of the bytes objects reachable the same way."""
    seen: set[int] = set()
    todo, images, held = [root], [], 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType):
            continue
        seen.add(id(obj))
        if isinstance(obj, Image.Image):
            images.append(obj)
        elif isinstance(obj, bytes):
            held += len(obj)
        elif isinstance(obj, types.FunctionType):  # what a lambda or a default value holds, not its module
            todo += [cell.cell_contents for cell in obj.__closure__ or ()] + list(obj.__defaults__ or ())
        else:
            todo += gc.get_referents(obj)
    return images, held


def test_the_sandbox_keeps_inputs_and_results_as_encoded_bytes(api: Api) -> None:
    side = 2048
    body = request(modelId=FLUX, image=data_url(input_image(side)), mask=data_url(mask_image(side)),
                   ipAdapterImages=[data_url(input_image(side))])
    jobs = [api.generate(body)["job"]["jobId"] for _ in range(10)]
    assert held_by(api.sandbox)[0] == []  # inputs stored and results pending
    api.clock.advance(10)
    for job_id in jobs[:4]:
        api.job(job_id)  # published, not rendered yet
    for job_id in jobs[:2]:
        result = api.download(api.asset(api.job(job_id)["metadata"]["assetIds"][0])["url"])
        assert result.size == (side, side)
    images, held = held_by(api.sandbox)
    decoded = 10 * side * side * (3 + 1 + 3)  # per job: the RGB input, the L mask, the RGB reference
    assert images == [] and held < decoded / 10


# --- assets --------------------------------------------------------------------------------------


def upload(api: Api, image: Image.Image, name: str = "input.png") -> Any:
    body = conforms("PostAssetRequest", {"image": data_url(image), "name": name})
    return api.call("POST", "/assets", schema="PostAssetResponse", json=body)["asset"]


def test_upload_get_and_download_an_asset(api: Api) -> None:
    asset = upload(api, input_image())
    assert asset["metadata"]["name"] == "input.png" and asset["mimeType"] == "image/png"
    fetched = api.asset(asset["id"])
    assert fetched["properties"]["width"] == SIZE and fetched["properties"]["size"] > 0
    url = httpx.URL(fetched["url"])
    assert url.host == "sandbox.local" and url.path == f"/sandbox-cdn/{asset['id']}.png"
    assert b"Signature=" in url.query and b"%3D%3D" in url.query and b"Key-Pair-Id=SANDBOX" in url.query
    assert api.download(fetched["url"]).tobytes() == input_image().tobytes()


def test_hide_is_stored_with_the_upload(api: Api) -> None:
    body = conforms("PostAssetRequest", {"image": data_url(input_image()), "name": "secret.png", "hide": True})
    hidden = api.call("POST", "/assets", schema="PostAssetResponse", json=body)["asset"]
    assert hidden["metadata"]["hide"] is True and api.asset(hidden["id"])["metadata"]["hide"] is True
    assert upload(api, input_image())["metadata"]["hide"] is False
    answer = api.call("POST", "/assets", 400, json={**body, "hide": "yes"})
    assert answer["errors"][0]["field"] == "hide"


def test_download_is_refused_with_credentials_or_an_altered_query(api: Api) -> None:
    url = api.asset(upload(api, input_image())["id"])["url"]
    with_auth = api.http.get(url)  # the client's auth adds an Authorization header
    assert with_auth.status_code == 400 and with_auth.json()["reason"]
    base, _, query = url.partition("?")
    for altered in (
        f"{base}?{unquote(query)}",  # decoded
        f"{base}?{query.replace('%', '%25')}",  # encoded twice
        base,
        url.replace("Key-Pair-Id=SANDBOX", "Key-Pair-Id=OTHER"),
        url.replace("Expires=", "Expires=1"),
    ):
        assert api.http.get(altered, auth=None).status_code == 400, altered


def test_download_links_expire(api: Api) -> None:
    url = api.asset(upload(api, input_image())["id"])["url"]
    api.clock.advance(2 * 3600)
    response = api.http.get(url, auth=None)
    assert response.status_code == 403 and response.json()["reason"]


def test_unknown_asset_is_404(api: Api) -> None:
    api.call("GET", "/assets/asset_nope", 404)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x.png"}, "image"),
    ({"image": "data:image/png;base64,AAAA", "name": "x.png"}, "image"),
    ({"image": "not a data url", "name": "x.png"}, "image"),
    ({"image": data_url(input_image())}, "name"),
    ({"image": data_url(input_image()), "name": "x.png", "colour": "red"}, "colour"),
])
def test_bad_uploads_are_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    answer = api.call("POST", "/assets", 400, json=body)
    assert answer["errors"][0]["field"] == field and answer["reason"].startswith(field)


def test_generate_from_asset_ids(api: Api) -> None:
    image_id, mask_id = upload(api, input_image())["id"], upload(api, mask_image(), "mask.png")["id"]
    red = upload(api, Image.new("RGB", (16, 16), RED), "red.png")["id"]
    body = request(image=image_id, mask=None, maskId=mask_id, ipAdapterImages=None, ipAdapterImageIds=[red])
    result = api.results(body)[0]
    assert outside_mask(result).tobytes() == outside_mask(input_image()).tobytes()
    again = api.generate(request(image=None, imageId=image_id, mask=None, maskId=mask_id))
    assert again["inference"]["image"] == image_id and again["inference"]["maskId"] == mask_id


def test_a_result_can_be_the_next_input(api: Api) -> None:
    job = api.finish(api.generate(request())["job"]["jobId"])
    result_id = job["metadata"]["assetIds"][0]
    assert api.asset(result_id)["metadata"]["parentJobId"] == job["jobId"]
    assert api.results(request(image=result_id))[0].size == (SIZE, SIZE)


@pytest.mark.parametrize("field", ["image", "imageId", "maskId", "ipAdapterImageIds"])
def test_unknown_asset_ids_are_400_naming_the_field(api: Api, field: str) -> None:
    unknown: Any = ["asset_nope"] if field == "ipAdapterImageIds" else "asset_nope"
    cleared = {"image": {}, "imageId": {"image": None}, "maskId": {"mask": None},
               "ipAdapterImageIds": {"ipAdapterImages": None}}[field]
    answer = api.generate(request(**{**cleared, field: unknown}), 400)
    assert answer["errors"][0]["field"] == field and "asset_nope" in answer["reason"]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"width": 513}, "width", "multiple of 8"),
    ({"mask": None}, "mask", "required"),
    ({"strength": 2}, "strength", "between 0.01 and 1"),
    ({"ipAdapterImages": None}, "ipAdapterImages", "reference"),
    ({"modelId": SDXL, "width": 256, "height": 256}, "width", "SDXL"),
    ({"modelId": FLUX_LORA, "baseModelId": "flux.1-pro"}, "baseModelId", "flux.1-dev"),
    ({"mask": "data:image/png;base64,AAAA"}, "mask", "data URL"),
    ({"ipAdapterImages": [reference(RED), "data:image/png;base64,AAAA"]}, "ipAdapterImages", "reference 2"),
])
def test_invalid_requests_are_400_naming_the_field(api: Api, overrides: dict[str, Any], field: str,
                                                    words: str) -> None:
    answer = api.generate(request(**overrides), 400)
    assert answer["errors"][0]["field"] == field
    assert words in answer["reason"] and words in answer["errors"][0]["message"] + answer["reason"]


def test_the_reason_is_the_apps_own_wording(api: Api) -> None:
    body = request(width=513)
    expected = check(body).errors[0]
    assert api.generate(body, 400)["reason"] == str(expected)


@pytest.mark.parametrize("overrides", [{"colour": "red"}, {"dryRun": True}])
def test_keys_that_are_not_body_fields_are_400(api: Api, overrides: dict[str, Any]) -> None:
    answer = api.call("POST", GENERATE, 400, json=request(**overrides))
    assert answer["errors"][0]["field"] == next(iter(overrides))


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_bodies_that_are_not_a_json_object_are_400(api: Api, content: bytes) -> None:
    api.call("POST", GENERATE, 400, content=content, headers={"Content-Type": "application/json"})


def test_unknown_model_is_404_and_a_model_without_the_capability_is_400(api: Api) -> None:
    assert "model_nope" in api.generate(request(modelId="model_nope"), 404)["reason"]
    assert "inpaint_ip_adapter" in api.generate(request(modelId=NOT_CAPABLE), 400)["reason"]


# --- models --------------------------------------------------------------------------------------


def list_all(api: Api, **query: str) -> tuple[list[dict[str, Any]], int]:
    models: list[dict[str, Any]] = []
    pages = 0
    params: dict[str, str] = dict(query)
    while True:
        page = api.call("GET", "/models", schema="GetModelsResponse", params=params)
        models += page["models"]
        pages += 1
        token = page.get("nextPaginationToken")
        if not token:
            return models, pages
        params["paginationToken"] = token


def test_models_are_paginated_and_mix_capabilities(api: Api) -> None:
    everything, pages = list_all(api, pageSize="2")
    assert pages == 5 and len(everything) == len({m["id"] for m in everything}) == 9
    assert [m["id"] for m in everything] == [m["id"] for m in list_all(api)[0]]  # default page holds them all
    usable = [m for m in everything if "inpaint_ip_adapter" in m["capabilities"]]
    assert 3 <= len(usable) < len(everything)
    assert {"flux.1", "flux.1-pro", "flux.1-lora", "sd-xl", "sd-1_5"} == {m["type"] for m in usable}
    assert {"gpt-image-1", "flux.1-kontext-dev"} <= {m["type"] for m in everything if m not in usable}
    lora = next(m for m in everything if m["type"] == "flux.1-lora")
    assert lora["compliantModelIds"] and lora["epochs"]


def test_the_first_usable_model_has_a_2026_type_and_every_model_rule_is_exercised(api: Api) -> None:
    usable = [m for m in list_all(api)[0] if "inpaint_ip_adapter" in m["capabilities"]]
    assert usable[0]["type"] == "flux.1"
    assert {rules_for(m["type"]).family for m in usable} == {"Flux dev", "Flux pro", "SDXL", "SD 1.5"}
    assert any(rules_for(m["type"]).lora for m in usable)
    legacy = [m for m in usable if m["type"].startswith("sd-")]
    assert sorted(m["type"] for m in legacy) == ["sd-1_5", "sd-xl"]
    assert all("legacy type (retired in 2026)" in m["shortDescription"].lower() for m in legacy)


def test_models_filter_by_privacy(api: Api) -> None:
    private, _ = list_all(api, privacy="private")
    public, _ = list_all(api, privacy="public")
    assert private and public and {m["privacy"] for m in private} == {"private"}
    assert len(private) + len(public) == 9


def test_model_thumbnails_can_be_downloaded(api: Api) -> None:
    model = api.call("GET", f"/models/{SDXL}", schema="GetModelsByModelIdResponse")["model"]
    assert model["id"] == SDXL and model["type"] == "sd-xl"
    assert api.download(model["thumbnail"]["url"]).size == (128, 128)


def test_unknown_model_get_is_404(api: Api) -> None:
    api.call("GET", "/models/model_nope", 404)


@pytest.mark.parametrize("query", [{"pageSize": "0"}, {"pageSize": "many"}, {"paginationToken": "bogus"},
                                   {"privacy": "secret"}])
def test_bad_model_queries_are_400(api: Api, query: dict[str, str]) -> None:
    answer = api.call("GET", "/models", 400, params=query)
    assert answer["errors"][0]["field"] == next(iter(query))


@pytest.mark.parametrize("status", [403, 410])
def test_models_status_knob(make_api: Callable[..., Api], status: int) -> None:
    api = make_api(models_status=status)
    api.call("GET", "/models", status)
    api.call("GET", f"/models/{SDXL}", status)
    api.generate(request())  # typing a model id still works


def test_empty_models_knob_lists_no_usable_model(make_api: Callable[..., Api]) -> None:
    api = make_api(empty_models=True)
    models, _ = list_all(api)
    assert models and not [m for m in models if "inpaint_ip_adapter" in m["capabilities"]]
    api.call("GET", f"/models/{SDXL}", schema="GetModelsByModelIdResponse")


# --- auth, routing, limits ----------------------------------------------------------------------


def test_calls_without_basic_auth_are_401(make_api: Callable[..., Api]) -> None:
    api = make_api(auth=None)
    for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"},
                    {"Authorization": "Basic a2V5"}):  # "key" without ":secret"
        api.call("GET", "/models", 401, headers=headers)
    api.call("GET", "/nowhere", 401)


def test_configured_credentials_are_enforced(make_api: Callable[..., Api]) -> None:
    make_api(auth=("key", "wrong"), credentials=("key", "secret")).call("GET", "/models", 401)
    make_api(auth=("key", "secret"), credentials=("key", "secret")).call("GET", "/models", 200)


def test_unknown_routes_are_404_and_wrong_methods_405(api: Api) -> None:
    api.call("GET", "/nowhere", 404)
    api.call("GET", "/jobs/a/b/c", 404)
    assert api.http.get("https://sandbox.local/elsewhere").status_code == 404
    response = api.http.delete("/jobs/job_x")
    assert response.status_code == 405 and response.headers["Allow"] == "GET" and response.json()["reason"]
    assert api.http.get(GENERATE).status_code == 405


def test_bodies_over_10_mb_are_413(api: Api) -> None:
    body = request(prompt="x" * (10 * 1024 * 1024))
    assert api.http.post(GENERATE, json=body).status_code == 413


def test_rate_limit_burst(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_burst=2)
    for _ in range(2):
        response = api.http.get("/models")
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        body = response.json()
        assert body["reason"] and body["name"] and body["details"]["actionLimit"] > 0 and body["details"]["actionName"]
    api.call("GET", "/models", schema="GetModelsResponse")


def test_error_rate_is_deterministic(make_api: Callable[..., Api]) -> None:
    def statuses(seed: int) -> list[int]:
        api = make_api(error_rate=0.5, seed=seed)
        return [api.http.get("/models").status_code for _ in range(30)]

    first = statuses(3)
    assert set(first) == {200, 503}
    assert statuses(3) == first
    assert statuses(4) != first
    api = make_api(error_rate=1.0)
    assert api.call("GET", "/models", 503)["reason"]


def test_an_internal_error_is_a_500_answer(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("scenario_tui.sandbox.state.parse_generation", broken)
    assert "boom" in api.call("POST", GENERATE, 500, json=request())["reason"]


def test_concurrent_calls_are_safe(api: Api) -> None:
    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(lambda _: api.generate(request())["job"]["jobId"], range(16)))
    assert len(set(jobs)) == 16
    api.clock.advance(10)
    with ThreadPoolExecutor(8) as pool:
        assets = [a for job in pool.map(api.job, jobs) for a in job["metadata"]["assetIds"]]
    assert len(set(assets)) == 16


# --- faults for the client's reconciliation --------------------------------------------------------


def listed(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The sandbox's jobs, newest first, as ``GET /jobs`` lists them."""
    with httpx.Client(transport=SyncSandboxTransport(sandbox), base_url=BASE_URL, auth=("k", "s")) as client:
        return list_jobs_of(client)


def list_jobs_of(client: httpx.Client) -> list[dict[str, Any]]:
    page = client.get("/jobs")
    assert page.status_code == 200
    jobs: list[dict[str, Any]] = page.json()["jobs"]
    return [conforms("GetJobIdResponse", {"job": job})["job"] for job in jobs]


def test_lost_generate_answers_still_create_and_run_the_job(make_api: Callable[..., Api]) -> None:
    api = make_api(lose_generate_answers=2, job_seconds=10)
    api.generate(request(), 269, params={"dryRun": "true"})  # quotes and refused requests don't count
    api.generate(request(width=513), 400)
    for seed in ("1", "2"):
        with pytest.raises(httpx.ReadError, match="connection lost"):
            api.http.post(GENERATE, json=request(seed=seed))
    answered = api.generate(request(seed="3"))["job"]["jobId"]
    jobs = listed(api.sandbox)
    assert [(job["metadata"]["input"]["seed"], job["status"]) for job in jobs] == [
        ("3", "pending"), ("2", "pending"), ("1", "pending")]
    assert jobs[0]["jobId"] == answered and len(api.sandbox.generate_posts()) == 4  # 1 refused + 2 lost + 1
    assert api.finish(jobs[2]["jobId"])["status"] == "success"


async def test_the_async_transport_loses_answers_the_same_way() -> None:
    sandbox = Sandbox(SandboxConfig(lose_generate_answers=1))
    async with httpx.AsyncClient(transport=SandboxTransport(sandbox), base_url=BASE_URL, auth=("k", "s")) as client:
        with pytest.raises(httpx.ReadError):
            await client.post(GENERATE, json=request())
        assert (await client.post(GENERATE, json=request())).status_code == 200
    assert len(listed(sandbox)) == 2


def test_malformed_generate_answers_come_after_the_lost_ones(make_api: Callable[..., Api]) -> None:
    api = make_api(lose_generate_answers=1, malformed_generate_answers=2)
    with pytest.raises(httpx.ReadError):
        api.http.post(GENERATE, json=request())
    for _ in range(2):
        response = api.http.post(GENERATE, json=request())
        assert response.status_code == 200 and response.text.startswith("<html>")
        with pytest.raises(ValueError):
            response.json()
    api.generate(request())
    assert len(listed(api.sandbox)) == 4


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_generate_answers_wait_after_the_job_is_created(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    sandbox = Sandbox(SandboxConfig(generate_answer_delay=2.5))
    waits: list[tuple[float, int]] = []  # (seconds, jobs existing when the wait began)

    def record(seconds: float) -> None:
        waits.append((seconds, len(listed(sandbox))))

    async def async_record(seconds: float) -> None:
        record(seconds)

    monkeypatch.setattr("scenario_tui.sandbox.transport.time.sleep", record)
    monkeypatch.setattr("scenario_tui.sandbox.transport.asyncio.sleep", async_record)
    sent = [httpx.Request("POST", BASE_URL + GENERATE, params={"dryRun": "true"}, json=request()),
            httpx.Request("POST", BASE_URL + GENERATE, json=request()), httpx.Request("GET", BASE_URL + "/jobs")]
    if mode == "sync":
        with httpx.Client(transport=SyncSandboxTransport(sandbox), auth=("k", "s")) as client:
            codes = [client.send(r).status_code for r in sent]
    else:
        async with httpx.AsyncClient(transport=SandboxTransport(sandbox), auth=("k", "s")) as client:
            codes = [(await client.send(r)).status_code for r in sent]
    assert codes == [269, 200, 200]
    assert waits == [(2.5, 1)]  # only the real generate POST waits, once its job exists


@contextmanager
def serving(config: SandboxConfig) -> Iterator[tuple[Sandbox, str]]:
    """A local server on a fresh sandbox, and its base URL."""
    sandbox = Sandbox(config)
    server = make_server(sandbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sandbox, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_local_server_drops_the_connection_of_a_lost_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("scenario_tui.sandbox.server.time.sleep", waits.append)
    config = SandboxConfig(lose_generate_answers=1, malformed_generate_answers=1, generate_answer_delay=0.5)
    with serving(config) as (sandbox, base_url), httpx.Client(base_url=base_url, auth=("k", "s"), timeout=10) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post(GENERATE, json=request())
        malformed = client.post(GENERATE, json=request())
        assert malformed.status_code == 200 and malformed.text.startswith("<html>")
        conforms("PostInpaintIpAdapterInferencesResponse", client.post(GENERATE, json=request()).json())
        assert len(list_jobs_of(client)) == 3 and len(sandbox.generate_posts()) == 3
    assert waits == [0.5] * 3


def test_forgotten_uploads_are_unknown_ids_again(api: Api) -> None:
    image_id = upload(api, input_image())["id"]
    inline = api.generate(request(image=image_id))
    input_id, mask_id = inline["inference"]["image"], inline["inference"]["mask"]
    api.sandbox.forget_uploads()
    answer = api.generate(request(image=image_id), 400)
    assert answer["errors"][0]["field"] == "image" and answer["reason"] == f"Input image: no asset with id {image_id}"
    api.call("GET", f"/assets/{image_id}", 404)
    assert input_id == image_id and api.asset(mask_id)["id"] == mask_id  # inputs sent inline are kept
    assert api.finish(inline["job"]["jobId"])["status"] == "success"  # a running job keeps its inputs
    api.generate(request(image=upload(api, input_image())["id"]))  # new uploads work


def test_the_request_log_records_every_v1_call(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_burst=1)
    assert api.http.get("/models", params={"pageSize": "1"}).status_code == 429  # logged even when refused
    quote_body = request()
    api.generate(quote_body, 269, params={"dryRun": "true"})
    api.generate(request(), 269, params={"dryRun": "api"})
    api.generate(request(width=513), 400)
    job_id = api.generate(request(image=upload(api, input_image())["id"]))["job"]["jobId"]
    result_id = api.finish(job_id)["metadata"]["assetIds"][0]
    api.download(api.asset(result_id)["url"])  # the CDN is not under /v1
    log = api.sandbox.request_log
    assert [(r.method, r.path) for r in log] == [
        ("GET", "/v1/models"), ("POST", "/v1" + GENERATE), ("POST", "/v1" + GENERATE), ("POST", "/v1" + GENERATE),
        ("POST", "/v1/assets"), ("POST", "/v1" + GENERATE), ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/assets/{result_id}"),
    ]
    assert log[0].query == {"pageSize": "1"} and log[0].body_bytes == 0 and log[1].query == {"dryRun": "true"}
    assert log[1].body_bytes == len(httpx.Request("POST", BASE_URL, json=quote_body).content)
    assert api.sandbox.generate_posts() == [log[3], log[5]]  # the refused one too; no quotes
    assert api.sandbox.bytes_received("/v1/jobs") == 0
    assert api.sandbox.bytes_received() == sum(r.body_bytes for r in log)
    assert api.sandbox.bytes_received("/v1/generate", method="POST") == sum(log[i].body_bytes for i in (1, 2, 3, 5))


# --- transports and the local server ----------------------------------------------------------


async def test_async_transport_serves_an_async_client() -> None:
    clock = FakeClock()
    sandbox = Sandbox(SandboxConfig(job_seconds=4), clock=clock)
    threads: list[str] = []
    handle = sandbox.handle

    def spy(request: httpx.Request) -> Answer:
        threads.append(threading.current_thread().name)
        return handle(request)

    sandbox.handle = spy  # type: ignore[method-assign]
    async with httpx.AsyncClient(transport=SandboxTransport(sandbox), base_url=BASE_URL, auth=("k", "s")) as client:
        submitted = await client.post(GENERATE, json=request())
        assert submitted.status_code == 200
        job_id = conforms("PostInpaintIpAdapterInferencesResponse", submitted.json())["job"]["jobId"]
        clock.advance(4)
        job = conforms("GetJobIdResponse", (await client.get(f"/jobs/{job_id}")).json())["job"]
        asset = (await client.get(f"/assets/{job['metadata']['assetIds'][0]}")).json()["asset"]
        download = await client.get(asset["url"], auth=None)
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    assert threading.current_thread().name not in threads


async def test_async_transport_applies_latency_without_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("scenario_tui.sandbox.transport.asyncio.sleep", fake_sleep)
    transport = SandboxTransport(Sandbox(SandboxConfig(latency=0.7)))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, auth=("k", "s")) as client:
        assert (await client.get("/models")).status_code == 200
    assert waits == [0.7]


async def test_the_apps_client_runs_a_whole_generation_on_the_sandbox(tmp_path: Any) -> None:
    clock = FakeClock()
    transport = SandboxTransport(Sandbox(SandboxConfig(job_seconds=2), clock=clock))
    params = check(request(numSamples=2)).params
    assert params is not None
    async with ScenarioClient("key", "secret", base_url=BASE_URL, transport=transport) as client:
        usable = await client.list_models(page_size=2)
        assert SD15 in {m.id for m in usable} and all(m.usable for m in usable)
        assert (await client.quote(params)).cost == 2
        submission = await client.generate(params)
        clock.advance(2)
        job = await client.get_job(submission.job.id)
        assert job.state == "success" and len(job.asset_ids) == 2
        asset = await client.get_asset(job.asset_ids[0])
        assert asset.url is not None
        saved = await client.download(asset.url, tmp_path / "result.png")
    assert Image.open(saved).size == (SIZE, SIZE)


def test_sync_transport_applies_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("scenario_tui.sandbox.transport.time.sleep", waits.append)
    transport = SyncSandboxTransport(Sandbox(SandboxConfig(latency=0.2)))
    with httpx.Client(transport=transport, base_url=BASE_URL, auth=("k", "s")) as client:
        assert client.get("/models").status_code == 200
    assert waits == [0.2]


@pytest.fixture
def local_server() -> Iterator[ThreadingHTTPServer]:
    server = make_server(Sandbox(SandboxConfig(job_seconds=0)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_local_server_answers_real_http(local_server: ThreadingHTTPServer) -> None:
    host, port = local_server.server_address[:2]
    assert host == "127.0.0.1" and port
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", auth=("k", "s"), timeout=10) as client:
        conforms("GetModelsResponse", client.get("/models", params={"pageSize": "1"}).json())
        assert client.get("/models").headers["content-type"] == "application/json"
        assert client.get("/models", auth=None).status_code == 401
        quote = client.post(GENERATE, json=request(), params={"dryRun": "true"})
        assert quote.status_code == 269 and conforms("DryRunResponse", quote.json())
        job = conforms("PostInpaintIpAdapterInferencesResponse", client.post(GENERATE, json=request()).json())["job"]
        asset = client.get(f"/assets/{job['metadata']['assetIds'][0]}").json()["asset"]
        assert asset["url"].startswith(f"http://127.0.0.1:{port}/sandbox-cdn/")
        download = client.get(asset["url"], auth=None)
        assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
        assert client.get(asset["url"]).status_code == 400  # with the Authorization header


def test_local_server_is_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        make_server(Sandbox(), host="0.0.0.0")


def test_serve_prints_the_base_url(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", lambda self: None)
    serve(0, SandboxConfig())
    captured = capsys.readouterr()
    assert captured.out == "" and "http://127.0.0.1:" in captured.err and "/v1" in captured.err


def test_importing_the_sandbox_does_not_load_pillow() -> None:
    code = "import sys, scenario_tui.sandbox; print('PIL' in sys.modules, 'textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
