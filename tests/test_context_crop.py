"""Context crop: only the mask's box is sent, and the result is pasted back so that every pixel outside
the mask is the input's, bit for bit (checked on real sandbox results, nudged the way a real model's VAE
nudges every pixel)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw

from scenario_tui import cli
from scenario_tui.core import imaging, masks, provenance
from scenario_tui.core.engine import Draft, FileSaved, Notice, RequestProblem
from scenario_tui.core.store import RunState
from tests.test_engine import MODEL, Rig

SIZE = (320, 240)
MASK_BOX = (200, 150, 240, 180)  # x0, y0, x1, y1


class Drifting(httpx.AsyncBaseTransport):
    """Every downloaded PNG comes back with each channel's lowest bit flipped: the whole image drifts,
    inside the mask and out, as it does through a real model's VAE."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if request.method != "GET" or not body.startswith(b"\x89PNG"):
            return response
        with Image.open(io.BytesIO(body)) as im:
            drifted = im.convert("RGB").point([v ^ 1 for v in range(256)] * 3)
        out = io.BytesIO()
        drifted.save(out, "PNG")
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(response.status_code, headers=headers, content=out.getvalue())


def photo(path: Path) -> Path:
    Image.effect_noise(SIZE, 50).convert("RGB").save(path)
    return path


def mask_file(path: Path) -> Path:
    m = masks.blank(SIZE)
    ImageDraw.Draw(m).ellipse((MASK_BOX[0], MASK_BOX[1], MASK_BOX[2] - 1, MASK_BOX[3] - 1), fill=255)
    m.save(path)
    return path


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    rig = Rig(tmp_path)
    rig.transport = Drifting(rig.transport)  # type: ignore[assignment]
    rig.engine = rig.new_engine()
    rig.engine.subscribe(rig.events.append)
    return rig


def draft(rig: Rig, padding: int | None = 16, **values: Any) -> Draft:
    image = imaging.load_image(photo(rig.files / "photo.png"))
    mask = imaging.load_mask(mask_file(rig.files / "mask.png"))
    ref = imaging.load_image(photo(rig.files / "ref.png"))
    return Draft({"modelId": MODEL, "prompt": "a lamp", "numSamples": 1, "seed": "7", **values},
                 image=image, mask=mask, references=(ref,), context_crop=padding)


def decode(url: str) -> Image.Image:
    return imaging.decode_data_url(url)


async def test_only_the_box_is_sent_and_the_crop_is_recorded(rig: Rig) -> None:
    d = draft(rig)
    request = rig.engine.build(d, await rig.engine.resolve_model(MODEL))
    box = masks.context_box(d.mask.image if d.mask else masks.blank(SIZE), 16, 64)
    assert box is not None
    x0, y0, x1, y1 = box
    assert x0 <= MASK_BOX[0] - 16 and y0 <= MASK_BOX[1] - 16 and x1 >= MASK_BOX[2] + 16 and y1 >= MASK_BOX[3] + 16
    assert (request.params.width, request.params.height) == (x1 - x0, y1 - y0)
    assert (x1 - x0) % 8 == 0 and (y1 - y0) % 8 == 0
    sent = decode(request.params.image or "")
    assert sent.size == (x1 - x0, y1 - y0)
    assert ImageChops.difference(sent.convert("RGB"), d.image.image.crop(box) if d.image else sent).getbbox() is None
    assert decode(request.params.mask or "").size == (x1 - x0, y1 - y0)
    refs = request.params.ipAdapterImages or []
    assert decode(refs[0]).size == SIZE  # references are not cropped
    mask_input = next(i for i in request.inputs if i["field"] == "mask")
    assert mask_input["contextCrop"] == {"box": [x0, y0, x1 - x0, y1 - y0], "padding": 16}
    assert mask_input["pixels"] == list(SIZE) and mask_input["name"] == "mask.png"  # the whole mask's record
    assert any(s.startswith(f"context crop: {x1 - x0}×{y1 - y0} at {x0},{y0}") for s in request.settled)


async def test_a_user_size_gives_way_to_the_crop(rig: Rig) -> None:
    request = rig.engine.build(draft(rig, width=512, height=512), await rig.engine.resolve_model(MODEL))
    assert (request.params.width, request.params.height) != (512, 512)
    assert decode(request.params.image or "").size == (request.params.width, request.params.height)


async def test_the_result_is_pasted_back_and_outside_the_mask_is_bit_exact(rig: Rig) -> None:
    d = draft(rig)
    engine = rig.engine
    run = await engine.submit(engine.build(d, await engine.resolve_model(MODEL)))
    rig.finish_jobs()
    done = await engine.follow(run.id)
    assert done.state is RunState.SUCCESS and len(done.files) == 1
    saved = done.files[0]
    assert saved.suffix == ".png"
    with Image.open(saved) as im:
        result = im.convert("RGB")
    original = Image.open(rig.files / "photo.png").convert("RGB")
    assert result.size == SIZE
    changed = ImageChops.difference(result, original).convert("L").point([0] + [255] * 255)
    mask = imaging.load_mask(rig.files / "mask.png").image
    outside_changed = ImageChops.darker(changed, masks.invert(mask))
    assert outside_changed.getbbox() is None  # not one pixel outside the mask differs
    assert changed.getbbox() is not None
    cx, cy = (MASK_BOX[0] + MASK_BOX[2]) // 2, (MASK_BOX[1] + MASK_BOX[3]) // 2
    assert changed.getpixel((cx, cy)) == 255  # the middle of the mask is the generated result's
    assert not [e for e in rig.events if isinstance(e, Notice) and e.level == "warning"]
    assert [e.path for e in rig.events if isinstance(e, FileSaved)] == [saved]


async def test_the_crop_box_is_in_the_files_provenance(rig: Rig) -> None:
    engine = rig.engine
    run = await engine.submit(engine.build(draft(rig), await engine.resolve_model(MODEL)))
    rig.finish_jobs()
    done = await engine.follow(run.id)
    _, record = provenance.read(done.files[0])
    assert record is not None
    x0, y0, x1, y1 = masks.context_box(imaging.load_mask(rig.files / "mask.png").image, 16) or (0, 0, 0, 0)
    assert record["inputs"][1]["contextCrop"] == {"box": [x0, y0, x1 - x0, y1 - y0], "padding": 16}
    sidecar = json.loads((done.files[0].parent / f"{done.job_id}.json").read_text())
    assert [i for i in sidecar["inputs"] if i["field"] == "mask"][0]["contextCrop"]["padding"] == 16


async def test_a_changed_input_keeps_the_cropped_result_and_says_why(rig: Rig) -> None:
    engine = rig.engine
    run = await engine.submit(engine.build(draft(rig), await engine.resolve_model(MODEL)))
    Image.new("RGB", SIZE, (1, 2, 3)).save(rig.files / "photo.png")  # edited meanwhile
    rig.finish_jobs()
    done = await engine.follow(run.id)
    assert done.state is RunState.SUCCESS
    with Image.open(done.files[0]) as im:
        assert im.size == (done.params["width"], done.params["height"])
    warnings = [e.message for e in rig.events if isinstance(e, Notice) and e.level == "warning"]
    assert any("cropped result is saved as it came" in w and "photo.png has changed" in w for w in warnings)


async def test_a_mask_whose_box_is_the_whole_image_is_sent_whole(rig: Rig) -> None:
    d = draft(rig, padding=400)
    request = rig.engine.build(d, await rig.engine.resolve_model(MODEL))
    assert (request.params.width, request.params.height) == SIZE
    assert "context crop: the mask's box is the whole image, sent whole" in request.settled
    assert all("contextCrop" not in i for i in request.inputs)


async def test_an_input_given_by_asset_id_cannot_be_cropped(rig: Rig) -> None:
    d = draft(rig)
    by_id = Draft({**d.values, "image": "asset_abc123"}, image=None, mask=d.mask, references=d.references,
                  context_crop=16)
    with pytest.raises(RequestProblem, match="context crop needs the input image as a file"):
        rig.engine.build(by_id, await rig.engine.resolve_model(MODEL))


def test_generate_context_crop_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TUI_SANDBOX_JOB_SECONDS", "0")
    monkeypatch.setenv("SCENARIO_TUI_POLL_INTERVAL", "0.01")
    photo(tmp_path / "photo.png")
    out = tmp_path / "out"
    assert cli.main(["mask", str(tmp_path / "m.png"), "--like", str(tmp_path / "photo.png"),
                     "--ellipse", "200,150,40,30"]) == 0
    code = cli.main(["generate", "--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "m.png"),
                     "--ref", str(tmp_path / "photo.png"), "--prompt", "a lamp", "--output-dir", str(out),
                     "--context-crop", "--crop-padding", "8", "--json"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "context crop: " in stderr and "references are not cropped" in stderr
    files = json.loads(stdout.strip().splitlines()[-1])["files"]
    with Image.open(files[0]) as im:
        result = im.convert("RGB")
    original = Image.open(tmp_path / "photo.png").convert("RGB")
    mask = imaging.load_mask(tmp_path / "m.png").image
    changed = ImageChops.difference(result, original).convert("L").point([0] + [255] * 255)
    assert ImageChops.darker(changed, masks.invert(mask)).getbbox() is None


def test_bad_crop_padding_exits_2_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["generate", "--crop-padding", "-4"])
    assert exc.value.code == 2 and "argument --crop-padding" in capsys.readouterr().err



async def test_a_resumed_run_is_pasted_back_from_what_the_run_recorded(rig: Rig) -> None:
    engine = rig.engine
    run = await engine.submit(engine.build(draft(rig), await engine.resolve_model(MODEL)))
    rig.finish_jobs()
    relaunched = rig.new_engine()  # another process: only the store and the files are left
    [done] = await relaunched.resume()
    assert done.state is RunState.SUCCESS and done.id == run.id
    with Image.open(done.files[0]) as im:
        result = im.convert("RGB")
    original = Image.open(rig.files / "photo.png").convert("RGB")
    changed = ImageChops.difference(result, original).convert("L").point([0] + [255] * 255)
    assert result.size == SIZE and changed.getbbox() is not None
    assert ImageChops.darker(changed, masks.invert(imaging.load_mask(rig.files / "mask.png").image)).getbbox() is None
