"""How a result was made, written into the image file itself.

Two text entries go into each result PNG: ``parameters``, in the AUTOMATIC1111 layout that civitai,
sd-prompt-reader and similar tools read, and ``scenario-tui``, the full request record as JSON.
The chunks are spliced into the byte stream with the standard library, so the pixels are never
decoded or re-encoded.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

from scenario_tui.core.params import PARAM_INFO

PARAMETERS_KEY = "parameters"
RECORD_KEY = "scenario-tui"
MAX_TEXT_BYTES = 4 * 1024 * 1024
"""Largest text chunk written or read; bigger ones are refused on write and skipped on read."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
_OUR_KEYWORDS = (PARAMETERS_KEY.encode(), RECORD_KEY.encode())
_MAX_CHUNK_LENGTH = 2**31 - 1  # PNG spec limit
_MISREAD = re.compile(r'[,:"]')  # what an A1111 line parser would split on or treat as quoting


def _clean(value: Any) -> str:
    """One A1111 value: separators become spaces, any run of whitespace (newlines too) one space."""
    return " ".join(_MISREAD.sub(" ", str(value)).split())


def _num(value: Any) -> str:
    """A number as short as it round-trips: ``6`` not ``6.0``, ``0.35`` not ``0.35000``."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return _clean(value)


def _or_default(body: Mapping[str, Any], name: str) -> Any:
    """The sent value, else the default the API applies when the field is omitted."""
    value = body.get(name)
    return PARAM_INFO[name].shown_default if value is None else value


def _scales(body: Mapping[str, Any]) -> list[Any]:
    """Reference scales as sent, else the API's default once per reference sent."""
    if body.get("ipAdapterScales"):
        return list(body["ipAdapterScales"])
    count = len(body.get("ipAdapterImages") or body.get("ipAdapterImageIds") or ())
    return [PARAM_INFO["ipAdapterScales"].shown_default] * count


def _concepts(body: Mapping[str, Any]) -> str | None:
    """``id scale`` pairs, ``id@epoch`` when an epoch is set: ``Lora: a 0.8 b@5 -0.5``."""
    parts = []
    for concept in body.get("concepts") or ():
        epoch = concept.get("modelEpoch")
        parts.append(f"{concept['modelId']}{f'@{epoch}' if epoch else ''} {_num(concept['scale'])}")
    return " ".join(parts) or None


def a1111_parameters(
    body: Mapping[str, Any], *, seed: str | None, model_name: str | None, width: int | None, height: int | None
) -> str:
    """The AUTOMATIC1111 ``parameters`` text for one result of the request ``body`` (API field names).

    Prompt lines, then ``Negative prompt: …`` when one is set, then one ``Steps: …`` line of
    ``key: value`` pairs. Values are cleaned so a standard parser can't misread them; unset values
    are left out. ``seed``, ``width`` and ``height`` are the result's own (they can differ from
    the request's), ``model_name`` the model's display name.
    """
    model_id = body.get("modelId")
    size = f"{width}x{height}" if width is not None and height is not None else None
    scales = " ".join(_num(s) for s in _scales(body)) or None
    pairs = {
        "Steps": _or_default(body, "numInferenceSteps"),
        "Sampler": body.get("scheduler"),
        "CFG scale": body.get("guidance"),
        "Seed": seed,
        "Size": size,
        "Denoising strength": _or_default(body, "strength"),
        "Model": _clean(model_name or "") or model_id,
        "Model id": model_id,
        "Base model id": body.get("baseModelId"),
        "Model epoch": body.get("modelEpoch"),
        "IP-Adapter": _or_default(body, "ipAdapterType"),
        "IP-Adapter scales": scales,
        "Lora": _concepts(body),
        "Negative prompt strength": body.get("negativePromptStrength"),
    }
    values = [(k, text) for k, v in pairs.items() if v is not None and (text := _num(v))]
    lines = [str(body.get("prompt") or "")]
    if negative := body.get("negativePrompt"):
        lines.append(f"Negative prompt: {negative}")
    lines.append(", ".join(f"{k}: {v}" for k, v in values))
    return "\n".join(lines)


class _Chunk(NamedTuple):
    type: bytes
    start: int  # offset of the length field
    length: int  # of the data

    @property
    def end(self) -> int:
        return self.start + 12 + self.length


def _chunks(f: IO[bytes]) -> Iterator[_Chunk]:
    """Every chunk up to and including ``IEND``, checked to fit in the file; ``ValueError`` if not."""
    size = f.seek(0, io.SEEK_END)
    f.seek(0)
    if f.read(8) != _PNG_MAGIC:
        raise ValueError("not a PNG file")
    pos = 8
    while True:
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            raise ValueError("truncated PNG: no IEND chunk")
        length, ctype = struct.unpack(">I4s", header)
        chunk = _Chunk(ctype, pos, length)
        if length > _MAX_CHUNK_LENGTH or chunk.end > size:
            raise ValueError(f"truncated PNG: {ctype.decode('latin-1')!r} chunk runs past the end of the file")
        yield chunk
        if ctype == b"IEND":
            return
        pos = chunk.end


def _keyword(data: bytes) -> bytes:
    return data[:80].partition(b"\0")[0]


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    if len(data) > MAX_TEXT_BYTES:
        raise ValueError(f"{_keyword(data).decode()} text is over {MAX_TEXT_BYTES // 2**20} MiB")
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _text_chunk(keyword: str, text: str) -> bytes:
    """``tEXt`` when the text is Latin-1 (what the PNG spec allows there), else uncompressed ``iTXt``."""
    try:
        return _png_chunk(b"tEXt", keyword.encode() + b"\0" + text.encode("latin-1"))
    except UnicodeEncodeError:
        return _itxt_chunk(keyword, text)


def _itxt_chunk(keyword: str, text: str) -> bytes:
    # keyword, NUL, compression flag and method (none), empty language tag and translated keyword
    return _png_chunk(b"iTXt", keyword.encode() + b"\0\0\0\0\0" + text.encode("utf-8"))


def _is_image_but_not_png(head: bytes) -> bool:
    """JPEG or WebP: the other formats the API returns results in."""
    return head[:3] == b"\xff\xd8\xff" or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def embed(path: Path, *, parameters: str, record: Mapping[str, Any]) -> bool:
    """Write ``parameters`` (A1111 text) and ``record`` (as JSON) into the PNG at ``path``; True when done.

    The text chunks go just before the first ``IDAT``: readers such as Pillow's ``Image.info``
    (used by sd-prompt-reader) only see chunks before the pixels without decoding them. Earlier
    chunks with the same keywords are dropped; everything else is copied byte for byte. The file
    is replaced atomically, keeping its permissions.

    JPEG and WebP results are left alone and give False: adding EXIF there without re-encoding
    means splicing EXIF segments, which this module doesn't do. Any other file that isn't a sound
    PNG raises ``ValueError`` and is left untouched.
    """
    data = path.read_bytes()
    if _is_image_but_not_png(data[:12]):
        return False
    chunks = list(_chunks(io.BytesIO(data)))
    new = _text_chunk(PARAMETERS_KEY, parameters) + _itxt_chunk(RECORD_KEY, json.dumps(record))
    out = bytearray(data[:8])
    for chunk in chunks:
        if new and chunk.type in (b"IDAT", b"IEND"):
            out += new
            new = b""
        body = data[chunk.start + 8 : chunk.end - 4]
        if not (chunk.type in _TEXT_TYPES and _keyword(body) in _OUR_KEYWORDS):
            out += data[chunk.start : chunk.end]
    out += data[chunks[-1].end :]  # anything after IEND, as it was
    _replace(path, bytes(out))
    return True


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then move it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _decompress(data: bytes) -> bytes | None:
    """zlib data inflated up to ``MAX_TEXT_BYTES``; None when bigger or corrupt."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_TEXT_BYTES)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else out


def _text(ctype: bytes, data: bytes) -> str | None:
    """The text of a ``tEXt``/``zTXt``/``iTXt`` chunk's data, None when it can't be decoded."""
    rest = data.partition(b"\0")[2]
    raw: bytes | None
    if ctype == b"tEXt":
        raw, encoding = rest, "latin-1"
    elif ctype == b"zTXt":
        raw, encoding = _decompress(rest[1:]), "latin-1"
    else:  # compression flag and method, then language tag and translated keyword, each NUL-ended
        fields = rest[2:].split(b"\0", 2)
        if len(fields) < 3:
            return None
        raw, encoding = (_decompress(fields[2]) if rest[:1] == b"\1" else fields[2]), "utf-8"
    try:
        return None if raw is None else raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def read(path: Path) -> tuple[str | None, dict[str, Any] | None]:
    """The ``parameters`` text and the ``scenario-tui`` record of an image, each None when absent.

    A file that isn't a PNG gives ``(None, None)``; a broken PNG raises ``ValueError``. Text chunks
    over ``MAX_TEXT_BYTES`` are skipped unread, and a record that isn't a JSON object counts as absent.
    """
    found: dict[bytes, str] = {}
    with path.open("rb") as f:
        if f.read(8) != _PNG_MAGIC:
            return None, None
        for chunk in _chunks(f):
            if chunk.type not in _TEXT_TYPES or chunk.length > MAX_TEXT_BYTES:
                continue
            f.seek(chunk.start + 8)
            data = f.read(chunk.length)
            keyword = _keyword(data)
            if keyword in _OUR_KEYWORDS and keyword not in found and (text := _text(chunk.type, data)) is not None:
                found[keyword] = text
    try:
        record = json.loads(found.get(RECORD_KEY.encode(), ""))
    except json.JSONDecodeError:
        record = None
    return found.get(PARAMETERS_KEY.encode()), record if isinstance(record, dict) else None
