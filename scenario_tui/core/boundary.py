"""Where server text meets the terminal and the file system: safe names and printable text."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# C0 and C1 controls (ESC starts every terminal escape), DEL, and the bidi overrides that reorder text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_NAME = 64


def safe_name(text: str, *, fallback: str = "unnamed", limit: int = MAX_NAME) -> str:
    """``text`` reduced to letters, digits, ``_``, ``.`` and ``-`` (runs of others become ``-``), capped.

    Never empty, never ``.``/``..`` or hidden: usable as one file-name part whatever the server sent.
    A text that had to be changed gets a short hash of itself, so two ids reduced alike (``a/b``,
    ``a-b``) never name the same file.
    """
    name = _UNSAFE_NAME.sub("-", text).strip(".-")[:limit].rstrip(".-")
    if name == text:
        return name
    tag = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name[:limit - len(tag) - 1].rstrip('.-') or fallback}-{tag}"


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing any name that would land outside ``folder``."""
    path = folder / name
    if path.parent.resolve() != folder.resolve() or name in ("", ".", ".."):
        raise ValueError(f"refusing to write {name!r} outside {folder}")
    return path


def printable(text: str) -> str:
    """``text`` without control characters (newlines and tabs become spaces), for a terminal line."""
    return _CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "", text)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as parsed from a URL) names this machine: localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def safe_url(url: str) -> bool:
    """Whether a URL may be fetched: https, or plain http to this machine (a local sandbox)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return bool(host) and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host or "")))
