"""Provenance in result files: A1111 ``parameters`` text, the JSON record, and PNG chunk splicing."""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from scenario_tui.core import provenance
from scenario_tui.core.params import PARAM_INFO
from scenario_tui.core.provenance import a1111_parameters, embed, read

# What AUTOMATIC1111's own parse_generation_parameters matches on the last line.
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def parse(text: str) -> tuple[str, str | None, dict[str, str]]:
    """Prompt, negative prompt and settings, read the way sd-prompt-reader and civitai do."""
    *lines, last = text.strip().split("\n")
    assert last.startswith("Steps: ")
    pairs = [item.split(": ", 1) for item in last.split(", ")]
    assert all(len(p) == 2 for p in pairs), last
    settings = dict(pairs)
    assert len(settings) == len(pairs), "duplicate keys"
    assert dict(A1111_PARAM.findall(last)) == settings  # A1111's regex agrees
    prompt, negative = [], None
    for line in lines:
        if line.startswith("Negative prompt: "):
            negative = line.removeprefix("Negative prompt: ")
        elif negative is not None:
            negative += "\n" + line
        else:
            prompt.append(line)
    return "\n".join(prompt), negative, settings


FULL_BODY: dict[str, Any] = {
    "modelId": "model_abc",
    "prompt": "a castle, at dusk: golden light\nsecond line, with: colons",
    "negativePrompt": "blurry, low quality",
    "numInferenceSteps": 28,
    "scheduler": "EulerDiscreteScheduler",
    "guidance": 7.5,
    "strength": 0.6,
    "ipAdapterType": "character",
    "ipAdapterScales": [0.8, 0.55],
    "numSamples": 4,
    "concepts": [{"modelId": "lora_1", "scale": 0.8}, {"modelId": "lora_2", "scale": -0.5, "modelEpoch": "000010"}],
    "negativePromptStrength": 2.0,
    "baseModelId": "flux_base",
    "modelEpoch": "000005",
}


def test_full_body_round_trips_through_an_a1111_parser() -> None:
    text = a1111_parameters(FULL_BODY, seed="12345", model_name="My Model", width=1024, height=768)
    prompt, negative, settings = parse(text)
    assert prompt == FULL_BODY["prompt"]
    assert negative == "blurry, low quality"
    assert settings == {
        "Steps": "28",
        "Sampler": "EulerDiscreteScheduler",
        "CFG scale": "7.5",
        "Seed": "12345",
        "Size": "1024x768",
        "Denoising strength": "0.6",
        "Model": "My Model",
        "Model id": "model_abc",
        "Base model id": "flux_base",
        "Model epoch": "000005",
        "IP-Adapter": "character",
        "IP-Adapter scales": "0.8 0.55",
        "Lora": "lora_1 0.8 lora_2@000010 -0.5",
        "Negative prompt strength": "2",
    }
    assert list(settings)[0] == "Steps"


def test_minimal_body_shows_api_defaults_and_omits_what_is_unset() -> None:
    body = {"modelId": "m1", "prompt": "a cat", "ipAdapterImages": ["<png data URL, 3 KiB>"] * 2}
    text = a1111_parameters(body, seed=None, model_name=None, width=None, height=None)
    prompt, negative, settings = parse(text)
    assert (prompt, negative) == ("a cat", None)
    assert "Negative prompt" not in text and "None" not in text
    scale = PARAM_INFO["ipAdapterScales"].shown_default
    assert settings == {
        "Steps": str(PARAM_INFO["numInferenceSteps"].shown_default),
        "Denoising strength": str(PARAM_INFO["strength"].shown_default),
        "Model": "m1",
        "Model id": "m1",
        "IP-Adapter": PARAM_INFO["ipAdapterType"].shown_default,
        "IP-Adapter scales": f"{scale} {scale}",
    }


@pytest.mark.parametrize("negative", [None, ""])
def test_empty_negative_prompt_gives_no_line(negative: str | None) -> None:
    text = a1111_parameters({"modelId": "m", "prompt": "p", "negativePrompt": negative},
                            seed="1", model_name=None, width=8, height=8)
    assert len(text.split("\n")) == 2 and parse(text)[1] is None


def test_multi_line_negative_prompt_round_trips() -> None:
    body = {"modelId": "m", "prompt": "p", "negativePrompt": "bad, hands\nextra: fingers"}
    assert parse(a1111_parameters(body, seed="1", model_name=None, width=8, height=8))[1] == body["negativePrompt"]


def test_hostile_values_cannot_forge_or_break_keys() -> None:
    body = {
        "modelId": "id, Seed: 99",
        "prompt": "p",
        "scheduler": "Euler, Seed: 1",
        "ipAdapterType": 'style"\nSteps: 3',
        "concepts": [{"modelId": "x, Size: 1x1", "scale": 1, "modelEpoch": "e:1"}],
    }
    text = a1111_parameters(body, seed="7, CFG scale: 30", model_name='Evil: "name", Steps: 150\r\nx',
                            width=64, height=64)
    _, _, settings = parse(text)
    assert settings["Seed"] == "7 CFG scale 30"
    assert settings["Sampler"] == "Euler Seed 1"
    assert settings["Model"] == "Evil name Steps 150 x"
    assert settings["Model id"] == "id Seed 99"
    assert settings["IP-Adapter"] == "style Steps 3"
    assert settings["Lora"] == "x Size 1x1@e 1 1"
    assert settings["Steps"] == "30" and settings["Size"] == "64x64"
    assert "CFG scale" not in settings
    assert len(text.split("\n")) == 2


def test_a_value_that_cleans_to_nothing_is_omitted() -> None:
    text = a1111_parameters({"modelId": "m", "prompt": "p", "scheduler": ", : ,"},
                            seed=None, model_name=" ,\n", width=None, height=None)
    settings = parse(text)[2]
    assert "Sampler" not in settings and settings["Model"] == "m"


# --- PNG files ------------------------------------------------------------------------------------

PARAMS = "a castle, at dusk\nNegative prompt: fog\nSteps: 30, Seed: 1, Model: m"
RECORD: dict[str, Any] = {"modelId": "m", "prompt": "château ☃ 城", "ipAdapterScales": [0.9], "n": None}


def chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checking each CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(ctype + body)
        out.append((ctype, body))
        pos += 12 + length
    return out


def keyword_count(path: Path, keyword: bytes) -> int:
    return sum(1 for t, d in chunks(path) if t in (b"tEXt", b"zTXt", b"iTXt") and d.split(b"\0")[0] == keyword)


def make_png(path: Path, mode: str = "RGB", size: tuple[int, int] = (96, 64), **save: Any) -> Path:
    n = len(Image.new(mode, (1, 1)).tobytes())
    Image.frombytes(mode, size, os.urandom(size[0] * size[1] * n)).save(path, **save)
    return path


@pytest.fixture
def png(tmp_path: Path) -> Path:
    return make_png(tmp_path / "result.png")


def assert_no_temp_files(folder: Path, *expected: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16", "1"])
def test_embed_keeps_pixels_bit_exact(tmp_path: Path, mode: str) -> None:
    path = make_png(tmp_path / "r.png", mode)
    with Image.open(path) as before:
        expected = (before.mode, before.size, before.tobytes(), before.getpalette())
    assert embed(path, parameters=PARAMS, record=RECORD) is True
    with Image.open(path) as after:
        assert (after.mode, after.size, after.tobytes(), after.getpalette()) == expected
    assert_no_temp_files(tmp_path, "r.png")


def test_embed_copies_every_other_chunk_byte_for_byte(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "elsewhere")
    path = make_png(tmp_path / "r.png", "RGB", optimize=False, pnginfo=info, dpi=(72, 72))
    before = chunks(path)
    embed(path, parameters=PARAMS, record=RECORD)
    after = chunks(path)
    ours = [c for c in after if c[1].split(b"\0")[0] in (b"parameters", b"scenario-tui")]
    assert [c for c in after if c not in ours] == before
    first_idat = next(i for i, c in enumerate(after) if c[0] == b"IDAT")
    assert all(after.index(c) < first_idat for c in ours)  # before the pixels: visible in Image.info


def test_pillow_sees_both_keys(png: Path) -> None:
    embed(png, parameters=PARAMS, record=RECORD)
    with Image.open(png) as im:
        assert im.info["parameters"] == PARAMS  # without decoding the pixels, as sd-prompt-reader reads it
        assert json.loads(im.info["scenario-tui"]) == RECORD
        assert isinstance(im, PngImagePlugin.PngImageFile)
        assert im.text["parameters"] == PARAMS


def test_read_round_trips_text_and_non_ascii_json(png: Path) -> None:
    embed(png, parameters=PARAMS, record=RECORD)
    assert read(png) == (PARAMS, RECORD)


def test_latin1_parameters_use_text_and_others_itxt(tmp_path: Path) -> None:
    latin, other = make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png")
    embed(latin, parameters="café\nSteps: 30", record={})
    embed(other, parameters="城 ☃\nSteps: 30", record={})
    kinds = {p.name: [t for t, d in chunks(p) if d.startswith(b"parameters\0")] for p in (latin, other)}
    assert kinds == {"a.png": [b"tEXt"], "b.png": [b"iTXt"]}
    assert read(latin)[0] == "café\nSteps: 30" and read(other)[0] == "城 ☃\nSteps: 30"
    assert [t for t, d in chunks(other) if d.startswith(b"scenario-tui\0")] == [b"iTXt"]


def test_embedding_twice_replaces_rather_than_duplicates(png: Path) -> None:
    embed(png, parameters="first\nSteps: 1", record={"v": 1})
    embed(png, parameters="second ☃\nSteps: 2", record={"v": 2})
    assert keyword_count(png, b"parameters") == 1 and keyword_count(png, b"scenario-tui") == 1
    assert read(png) == ("second ☃\nSteps: 2", {"v": 2})


def test_existing_chunks_from_other_writers_are_replaced(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "old", zip=True)
    info.add_itxt("scenario-tui", '{"old": true}', zip=True)
    info.add_text("Comment", "kept")
    path = make_png(tmp_path / "r.png", pnginfo=info)
    assert read(path) == ("old", {"old": True})  # compressed chunks are read too
    embed(path, parameters=PARAMS, record=RECORD)
    assert keyword_count(path, b"parameters") == 1 and keyword_count(path, b"scenario-tui") == 1
    with Image.open(path) as im:
        assert im.info["Comment"] == "kept"
    assert read(path) == (PARAMS, RECORD)


def test_embed_keeps_file_permissions(png: Path) -> None:
    png.chmod(0o640)
    embed(png, parameters=PARAMS, record=RECORD)
    assert png.stat().st_mode & 0o777 == 0o640


def test_bytes_after_iend_are_kept(png: Path) -> None:
    png.write_bytes(png.read_bytes() + b"trailing")
    embed(png, parameters=PARAMS, record=RECORD)
    assert png.read_bytes().endswith(b"IEND\xaeB`\x82trailing")


def _truncated(data: bytes) -> bytes:
    return data[:len(data) // 2]


def _no_iend(data: bytes) -> bytes:
    return data[:-12]


def _huge_length(data: bytes) -> bytes:
    return data[:8] + struct.pack(">I", 2**31) + data[12:]


@pytest.mark.parametrize("damage", [_truncated, _no_iend, _huge_length])
def test_a_broken_png_raises_and_is_untouched(png: Path, damage: Any) -> None:
    png.write_bytes(damage(png.read_bytes()))
    before = png.read_bytes()
    with pytest.raises(ValueError, match="truncated PNG"):
        embed(png, parameters=PARAMS, record=RECORD)
    with pytest.raises(ValueError, match="truncated PNG"):
        read(png)
    assert png.read_bytes() == before
    assert_no_temp_files(png.parent, png.name)


@pytest.mark.parametrize("content", [b"", b"hello, not an image", b"GIF89a\x01\x00\x01\x00"])
def test_a_file_that_is_not_a_png_raises_and_is_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "r.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a PNG"):
        embed(path, parameters=PARAMS, record=RECORD)
    assert path.read_bytes() == content
    assert read(path) == (None, None)
    assert_no_temp_files(tmp_path, "r.png")


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_jpeg_and_webp_are_left_alone(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"r.{fmt.lower()}"
    Image.new("RGB", (16, 16), "red").save(path, fmt)
    before = path.read_bytes()
    assert embed(path, parameters=PARAMS, record=RECORD) is False
    assert path.read_bytes() == before
    assert read(path) == (None, None)
    assert_no_temp_files(tmp_path, path.name)


def test_a_failed_write_removes_the_temp_file(png: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = png.read_bytes()

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(provenance.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        embed(png, parameters=PARAMS, record=RECORD)
    assert png.read_bytes() == before
    assert_no_temp_files(png.parent, png.name)


def test_unserialisable_record_raises_before_touching_the_file(png: Path) -> None:
    before = png.read_bytes()
    with pytest.raises(TypeError):
        embed(png, parameters=PARAMS, record={"path": Path("x")})
    assert png.read_bytes() == before
    assert_no_temp_files(png.parent, png.name)


def test_read_of_a_png_without_provenance(png: Path) -> None:
    assert read(png) == (None, None)


@pytest.mark.parametrize("record_text", ["not json {", "[1, 2]", '"just a string"'])
def test_a_record_that_is_not_a_json_object_reads_as_none(tmp_path: Path, record_text: str) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "p")
    info.add_itxt("scenario-tui", record_text)
    assert read(make_png(tmp_path / "r.png", pnginfo=info)) == ("p", None)


def test_oversized_text_is_refused_on_write_and_skipped_on_read(tmp_path: Path) -> None:
    path = make_png(tmp_path / "r.png", size=(8, 8))
    big = "x" * (provenance.MAX_TEXT_BYTES + 1)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="MiB"):
        embed(path, parameters=big, record={})
    assert path.read_bytes() == before
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", big)
    info.add_itxt("scenario-tui", json.dumps({"pad": big}), zip=True)  # small on disk, too big inflated
    PngImagePlugin.MAX_TEXT_CHUNK, saved = 2 * provenance.MAX_TEXT_BYTES, PngImagePlugin.MAX_TEXT_CHUNK
    try:
        make_png(path, size=(8, 8), pnginfo=info)
    finally:
        PngImagePlugin.MAX_TEXT_CHUNK = saved
    assert read(path) == (None, None)


def test_embedding_real_parameters_end_to_end(png: Path) -> None:
    text = a1111_parameters(FULL_BODY, seed="42", model_name="My Model", width=96, height=64)
    embed(png, parameters=text, record=FULL_BODY)
    with Image.open(png) as im:
        prompt, negative, settings = parse(im.info["parameters"])
    assert (prompt, negative, settings["Seed"], settings["Size"]) == (FULL_BODY["prompt"], "blurry, low quality",
                                                                      "42", "96x64")
    assert read(png)[1] == FULL_BODY
