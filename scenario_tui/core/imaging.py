"""Loading, checking, converting and encoding the images sent to the inpaint + IP-Adapter API.

Pillow and the standard library only. Every refusal is an :class:`ImageProblem` whose text is one line
naming the file; every silent fix is a one-line note the UI can show.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import functools
import hashlib
import io
import math
import re
import stat
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, NamedTuple, cast

from PIL import Image, ImageOps, UnidentifiedImageError

from scenario_tui.core import masks

MAX_PIXELS: int = 64_000_000
"""Decompression-bomb limit we enforce ourselves (Pillow's own limit is higher)."""

REQUEST_BYTE_BUDGET: int = 9_500_000
"""Total bytes of all data URLs in one request body (the gateway caps bodies at about 10 MB)."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SENDABLE = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_WHITE = (255, 255, 255)
_SHEET_BACKGROUND = (32, 32, 32)
_BUDGET_QUALITY = 92
_JPEG_SOURCE_QUALITY = 95
_SHRINK_STEP = 0.75
_MIN_SIDE = 64
_EXIF_ORIENTATION = 0x0112
_NOTE_FLATTENED = "alpha channel flattened onto white"
_NOTE_FULL_MASK = "mask covers the whole image"


class ImageProblem(ValueError):
    """A file can't be used; ``str(e)`` is ONE line meant for the user, naming the file's base name."""

    path: Path | None

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(" ".join(message.splitlines()))
        self.path = path


class MaskSizeMismatch(ImageProblem):
    """The mask and the image differ in size; the message offers resizing the mask.

    ``mask`` is the loaded mask when known, so it can go to :func:`resize_mask` without a reload.
    """

    mask_size: tuple[int, int]
    image_size: tuple[int, int]
    mask: LoadedMask | None

    def __init__(
        self,
        path: Path | None,
        mask_size: tuple[int, int],
        image_size: tuple[int, int],
        mask: LoadedMask | None = None,
    ) -> None:
        (mw, mh), (iw, ih) = mask_size, image_size
        stretch = " (this stretches it)" if abs(mw * ih - mh * iw) > 0.01 * mw * ih else ""
        super().__init__(
            f"{_label(path, 'mask')}: the mask is {mw}×{mh} but the image is {iw}×{ih}; "
            f"resize the mask to {iw}×{ih}?{stretch}",
            path,
        )
        self.mask_size = (mw, mh)
        self.image_size = (iw, ih)
        self.mask = mask


@dataclass(frozen=True)
class LoadedImage:
    """An input or reference image, decoded and converted to RGB."""

    path: Path | None
    image: Image.Image
    source_format: str
    source_mode: str
    file_size: int
    notes: tuple[str, ...]
    sha256: str = ""  # of the file's bytes

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the converted image."""
        return self.image.size


@dataclass(frozen=True)
class LoadedMask:
    """A binary mask: mode "L", 255 = repaint, 0 = keep."""

    path: Path | None
    image: Image.Image
    coverage: float
    notes: tuple[str, ...]
    sha256: str = ""  # of the file's bytes (the image may since have been resized)
    polarity: masks.Polarity = masks.Polarity.WHITE_ON_BLACK  # how the file marked the area, as read


@dataclass(frozen=True)
class EncodedInputs:
    """The data URLs for one request, with notes on anything re-encoded or downscaled."""

    image: str  # "" when the input image is sent by asset id instead
    mask: str
    references: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes all the data URLs add to the request body (they are ASCII)."""
        return len(self.image) + len(self.mask) + sum(len(r) for r in self.references)


# --- reading files ---------------------------------------------------------------------------


def _label(path: Path | None, fallback: str) -> str:
    return (path.name or str(path)) if path is not None else fallback


def _human(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def _megapixels(pixels: int) -> str:
    mp = pixels / 1_000_000
    return (f"{mp:.1f}" if mp >= 1 else f"{mp:.2g}").removesuffix(".0")


def _png_ihdr(data: bytes) -> tuple[int, int, int, int] | None:
    """(width, height, bit depth, colour type) from a PNG's first 26 bytes, or None."""
    if len(data) < 26 or not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height, data[24], data[25]


def _too_big(
    name: str, path: Path | None, pixels: int | None, size: tuple[int, int] | None = None
) -> ImageProblem:
    limit = f"over the {_megapixels(MAX_PIXELS)} MP limit"
    if pixels is None:
        return ImageProblem(f"{name}: {limit} (Pillow flagged it as a decompression bomb)", path)
    dims = f"{size[0]}×{size[1]} is " if size else "the image is "
    return ImageProblem(f"{name}: {dims}{_megapixels(pixels)} MP, {limit}", path)


def _open_file(path: Path, name: str) -> tuple[IO[bytes], int]:
    """Open a regular, non-empty file for reading; returns (file, size in bytes)."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ImageProblem(f"{name}: no such file", path) from None
    except PermissionError:
        raise ImageProblem(f"{name}: can't be read (permission denied)", path) from None
    except OSError as e:
        raise ImageProblem(f"{name}: can't be read ({e.strerror or e})", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageProblem(f"{name}: is a directory, not a file", path)
    if not stat.S_ISREG(st.st_mode):
        raise ImageProblem(f"{name}: is not a regular file", path)
    if st.st_size == 0:
        raise ImageProblem(f"{name}: the file is empty", path)
    try:
        return open(path, "rb"), st.st_size  # the caller closes it with `with`
    except PermissionError:
        raise ImageProblem(f"{name}: can't be read (permission denied)", path) from None
    except OSError as e:
        raise ImageProblem(f"{name}: can't be read ({e.strerror or e})", path) from None


def _decode_first_frame(fh: IO[bytes], name: str, path: Path | None) -> tuple[Image.Image, int]:
    """Identify the image in ``fh``, refuse bombs, fully decode frame 0; returns (image, frame count)."""
    with warnings.catch_warnings():
        # Pillow warns above its own (higher) limit; we refuse with our own message instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(fh)
        except Image.DecompressionBombError as e:
            fh.seek(0)
            ihdr = _png_ihdr(fh.read(26))
            if ihdr:
                raise _too_big(name, path, ihdr[0] * ihdr[1], ihdr[:2]) from None
            found = re.search(r"\((\d+) pixels\)", str(e))
            raise _too_big(name, path, int(found.group(1)) if found else None) from None
        except UnidentifiedImageError:
            raise ImageProblem(f"{name}: not an image Pillow can read", path) from None
        except Exception:  # any plugin's header parser may fail in its own way
            raise ImageProblem(f"{name}: the image data is truncated or corrupt", path) from None
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise _too_big(name, path, width * height, im.size)
        try:
            frames = getattr(im, "n_frames", 1)
            im.load()
        except Image.DecompressionBombError:
            raise _too_big(name, path, None) from None
        except Exception:  # decoders signal truncation/corruption with assorted exception types
            raise ImageProblem(f"{name}: the image data is truncated or corrupt", path) from None
    return im, frames


class _Read(NamedTuple):
    path: Path
    name: str
    image: Image.Image  # frame 0, loaded, upright; possibly still the opened file's image object
    source_format: str
    source_mode: str
    file_size: int
    notes: list[str]
    sha256: str


def _read(path: str | Path) -> _Read:
    """Open, check and decode a file's first frame, turned upright per its EXIF orientation."""
    p = Path(path)
    name = _label(p, "image")
    fh, file_size = _open_file(p, name)
    with fh:
        data = fh.read()
    with io.BytesIO(data) as buf:
        im, frames = _decode_first_frame(buf, name, p)
    notes = [f"used the first of {frames} frames"] if frames > 1 else []
    source_format, source_mode = im.format or "unknown", im.mode
    if im.getexif().get(_EXIF_ORIENTATION, 1) in range(2, 9):
        im = ImageOps.exif_transpose(im)
        notes.append("rotated to match its EXIF orientation")
    return _Read(p, name, im, source_format, source_mode, file_size, notes, hashlib.sha256(data).hexdigest())


# --- conversions -----------------------------------------------------------------------------


def _high_depth(mode: str) -> str | None:
    """"16-bit", "32-bit" or "floating-point" for greyscale modes deeper than 8 bits, else None."""
    if mode.startswith("I;16"):
        return "16-bit"
    return {"I": "32-bit", "F": "floating-point"}.get(mode)


def _band_extrema(im: Image.Image) -> tuple[float, float]:
    """(min, max) of a single-band image.

    Pillow's stubs type ``getextrema()`` for every mode (a per-band tuple of pairs for multi-band
    images); for one band it is a single (min, max) pair.
    """
    assert len(im.getbands()) == 1, f"single-band image expected, got mode {im.mode}"
    return cast(tuple[float, float], im.getextrema())


def _to_8bit(im: Image.Image) -> Image.Image:
    """Scale a deep greyscale image (I;16*, I, F) to mode "L"."""
    lo, hi = _band_extrema(im)
    if im.mode.startswith("I;16"):
        lo, hi = 0, 65535
    elif im.mode == "F" and 0 <= lo and hi <= 1:
        lo, hi = 0, 1
    elif 0 <= lo and hi <= 255:
        lo, hi = 0, 255
    elif 0 <= lo and hi <= 65535:
        lo, hi = 0, 65535
    scale = 255 / (hi - lo) if hi > lo else 1.0
    return im.convert("F").point(lambda v: (v - lo) * scale).convert("L")


def _mode_note(mode: str) -> str | None:
    if mode in ("RGB", "RGBA", "RGBa"):
        return None
    if mode in ("P", "PA"):
        return "converted from palette (P) to RGB"
    if mode in ("L", "LA", "La"):
        return "converted from greyscale to RGB"
    if mode == "1":
        return "converted from 1-bit black and white to RGB"
    return f"converted from {mode} to RGB"


def _to_rgb(im: Image.Image) -> tuple[Image.Image, list[str]]:
    """Convert any mode to RGB (alpha flattened onto white); returns (image, notes)."""
    notes: list[str] = []
    depth = _high_depth(im.mode)
    if depth:
        notes.append(f"converted {depth} greyscale ({im.mode}) to 8-bit RGB")
        im = _to_8bit(im)
    elif note := _mode_note(im.mode):
        notes.append(note)
    rgba = masks.with_alpha(im)
    if rgba is None:
        return (im if im.mode == "RGB" else im.convert("RGB")), notes
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] == 255:
        return rgba.convert("RGB"), notes
    flat = Image.new("RGB", im.size, _WHITE)
    flat.paste(rgba, mask=alpha)
    return flat, [*notes, _NOTE_FLATTENED]


def _binarize(im: Image.Image) -> masks.Binarized:
    """Threshold any image to a 0/255 "L" mask (deep greyscale scaled to 8 bits first)."""
    if _high_depth(im.mode):
        return masks.binarize(_to_8bit(im))
    return masks.binarize(im)


# --- public loading API ----------------------------------------------------------------------


def load_image(path: str | Path) -> LoadedImage:
    """Load an input or reference image as RGB, refusing unusable files with a one-line reason."""
    read = _read(path)
    try:
        rgb, conversion_notes = _to_rgb(read.image)
    except (ValueError, OSError):
        raise ImageProblem(
            f"{read.name}: colour mode {read.source_mode} can't be converted to RGB", read.path
        ) from None
    return LoadedImage(
        path=read.path,
        image=rgb._new(rgb.im) if rgb is read.image else rgb,  # a plain Image of the same pixels, not a copy
        source_format=read.source_format,
        source_mode=read.source_mode,
        file_size=read.file_size,
        notes=(*read.notes, *conversion_notes),
        sha256=read.sha256,
    )


def check_decodes(path: str | Path) -> tuple[int, int]:
    """Decode a file's first frame, refusing what ``load_image`` refuses as unreadable; its (width, height).

    For files that are only checked (downloads): the pixels are dropped at once, with no converted copy.
    """
    p = Path(path)
    name = _label(p, "image")
    fh, _ = _open_file(p, name)
    with fh:
        im, _ = _decode_first_frame(fh, name, p)
    with im:
        return im.size


def read_mask(path: str | Path) -> LoadedMask:
    """Read a mask file as it is (white = repaint, or transparent = repaint), even an empty one."""
    read = _read(path)
    try:
        binarized = _binarize(read.image)
    except (ValueError, OSError):
        raise ImageProblem(f"{read.name}: colour mode {read.source_mode} can't be used as a mask", read.path) from None
    coverage = masks.coverage(binarized.mask)
    notes = [*read.notes, *binarized.notes, *([_NOTE_FULL_MASK] if coverage == 100 else [])]
    return LoadedMask(path=read.path, image=binarized.mask, coverage=coverage, notes=tuple(notes),
                      sha256=read.sha256, polarity=binarized.polarity)


def load_mask(path: str | Path, image_size: tuple[int, int] | None = None) -> LoadedMask:
    """Load a mask to send: refuse an empty one; raise MaskSizeMismatch if sizes differ."""
    loaded = read_mask(path)
    if loaded.coverage == 0:
        alpha = loaded.polarity is masks.Polarity.ALPHA
        reason = "mask has no transparent area" if alpha else "mask is all black"
        raise ImageProblem(f"{_label(loaded.path, 'mask')}: {reason}: nothing to repaint", loaded.path)
    if image_size is not None and loaded.image.size != tuple(image_size):
        raise MaskSizeMismatch(loaded.path, loaded.image.size, image_size, loaded)
    return loaded


def resize_mask(mask: LoadedMask, size: tuple[int, int]) -> LoadedMask:
    """Resize a mask (nearest neighbour, stays binary) and recompute its coverage."""
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"invalid mask size {size!r}")
    if mask.image.size == (width, height):
        return mask
    old_w, old_h = mask.image.size
    resized = mask.image.resize((width, height), Image.Resampling.NEAREST)
    coverage = masks.coverage(resized)
    if coverage == 0:
        raise ImageProblem(
            f"{_label(mask.path, 'mask')}: mask is all black after resizing to {width}×{height}: "
            "nothing to repaint",
            mask.path,
        )
    notes = [n for n in mask.notes if n != _NOTE_FULL_MASK]
    notes.append(f"resized from {old_w}×{old_h} to {width}×{height}")
    if coverage == 100:
        notes.append(_NOTE_FULL_MASK)
    return LoadedMask(path=mask.path, image=resized, coverage=coverage, notes=tuple(notes), sha256=mask.sha256,
                      polarity=mask.polarity)


def crop_inputs(image: LoadedImage, mask: LoadedMask, box: tuple[int, int, int, int]) -> tuple[LoadedImage, LoadedMask]:
    """The input and its mask cut to ``box`` (x0, y0, x1, y1), as images made in memory (re-encoded
    when sent: a JPEG input stays JPEG)."""
    part, cut = image.image.crop(box), mask.image.crop(box)
    return (replace(image, path=None, image=part, notes=(), sha256=""),
            replace(mask, path=None, image=cut, coverage=masks.coverage(cut), notes=(), sha256=""))


def suggest_size(width: int, height: int, lo: int = 64, hi: int = 2048) -> tuple[int, int]:
    """Output size with the same aspect ratio, both sides multiples of 8 within [lo, hi]."""
    lo8, hi8 = math.ceil(lo / 8) * 8, hi // 8 * 8
    if width < 1 or height < 1 or lo8 > hi8:
        raise ValueError(f"can't fit {width}×{height} into multiples of 8 within [{lo}, {hi}]")
    scale = min(hi / max(width, height), max(1.0, lo / min(width, height)))

    def side(n: int) -> int:
        return min(hi8, max(lo8, math.floor(n * scale / 8 + 0.5) * 8))

    return side(width), side(height)


# --- data URLs -------------------------------------------------------------------------------


def encode_data_url(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,<b64>``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_url(url: str) -> Image.Image:
    """Decode a base64 data URL into a fully loaded image (mode as stored)."""
    name = "data URL"
    if not url[:5].lower() == "data:":
        raise ImageProblem("not a data URL (expected data:<mime>;base64,...)")
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise ImageProblem(f"{name}: no ',' before the data")
    if not header.lower().endswith(";base64"):
        raise ImageProblem(f"{name}: not base64-encoded")
    payload = "".join(payload.split())
    try:
        data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ImageProblem(f"{name}: bad base64 data") from None
    if not data:
        raise ImageProblem(f"{name}: the data is empty")
    with io.BytesIO(data) as fh:
        im, _ = _decode_first_frame(fh, name, None)
    return im


def sniff_mime(data: bytes) -> str | None:
    """"image/png", "image/jpeg" or "image/webp" from the magic bytes, else None."""
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# --- encoding a request ----------------------------------------------------------------------


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _url_length(n_bytes: int, mime: str) -> int:
    return len(f"data:{mime};base64,") + 4 * ((n_bytes + 2) // 3)


def _original_image_bytes(image: LoadedImage) -> bytes | None:
    """The file's bytes if they can be sent as they are (and still match what was loaded)."""
    mime = _SENDABLE.get(image.source_format)
    if image.notes or image.path is None or mime is None:
        return None
    try:
        data = image.path.read_bytes()
    except OSError:
        return None
    return data if len(data) == image.file_size and sniff_mime(data) == mime else None


def _original_mask_bytes(mask: LoadedMask) -> bytes | None:
    """The file's bytes if it is an untouched 1- or 8-bit greyscale PNG of the mask's size."""
    if mask.path is None or any(n != _NOTE_FULL_MASK for n in mask.notes):
        return None
    try:
        data = mask.path.read_bytes()
    except OSError:
        return None
    ihdr = _png_ihdr(data)
    if ihdr is None or ihdr[3] != 0 or ihdr[2] not in (1, 8) or ihdr[:2] != mask.image.size:
        return None
    return data


@dataclass
class _Part:
    """Working state for one image being fitted into the request (with the mask, for the input)."""

    label: str
    source: Image.Image
    data: bytes
    mime: str
    mask_source: Image.Image | None = None
    mask_data: bytes = b""
    scale: float = 1.0
    sends_image: bool = True  # False: only the mask travels, at the size of an image we can't see

    def cost(self) -> int:
        own = _url_length(len(self.data), self.mime) if self.sends_image else 0
        mask = _url_length(len(self.mask_data), "image/png") if self.mask_source is not None else 0
        return own + mask

    def next_size(self) -> tuple[int, int] | None:
        """Size of the next downscaling step, or None when it can't (or mustn't) shrink further."""
        scale = self.scale * _SHRINK_STEP
        size = (round(self.source.width * scale), round(self.source.height * scale))
        return size if self.sends_image and min(size) >= _MIN_SIDE else None


def _first_part(image: LoadedImage, fallback: str) -> _Part:
    label = _label(image.path, fallback)
    data = _original_image_bytes(image)
    if data is not None:
        return _Part(label, image.image, data, _SENDABLE[image.source_format])
    if image.source_format in ("JPEG", "MPO"):
        return _Part(label, image.image, _jpeg(image.image, _JPEG_SOURCE_QUALITY), "image/jpeg")
    return _Part(label, image.image, _png(image.image), "image/png")


def encode_inputs(
    image: LoadedImage | None,
    mask: LoadedMask,
    references: Sequence[LoadedImage],
    budget: int = REQUEST_BYTE_BUDGET,
) -> EncodedInputs:
    """Build the data URLs, sending original bytes when possible and shrinking only to fit ``budget``.

    ``image`` is None when the input image goes by asset id: ``EncodedInputs.image`` is then "" and
    the mask keeps its size (it must match an image we can't see); only references may shrink.
    """
    if image is not None and mask.image.size != image.size:
        raise MaskSizeMismatch(mask.path, mask.image.size, image.size, mask)
    target = f"to fit the {_human(budget)} request budget"
    mask_label = _label(mask.path, "mask")
    if image is None:
        main = _Part(mask_label, mask.image, b"", "", sends_image=False)
    else:
        main = _first_part(image, "input image")
    main.mask_source = mask.image
    main.mask_data = _original_mask_bytes(mask) or _png(mask.image)
    parts = [main, *(_first_part(r, f"reference {i}") for i, r in enumerate(references, 1))]
    notes: list[str] = []

    def total() -> int:
        return sum(p.cost() for p in parts)

    for part in sorted(parts, key=lambda p: len(p.data), reverse=True):
        if total() <= budget:
            break
        if not part.sends_image:
            continue
        smaller = _jpeg(part.source, _BUDGET_QUALITY)
        if len(smaller) < len(part.data):
            notes.append(
                f"{part.label} re-encoded as JPEG q{_BUDGET_QUALITY} {target} "
                f"({_human(len(part.data))} → {_human(len(smaller))})"
            )
            part.data, part.mime = smaller, "image/jpeg"

    while total() > budget:
        steps = [(p, size) for p in parts if (size := p.next_size()) is not None]
        if not steps:
            raise ImageProblem(
                f"{main.label}: the inputs can't be made to fit the {_human(budget)} request budget "
                f"(still {_human(total())} when downscaled)",
                image.path if image is not None else mask.path,
            )
        part, size = max(steps, key=lambda step: step[0].cost())
        part.scale *= _SHRINK_STEP
        resized = part.source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if part.mime == "image/png":  # JPEG did not help this one: it is flat, PNG-friendly art
            part.data = _png(resized)
        else:
            part.data, part.mime = _jpeg(resized, _BUDGET_QUALITY), "image/jpeg"
        what = part.label
        if part.mask_source is not None:
            part.mask_data = _png(part.mask_source.resize(size, Image.Resampling.NEAREST))
            what = f"{part.label} and {mask_label}"
        notes.append(f"{what} downscaled to {size[0]}×{size[1]} {target}")

    return EncodedInputs(
        image=encode_data_url(main.data, main.mime) if main.sends_image else "",
        mask=encode_data_url(main.mask_data, "image/png"),
        references=tuple(encode_data_url(p.data, p.mime) for p in parts[1:]),
        notes=tuple(notes),
    )


# --- previews --------------------------------------------------------------------------------


def thumbnail(image: Image.Image, max_size: tuple[int, int]) -> Image.Image:
    """A loaded copy fitting within ``max_size``; never upscales.

    ``resize(reducing_gap=2.0)`` first shrinks with ``Image.reduce(n)``, then finishes with LANCZOS.
    """
    max_w, max_h = max_size
    if max_w < 1 or max_h < 1:
        raise ValueError(f"invalid thumbnail size {max_size!r}")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = _to_rgb(image)[0]
    ratio = min(max_w / image.width, max_h / image.height)
    if ratio >= 1:
        return image.copy()
    size = (
        max(1, min(max_w, round(image.width * ratio))),
        max(1, min(max_h, round(image.height * ratio))),
    )
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def mask_overlay(
    image: Image.Image,
    mask: Image.Image,
    tint: tuple[int, int, int] = (255, 0, 96),
    opacity: float = 0.5,
) -> Image.Image:
    """RGB preview of ``image`` with the mask's white area tinted; the mask is resized if needed."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be within [0, 1], not {opacity}")
    base = image if image.mode == "RGB" else _to_rgb(image)[0]
    grey = mask if mask.mode == "L" else mask.convert("L")
    if grey.size != base.size:
        grey = grey.resize(base.size, Image.Resampling.NEAREST)
    alpha = grey.point([round(v * opacity) for v in range(256)])
    return Image.composite(Image.new("RGB", base.size, tint), base, alpha)


def contact_sheet(
    images: Sequence[Image.Image], columns: int, cell: tuple[int, int], gap: int = 4
) -> Image.Image:
    """Thumbnails centred in ``cell``-sized slots, ``gap`` pixels apart (no outer border).

    ``columns`` is capped at the number of images, so one row is only as wide as it needs to be.
    """
    cell_w, cell_h = cell
    if not images or columns < 1 or cell_w < 1 or cell_h < 1 or gap < 0:
        raise ValueError("contact_sheet needs images, columns >= 1, a positive cell and gap >= 0")
    cols = min(columns, len(images))
    rows = math.ceil(len(images) / cols)
    sheet = Image.new(
        "RGB", (cols * cell_w + (cols - 1) * gap, rows * cell_h + (rows - 1) * gap), _SHEET_BACKGROUND
    )
    for i, im in enumerate(images):
        thumb = thumbnail(im, cell)
        if thumb.mode != "RGB":
            thumb = _to_rgb(thumb)[0]
        x = (i % cols) * (cell_w + gap) + (cell_w - thumb.width) // 2
        y = (i // cols) * (cell_h + gap) + (cell_h - thumb.height) // 2
        sheet.paste(thumb, (x, y))
    return sheet


def describe(image: LoadedImage) -> str:
    """One line for the UI, e.g. "1024×768 RGB PNG, 1.2 MB"."""
    width, height = image.size
    return f"{width}×{height} {image.source_mode} {image.source_format}, {_human(image.file_size)}"


def give_back_memory() -> None:
    """Hand memory freed after decoding big images back to the system.

    glibc keeps freed blocks for reuse, per thread arena: after ten 2048² sandbox jobs a process held
    about 100 MiB it no longer used (measured with ``malloc_info``). A long-running app calls this after
    each run's downloads. Nothing happens where the C library has no ``malloc_trim``.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # the C library this interpreter runs on
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl without it, Windows)
        return None
