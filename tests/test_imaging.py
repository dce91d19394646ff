"""Tests for scenario_tui.core.imaging; every fixture image is generated with Pillow in tmp_path."""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from scenario_tui.core import imaging
from scenario_tui.core.imaging import (
    EncodedInputs,
    ImageProblem,
    LoadedImage,
    LoadedMask,
    MaskSizeMismatch,
    contact_sheet,
    decode_data_url,
    describe,
    encode_data_url,
    encode_inputs,
    load_image,
    load_mask,
    mask_overlay,
    resize_mask,
    sniff_mime,
    suggest_size,
    thumbnail,
)

# --- helpers ---------------------------------------------------------------------------------


def save(im: Image.Image, path: Path, **params: object) -> Path:
    im.save(path, **params)
    return path


def problem_text(exc: pytest.ExceptionInfo[ImageProblem], name: str) -> str:
    """The message, checked to be one line that starts with the file's base name."""
    text = str(exc.value)
    assert "\n" not in text and "\r" not in text
    assert text.startswith(f"{name}: "), text
    return text


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming width×height with a tiny, useless IDAT (never decoded when refused early)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + png_chunk(b"IEND", b"")
    )


def noisy(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Photo-like content: PNG compresses it badly, JPEG well."""
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    return Image.blend(base, Image.effect_noise(size, 40 + seed).convert("RGB"), 0.35)


def url_bytes(url: str) -> bytes:
    header, _, payload = url.partition(",")
    assert header.startswith("data:") and header.endswith(";base64")
    return base64.b64decode(payload)


def url_mime(url: str) -> str:
    return url[5:].split(";", 1)[0]


def binary_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


@pytest.fixture
def rgb_png(tmp_path: Path) -> Path:
    im = Image.new("RGB", (40, 30), (10, 120, 200))
    ImageDraw.Draw(im).rectangle((5, 5, 20, 20), fill=(250, 10, 10))
    return save(im, tmp_path / "photo.png")


@pytest.fixture
def mask_png(tmp_path: Path) -> Path:
    """40×30 L mask; the left 12 columns are white: coverage 30 %."""
    return save(binary_mask((40, 30), (0, 0, 11, 29)), tmp_path / "mask.png")


# --- load_image: files that can't be used ----------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageProblem) as exc:
        load_image(tmp_path / "x.png")
    assert problem_text(exc, "x.png") == "x.png: no such file"
    assert exc.value.path == tmp_path / "x.png"


def test_missing_parent_is_no_such_file(tmp_path: Path, rgb_png: Path) -> None:
    with pytest.raises(ImageProblem) as exc:
        load_image(rgb_png / "inside.png")  # a file used as a directory: NotADirectoryError
    assert problem_text(exc, "inside.png") == "inside.png: no such file"


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "shots.png"
    folder.mkdir()
    with pytest.raises(ImageProblem) as exc:
        load_image(folder)
    assert problem_text(exc, "shots.png").endswith("is a directory, not a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unreadable(rgb_png: Path) -> None:
    rgb_png.chmod(0)
    try:
        with pytest.raises(ImageProblem) as exc:
            load_image(rgb_png)
    finally:
        rgb_png.chmod(0o644)
    assert problem_text(exc, "photo.png").endswith("can't be read (permission denied)")


def test_permission_error_on_open_is_reported(monkeypatch: pytest.MonkeyPatch, rgb_png: Path) -> None:
    """Runs as root too: the module's open() is replaced by one that is refused."""

    def refused(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imaging, "open", refused, raising=False)
    with pytest.raises(ImageProblem) as exc:
        load_image(rgb_png)
    assert problem_text(exc, "photo.png") == "photo.png: can't be read (permission denied)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageProblem) as exc:
        load_image(fifo)
    assert problem_text(exc, "pipe.png").endswith("is not a regular file")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageProblem) as exc:
        load_image(empty)
    assert problem_text(exc, "empty.png").endswith("the file is empty")


def test_not_an_image(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello, this is not a picture\n" * 20)
    with pytest.raises(ImageProblem) as exc:
        load_image(text)
    assert problem_text(exc, "notes.png").endswith("not an image Pillow can read")


def test_truncated_png(tmp_path: Path) -> None:
    data = (save(noisy((64, 64)), tmp_path / "full.png")).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageProblem) as exc:
        load_image(cut)
    assert problem_text(exc, "cut.png").endswith("the image data is truncated or corrupt")


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = save(noisy((64, 64)), tmp_path / "full.jpg", quality=90).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageProblem) as exc:
        load_image(cut)
    assert problem_text(exc, "cut.jpg").endswith("the image data is truncated or corrupt")


def test_bomb_over_our_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(imaging, "MAX_PIXELS", 10_000)
    path = save(Image.new("RGB", (200, 100)), tmp_path / "wide.png")
    with pytest.raises(ImageProblem) as exc:
        load_image(path)
    assert problem_text(exc, "wide.png") == "wide.png: 200×100 is 0.02 MP, over the 0.01 MP limit"


def test_bomb_pillow_refuses_header(tmp_path: Path) -> None:
    """30000×30000 trips Pillow's own DecompressionBombError inside Image.open."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(30000, 30000))
    with pytest.raises(ImageProblem) as exc:
        load_image(path)
    assert problem_text(exc, "bomb.png") == "bomb.png: 30000×30000 is 900 MP, over the 64 MP limit"


def test_bomb_pillow_refuses_gif(tmp_path: Path) -> None:
    """Not a PNG: the size comes from Pillow's message, so no dimensions, only megapixels."""
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", 30000, 30000)  # logical screen size
    path = tmp_path / "bomb.gif"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageProblem) as exc:
        load_image(path)
    assert problem_text(exc, "bomb.gif") == "bomb.gif: the image is 900 MP, over the 64 MP limit"


def test_bomb_between_limits_warns_nothing(tmp_path: Path) -> None:
    """Over Pillow's warning threshold (~89 MP) but under its error threshold: our own refusal."""
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(10000, 9000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageProblem) as exc:
            load_image(path)
    assert problem_text(exc, "big.png") == "big.png: 10000×9000 is 90 MP, over the 64 MP limit"


def test_file_name_with_newline_stays_one_line(tmp_path: Path) -> None:
    with pytest.raises(ImageProblem) as exc:
        load_image(tmp_path / "two\nlines.png")
    assert "\n" not in str(exc.value)
    assert str(exc.value) == "two lines.png: no such file"


def test_no_file_handles_leak(tmp_path: Path, rgb_png: Path, mask_png: Path) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc")
    cut = tmp_path / "cut.png"
    cut.write_bytes(rgb_png.read_bytes()[:60])
    before = len(list(fd_dir.iterdir()))
    for _ in range(5):
        load_image(rgb_png)
        load_mask(mask_png)
        with pytest.raises(ImageProblem):
            load_image(cut)
    assert len(list(fd_dir.iterdir())) == before


# --- load_image: conversions -----------------------------------------------------------------


def test_plain_rgb_png(rgb_png: Path) -> None:
    loaded = load_image(rgb_png)
    assert isinstance(loaded, LoadedImage)
    assert (loaded.size, loaded.image.mode, loaded.source_format, loaded.source_mode) == (
        (40, 30),
        "RGB",
        "PNG",
        "RGB",
    )
    assert loaded.notes == ()
    assert loaded.file_size == rgb_png.stat().st_size
    assert loaded.image.getpixel((10, 10)) == (250, 10, 10)


def test_loaded_image_is_independent_of_the_file(rgb_png: Path) -> None:
    loaded = load_image(rgb_png)
    rgb_png.unlink()
    assert loaded.image.copy().getpixel((0, 0)) == (10, 120, 200)


def _images_made() -> int:
    """How many images Pillow has made in this process (each decode, copy or conversion is one)."""
    return int(Image.core.get_stats()["new_count"])


def test_an_rgb_file_is_decoded_once_and_not_copied(rgb_png: Path) -> None:
    before = _images_made()
    loaded = load_image(rgb_png)
    assert _images_made() - before == 1  # a copy would hold the file's pixels twice while loading
    assert type(loaded.image) is Image.Image  # not the file's PngImageFile, with its reader


def test_a_download_is_checked_by_decoding_it_once(tmp_path: Path, rgb_png: Path) -> None:
    before = _images_made()
    assert imaging.check_decodes(rgb_png) == load_image(rgb_png).size
    assert _images_made() - before == 2  # one for the check (no converted copy), one for load_image
    cut = tmp_path / "cut.png"
    cut.write_bytes(rgb_png.read_bytes()[:-40])
    with pytest.raises(ImageProblem, match="cut.png: the image data is truncated or corrupt"):
        imaging.check_decodes(cut)


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    loaded = load_image(path)
    assert loaded.source_format == "GIF"
    assert loaded.image.mode == "RGB"
    assert "used the first of 3 frames" in loaded.notes
    assert loaded.image.getpixel((8, 8)) == (255, 0, 0)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "print.jpg", quality=95)
    loaded = load_image(path)
    assert (loaded.source_mode, loaded.image.mode) == ("CMYK", "RGB")
    assert "converted from CMYK to RGB" in loaded.notes
    r, g, b = loaded.image.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60


def test_16bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    deep = Image.new("I;16", (8, 8), 40000)
    deep.paste(Image.new("I;16", (4, 8), 0), (4, 0))  # right half black
    path = save(deep, tmp_path / "depth.png")
    loaded = load_image(path)
    assert loaded.source_mode == "I;16"
    assert loaded.image.mode == "RGB"
    assert loaded.notes == ("converted 16-bit greyscale (I;16) to 8-bit RGB",)
    assert loaded.image.getpixel((1, 1)) == (155, 155, 155)  # 40000 / 65535 * 255
    assert loaded.image.getpixel((6, 1)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("mode", "values", "expected", "depth"),
    [
        ("F", (0.0, 0.5, 1.0), (0, 127, 255), "floating-point"),
        ("F", (-1.0, 0.0, 1.0), (0, 127, 255), "floating-point"),
        ("I", (0, 100, 200), (0, 100, 200), "32-bit"),
        ("I", (0, 32768, 65535), (0, 127, 255), "32-bit"),
        ("I", (0, 50000, 100000), (0, 127, 255), "32-bit"),
    ],
)
def test_deep_tiff_is_scaled_to_8_bit(
    tmp_path: Path, mode: str, values: tuple[float, ...], expected: tuple[int, ...], depth: str
) -> None:
    im = Image.new(mode, (3, 1))
    for x, value in enumerate(values):
        im.putpixel((x, 0), value)
    loaded = load_image(save(im, tmp_path / "deep.tif"))
    assert loaded.notes == (f"converted {depth} greyscale ({mode}) to 8-bit RGB",)
    assert tuple(loaded.image.getpixel((x, 0))[0] for x in range(3)) == pytest.approx(expected, abs=1)


def test_palette_png_with_transparency_is_flattened(tmp_path: Path) -> None:
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 4, 8))
    path = save(pal, tmp_path / "sprite.png", transparency=0)
    loaded = load_image(path)
    assert loaded.source_mode == "P"
    assert loaded.notes == ("converted from palette (P) to RGB", "alpha channel flattened onto white")
    assert loaded.image.getpixel((1, 1)) == (200, 0, 0)
    assert loaded.image.getpixel((6, 1)) == (255, 255, 255)


def test_palette_png_without_transparency(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (8, 8), (0, 128, 0)).convert("P"), tmp_path / "flat.png")
    loaded = load_image(path)
    assert loaded.notes == ("converted from palette (P) to RGB",)
    assert loaded.image.mode == "RGB"


def test_rgba_is_flattened_onto_white(tmp_path: Path) -> None:
    im = Image.new("RGBA", (8, 8), (0, 0, 255, 0))
    im.paste((0, 0, 255, 255), (0, 0, 4, 8))
    im.paste((0, 0, 0, 128), (4, 0, 8, 4))
    loaded = load_image(save(im, tmp_path / "cutout.png"))
    assert loaded.source_mode == "RGBA"
    assert loaded.notes == ("alpha channel flattened onto white",)
    assert loaded.image.getpixel((1, 6)) == (0, 0, 255)
    assert loaded.image.getpixel((6, 6)) == (255, 255, 255)
    assert loaded.image.getpixel((6, 1)) in {(127, 127, 127), (126, 126, 126)}


def test_opaque_rgba_needs_no_note(tmp_path: Path) -> None:
    loaded = load_image(save(Image.new("RGBA", (8, 8), (9, 8, 7, 255)), tmp_path / "opaque.png"))
    assert loaded.notes == ()
    assert loaded.image.mode == "RGB"
    assert loaded.image.getpixel((0, 0)) == (9, 8, 7)


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_greyscale_becomes_rgb(tmp_path: Path, mode: str) -> None:
    loaded = load_image(save(Image.new(mode, (8, 8), 255 if mode != "LA" else (255, 255)), tmp_path / "g.png"))
    assert loaded.image.mode == "RGB"
    assert loaded.source_mode == mode
    assert loaded.notes and loaded.notes[0].startswith("converted from")
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 10, 20))  # left edge white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    loaded = load_image(save(im, tmp_path / "phone.jpg", exif=exif, quality=95))
    assert loaded.size == (20, 40)
    assert "rotated to match its EXIF orientation" in loaded.notes
    assert loaded.image.getpixel((10, 2))[0] > 200  # the white edge is now at the top


def test_describe(rgb_png: Path) -> None:
    loaded = load_image(rgb_png)
    size = rgb_png.stat().st_size
    assert describe(loaded) == f"40×30 RGB PNG, {size} B"


def test_describe_megabytes() -> None:
    loaded = LoadedImage(None, Image.new("RGB", (1024, 768)), "PNG", "RGBA", 1_234_567, ())
    assert describe(loaded) == "1024×768 RGBA PNG, 1.2 MB"


# --- masks -----------------------------------------------------------------------------------


def test_black_and_white_mask(mask_png: Path) -> None:
    mask = load_mask(mask_png, (40, 30))
    assert isinstance(mask, LoadedMask)
    assert mask.image.mode == "L"
    assert mask.coverage == pytest.approx(30.0)
    assert mask.notes == ()
    assert set(mask.image.tobytes()) == {0, 255}


def test_rgb_mask_is_converted(tmp_path: Path) -> None:
    path = save(binary_mask((10, 10), (0, 0, 4, 9)).convert("RGB"), tmp_path / "rgbmask.png")
    mask = load_mask(path)
    assert mask.image.mode == "L"
    assert mask.coverage == pytest.approx(50.0)
    assert mask.notes == ()


def test_grey_mask_is_thresholded_at_128(tmp_path: Path) -> None:
    im = Image.new("L", (4, 1))
    im.putdata([0, 127, 128, 255])
    mask = load_mask(save(im, tmp_path / "soft.png"))
    assert list(mask.image.tobytes()) == [0, 0, 255, 255]
    assert mask.coverage == pytest.approx(50.0)
    assert "thresholded grey values at 128" in mask.notes


def test_alpha_mask_transparent_means_repaint(tmp_path: Path) -> None:
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 10, 3))  # top 3 rows transparent
    mask = load_mask(save(im, tmp_path / "alpha.png"))
    assert mask.notes == ("used the alpha channel: transparent = repaint",)
    assert mask.coverage == pytest.approx(30.0)
    assert mask.image.getpixel((5, 1)) == 255
    assert mask.image.getpixel((5, 8)) == 0


def test_partly_transparent_alpha_mask_is_thresholded(tmp_path: Path) -> None:
    im = Image.new("LA", (4, 1))
    im.putdata([(0, 0), (0, 127), (0, 128), (0, 255)])
    mask = load_mask(save(im, tmp_path / "fuzzy.png"))
    assert list(mask.image.tobytes()) == [255, 255, 0, 0]
    assert "thresholded partly transparent pixels at 50 %" in mask.notes


def test_opaque_rgba_mask_uses_luminance(tmp_path: Path) -> None:
    im = binary_mask((10, 10), (0, 0, 1, 9)).convert("RGBA")
    mask = load_mask(save(im, tmp_path / "opaque.png"))
    assert mask.notes == ()
    assert mask.coverage == pytest.approx(20.0)


def test_all_black_mask_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageProblem) as exc:
        load_mask(save(Image.new("L", (8, 8), 0), tmp_path / "black.png"))
    assert problem_text(exc, "black.png") == "black.png: mask is all black: nothing to repaint"


def test_all_white_mask_is_noted(tmp_path: Path) -> None:
    mask = load_mask(save(Image.new("1", (8, 8), 1), tmp_path / "white.png"))
    assert mask.coverage == 100.0
    assert mask.notes == ("mask covers the whole image",)


def test_mask_bad_file_uses_same_messages(tmp_path: Path) -> None:
    with pytest.raises(ImageProblem) as exc:
        load_mask(tmp_path / "gone.png")
    assert problem_text(exc, "gone.png") == "gone.png: no such file"


def test_mask_size_mismatch_then_resize(tmp_path: Path) -> None:
    path = save(binary_mask((20, 10), (0, 0, 9, 9)), tmp_path / "small.png")
    with pytest.raises(MaskSizeMismatch) as exc:
        load_mask(path, (40, 30))
    text = problem_text(exc, "small.png")
    assert "20×10" in text and "40×30" in text and "resize" in text
    assert exc.value.mask_size == (20, 10)
    assert exc.value.image_size == (40, 30)

    resized = resize_mask(load_mask(path), (40, 30))
    assert resized.image.size == (40, 30)
    assert set(resized.image.tobytes()) == {0, 255}
    assert resized.coverage == pytest.approx(50.0)
    assert resized.notes == ("resized from 20×10 to 40×30",)
    assert exc.value.mask is not None
    assert resize_mask(exc.value.mask, (40, 30)).image.tobytes() == resized.image.tobytes()


def test_mask_size_mismatch_built_by_callers() -> None:
    exc = MaskSizeMismatch(Path("/x/m.png"), (20, 10), (40, 40))
    assert str(exc) == (
        "m.png: the mask is 20×10 but the image is 40×40; resize the mask to 40×40? (this stretches it)"
    )
    assert (exc.path, exc.mask_size, exc.image_size) == (Path("/x/m.png"), (20, 10), (40, 40))
    assert exc.mask is None
    assert isinstance(exc, ImageProblem)


def test_resize_mask_same_size_is_a_no_op(mask_png: Path) -> None:
    mask = load_mask(mask_png)
    assert resize_mask(mask, (40, 30)) is mask


def test_resize_mask_that_vanishes_is_refused(tmp_path: Path) -> None:
    im = Image.new("L", (100, 100), 0)
    im.putpixel((1, 1), 255)
    mask = load_mask(save(im, tmp_path / "speck.png"))
    with pytest.raises(ImageProblem) as exc:
        resize_mask(mask, (10, 10))
    assert "all black" in problem_text(exc, "speck.png")


# --- suggest_size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1000, 750), (1000, 752)),
        ((4000, 1000), (2048, 512)),
        ((30, 30), (64, 64)),
        ((512, 512), (512, 512)),
        ((1920, 1080), (1920, 1080)),
        ((3000, 10), (2048, 64)),
        ((50, 2000), (64, 2048)),
    ],
)
def test_suggest_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert suggest_size(*size) == expected


def test_suggest_size_custom_range() -> None:
    assert suggest_size(4000, 3000, lo=512, hi=1024) == (1024, 768)
    assert suggest_size(100, 200, lo=512, hi=1024) == (512, 1024)


@pytest.mark.parametrize("width", [1, 7, 63, 333, 1001, 2049, 5000])
@pytest.mark.parametrize("height", [9, 64, 500, 2048, 7777])
def test_suggest_size_invariants(width: int, height: int) -> None:
    w, h = suggest_size(width, height)
    assert w % 8 == 0 and h % 8 == 0
    assert 64 <= w <= 2048 and 64 <= h <= 2048
    if 64 <= min(width, height) * 2048 / max(width, height):  # aspect ratio fits the range
        assert w / h == pytest.approx(width / height, rel=0.15)


@pytest.mark.parametrize("args", [(0, 10), (10, -1), (10, 10, 100, 90)])
def test_suggest_size_rejects_nonsense(args: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        suggest_size(*args)


# --- data URLs -------------------------------------------------------------------------------


def test_data_url_round_trip(rgb_png: Path) -> None:
    data = rgb_png.read_bytes()
    url = encode_data_url(data, "image/png")
    assert url.startswith("data:image/png;base64,")
    assert url_bytes(url) == data
    decoded = decode_data_url(url)
    assert decoded.size == (40, 30)
    assert decoded.tobytes() == Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_decode_data_url_tolerates_whitespace_and_missing_padding(rgb_png: Path) -> None:
    payload = base64.b64encode(rgb_png.read_bytes()).decode().rstrip("=")
    wrapped = "\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
    assert decode_data_url(f"data:image/png;base64,{wrapped}").size == (40, 30)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://example.com/x.png", "not a data URL"),
        ("data:image/png;base64", "no ','"),
        ("data:image/png,abc", "not base64"),
        ("data:image/png;base64,@@@@", "bad base64"),
        ("data:image/png;base64,", "empty"),
        ("data:image/png;base64," + base64.b64encode(b"plain text here").decode(), "not an image"),
    ],
)
def test_decode_data_url_errors(url: str, reason: str) -> None:
    with pytest.raises(ImageProblem) as exc:
        decode_data_url(url)
    assert "\n" not in str(exc.value)
    assert reason in str(exc.value)
    assert exc.value.path is None


def test_decode_data_url_truncated(tmp_path: Path) -> None:
    data = save(noisy((32, 32)), tmp_path / "n.png").read_bytes()
    with pytest.raises(ImageProblem, match="truncated or corrupt"):
        decode_data_url(encode_data_url(data[: len(data) // 2], "image/png"))


def test_decode_data_url_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imaging, "MAX_PIXELS", 100)
    buf = io.BytesIO()
    Image.new("L", (20, 20)).save(buf, "PNG")
    with pytest.raises(ImageProblem, match=r"20×20 is 0.0004 MP, over the 0.0001 MP limit"):
        decode_data_url(encode_data_url(buf.getvalue(), "image/png"))


def test_sniff_mime() -> None:
    def encoded(fmt: str) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, fmt)
        return buf.getvalue()

    assert sniff_mime(encoded("PNG")) == "image/png"
    assert sniff_mime(encoded("JPEG")) == "image/jpeg"
    assert sniff_mime(encoded("WEBP")) == "image/webp"
    assert sniff_mime(encoded("GIF")) is None
    assert sniff_mime(b"") is None
    assert sniff_mime(b"RIFF\x00\x00\x00\x00WAVE") is None


# --- encode_inputs ---------------------------------------------------------------------------


def test_original_bytes_are_sent_when_acceptable(tmp_path: Path, rgb_png: Path, mask_png: Path) -> None:
    jpg = save(noisy((24, 24)), tmp_path / "style.jpg", quality=90)
    webp = save(noisy((24, 24), 1), tmp_path / "char.webp")
    enc = encode_inputs(load_image(rgb_png), load_mask(mask_png), [load_image(jpg), load_image(webp)])
    assert isinstance(enc, EncodedInputs)
    assert url_bytes(enc.image) == rgb_png.read_bytes()
    assert url_bytes(enc.mask) == mask_png.read_bytes()
    assert [url_bytes(r) for r in enc.references] == [jpg.read_bytes(), webp.read_bytes()]
    assert [url_mime(u) for u in (enc.image, enc.mask, *enc.references)] == [
        "image/png",
        "image/png",
        "image/jpeg",
        "image/webp",
    ]
    assert enc.notes == ()
    assert enc.total_bytes == len(enc.image) + len(enc.mask) + sum(map(len, enc.references))


def test_one_bit_mask_png_is_sent_as_is(tmp_path: Path, rgb_png: Path) -> None:
    path = save(binary_mask((40, 30), (0, 0, 9, 9)).convert("1"), tmp_path / "bits.png")
    enc = encode_inputs(load_image(rgb_png), load_mask(path), [])
    assert url_bytes(enc.mask) == path.read_bytes()


def test_converted_mask_is_sent_as_normalised_png(tmp_path: Path, rgb_png: Path) -> None:
    im = Image.new("RGBA", (40, 30), (0, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 10, 30))
    mask = load_mask(save(im, tmp_path / "alpha.png"))
    enc = encode_inputs(load_image(rgb_png), mask, [])
    sent = decode_data_url(enc.mask)
    assert url_mime(enc.mask) == "image/png"
    assert sent.mode == "L"
    assert sent.tobytes() == mask.image.tobytes()


def test_converted_image_is_reencoded_losslessly(tmp_path: Path, mask_png: Path) -> None:
    im = Image.new("RGBA", (40, 30), (10, 20, 30, 255))
    im.paste((0, 0, 0, 0), (0, 0, 5, 5))
    loaded = load_image(save(im, tmp_path / "rgba.png"))
    enc = encode_inputs(loaded, load_mask(mask_png), [])
    assert url_bytes(enc.image) != (tmp_path / "rgba.png").read_bytes()
    assert url_mime(enc.image) == "image/png"
    sent = decode_data_url(enc.image)
    assert sent.mode == "RGB"
    assert sent.tobytes() == loaded.image.tobytes()


def test_converted_jpeg_stays_jpeg(tmp_path: Path) -> None:
    path = save(Image.new("CMYK", (40, 30), (0, 255, 0, 0)), tmp_path / "cmyk.jpg")
    mask = load_mask(save(binary_mask((40, 30), (0, 0, 5, 5)), tmp_path / "m.png"))
    enc = encode_inputs(load_image(path), mask, [])
    assert url_mime(enc.image) == "image/jpeg"
    assert decode_data_url(enc.image).mode == "RGB"


def test_file_changed_on_disk_sends_the_loaded_copy(rgb_png: Path, mask_png: Path) -> None:
    loaded = load_image(rgb_png)
    save(Image.new("RGB", (400, 300), (1, 2, 3)), rgb_png)
    enc = encode_inputs(loaded, load_mask(mask_png), [])
    assert decode_data_url(enc.image).tobytes() == loaded.image.tobytes()


def test_encode_refuses_mismatched_mask(tmp_path: Path, rgb_png: Path) -> None:
    mask = load_mask(save(binary_mask((20, 20), (0, 0, 5, 5)), tmp_path / "m.png"))
    with pytest.raises(MaskSizeMismatch):
        encode_inputs(load_image(rgb_png), mask, [])


@pytest.fixture
def noisy_inputs(tmp_path: Path) -> tuple[LoadedImage, LoadedMask, list[LoadedImage]]:
    image = load_image(save(noisy((256, 256)), tmp_path / "input.png"))
    mask = load_mask(save(binary_mask((256, 256), (50, 50, 150, 200)), tmp_path / "mask.png"))
    refs = [load_image(save(noisy((192, 192), seed), tmp_path / f"ref{seed}.png")) for seed in (1, 2)]
    return image, mask, refs


def test_budget_overflow_reencodes_as_jpeg(
    noisy_inputs: tuple[LoadedImage, LoadedMask, list[LoadedImage]],
) -> None:
    image, mask, refs = noisy_inputs
    unconstrained = encode_inputs(image, mask, refs)
    assert unconstrained.notes == ()
    budget = unconstrained.total_bytes * 2 // 3
    enc = encode_inputs(image, mask, refs, budget=budget)
    assert enc.total_bytes <= budget
    assert url_mime(enc.image) == "image/jpeg"
    assert any(n.startswith("input.png re-encoded as JPEG q92 to fit the ") for n in enc.notes)
    assert all("→" in n and "\n" not in n for n in enc.notes)
    assert decode_data_url(enc.image).size == (256, 256)
    assert decode_data_url(enc.mask).size == (256, 256)


def test_budget_overflow_downscales_image_and_mask_together(
    noisy_inputs: tuple[LoadedImage, LoadedMask, list[LoadedImage]],
) -> None:
    image, mask, refs = noisy_inputs
    budget = 60_000  # far below the JPEG sizes: needs downscaling
    enc = encode_inputs(image, mask, refs, budget=budget)
    assert enc.total_bytes <= budget
    sent_image, sent_mask = decode_data_url(enc.image), decode_data_url(enc.mask)
    assert sent_image.size == sent_mask.size
    assert sent_image.width < 256
    assert sent_mask.mode == "L" and set(sent_mask.tobytes()) <= {0, 255}
    assert any("input.png and mask.png downscaled to" in n for n in enc.notes)
    assert any(n.startswith(("ref1.png downscaled", "ref2.png downscaled")) for n in enc.notes)


def test_image_by_asset_id_sends_mask_and_references_only(
    noisy_inputs: tuple[LoadedImage, LoadedMask, list[LoadedImage]],
) -> None:
    _, mask, refs = noisy_inputs
    enc = encode_inputs(None, mask, refs)
    assert enc.image == ""
    assert mask.path is not None and url_bytes(enc.mask) == mask.path.read_bytes()
    assert len(enc.references) == 2 and enc.notes == ()
    tight = encode_inputs(None, mask, refs, budget=30_000)
    assert tight.total_bytes <= 30_000
    assert decode_data_url(tight.mask).size == (256, 256)  # the mask never shrinks without its image
    assert decode_data_url(tight.references[0]).width < 192
    with pytest.raises(ImageProblem) as exc:
        encode_inputs(None, mask, refs, budget=len(enc.mask) - 1)
    assert "can't be made to fit" in problem_text(exc, "mask.png")


def test_mask_without_its_image_is_never_downscaled(tmp_path: Path) -> None:
    speckle = Image.effect_noise((256, 256), 100).point([0] * 128 + [255] * 128)
    mask = load_mask(save(speckle, tmp_path / "speckle.png"))  # the biggest part, PNG can't shrink it
    ref = load_image(save(Image.new("RGB", (64, 64), (5, 5, 5)), tmp_path / "ref.png"))  # at the floor
    budget = encode_inputs(None, mask, [ref]).total_bytes - 1
    with pytest.raises(ImageProblem) as exc:
        encode_inputs(None, mask, [ref], budget=budget)
    assert "can't be made to fit" in problem_text(exc, "speckle.png")


def test_impossible_budget_raises(noisy_inputs: tuple[LoadedImage, LoadedMask, list[LoadedImage]]) -> None:
    image, mask, refs = noisy_inputs
    with pytest.raises(ImageProblem) as exc:
        encode_inputs(image, mask, refs, budget=2_000)
    assert "can't be made to fit" in problem_text(exc, "input.png")


# --- previews --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((400, 300), (100, 100), (100, 75)),
        ((300, 400), (100, 100), (75, 100)),
        ((2000, 100), (240, 135), (240, 12)),
        ((1000, 1000), (240, 135), (135, 135)),
    ],
)
def test_thumbnail_fits(size: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]) -> None:
    thumb = thumbnail(noisy(size), box)
    assert thumb.size == expected
    assert thumb.width <= box[0] and thumb.height <= box[1]


def test_thumbnail_never_upscales() -> None:
    small = Image.new("RGB", (20, 10), (1, 2, 3))
    thumb = thumbnail(small, (200, 200))
    assert thumb.size == (20, 10)
    assert thumb is not small
    thumb.putpixel((0, 0), (9, 9, 9))
    assert small.getpixel((0, 0)) == (1, 2, 3)


def test_thumbnail_of_palette_image_is_smooth() -> None:
    pal = Image.linear_gradient("L").convert("RGB").convert("P")
    thumb = thumbnail(pal, (32, 32))
    assert thumb.mode == "RGB" and thumb.size == (32, 32)


def test_mask_overlay(rgb_png: Path) -> None:
    image = load_image(rgb_png).image
    mask = binary_mask((20, 15), (0, 0, 9, 14))  # half size: must be resized to the image
    over = mask_overlay(image, mask, tint=(255, 0, 0), opacity=1.0)
    assert over.mode == "RGB" and over.size == image.size
    assert over.getpixel((2, 25)) == (255, 0, 0)  # left half tinted
    assert over.getpixel((35, 25)) == image.getpixel((35, 25))  # right half untouched
    half = mask_overlay(image, mask, tint=(255, 255, 255), opacity=0.5)
    assert half.getpixel((2, 25)) != image.getpixel((2, 25)) != (255, 255, 255)
    with pytest.raises(ValueError):
        mask_overlay(image, mask, opacity=1.5)


def test_contact_sheet_dimensions() -> None:
    images = [noisy((60, 40), i) for i in range(5)]
    sheet = contact_sheet(images, columns=3, cell=(40, 30), gap=4)
    assert sheet.mode == "RGB"
    assert sheet.size == (3 * 40 + 2 * 4, 2 * 30 + 4)
    assert contact_sheet(images[:2], columns=3, cell=(40, 30), gap=4).size == (2 * 40 + 4, 30)


def test_contact_sheet_places_images_in_cells() -> None:
    red, blue = Image.new("RGB", (10, 10), (255, 0, 0)), Image.new("RGBA", (10, 10), (0, 0, 255, 255))
    sheet = contact_sheet([red, blue], columns=2, cell=(20, 20), gap=2)
    assert sheet.getpixel((10, 10)) == (255, 0, 0)
    assert sheet.getpixel((22 + 10, 10)) == (0, 0, 255)
    assert sheet.getpixel((1, 1)) not in {(255, 0, 0), (0, 0, 255)}


@pytest.mark.parametrize("kwargs", [{"images": [], "columns": 2}, {"images": None, "columns": 0}])
def test_contact_sheet_rejects_nonsense(kwargs: dict[str, object]) -> None:
    images = kwargs["images"] if kwargs["images"] is not None else [Image.new("RGB", (4, 4))]
    with pytest.raises(ValueError):
        contact_sheet(images, columns=kwargs["columns"], cell=(10, 10))  # type: ignore[arg-type]


def test_module_does_not_import_textual() -> None:
    code = "import sys, scenario_tui.core.imaging; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_white_strokes_on_transparent_layer_mean_painted_is_repainted(tmp_path: Path) -> None:
    layer = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle((0, 0, 9, 39), fill=(255, 255, 255, 255))
    layer.save(tmp_path / "strokes.png")
    mask = imaging.load_mask(tmp_path / "strokes.png")
    assert mask.coverage == 25.0
    assert mask.image.getpixel((5, 5)) == 255 and mask.image.getpixel((30, 5)) == 0
    assert any("painted = repaint" in n for n in mask.notes)
