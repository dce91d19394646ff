"""Stored assets (uploads, inputs, results, thumbnails) and the signed CDN URLs they are served from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scenario_tui.sandbox.catalogue import OWNER

if TYPE_CHECKING:
    from PIL import Image

CDN_PREFIX = "/sandbox-cdn/"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEY_PAIR_ID = "SANDBOX"
URL_LIFETIME = 3600


class StoredAsset:
    """An image asset served as PNG. ``content`` is its encoded bytes (PNG kept as is, other formats converted on
    first use) or a function making the image on first use (a result, a thumbnail); either way only bytes stay."""

    def __init__(self, asset_id: str, size: tuple[int, int], content: bytes | Callable[[], Image.Image], *,
                 source: str, metadata: dict[str, Any], created: str, output_index: int | None = None) -> None:
        self.id = asset_id
        self.size = size
        self.source = source
        self.metadata = metadata
        self.created = created
        self.output_index = output_index
        self._png: bytes | None = None
        self._pending: bytes | Callable[[], Image.Image] | None = content
        if isinstance(content, bytes) and content.startswith(PNG_SIGNATURE):
            self._png, self._pending = content, None
        self._lock = threading.Lock()

    def png(self) -> bytes:
        """The image as PNG; thread-safe, made once, and the decoded image dropped."""
        with self._lock:
            if self._png is None:
                from scenario_tui.sandbox.render import decode, png_bytes

                pending = self._pending
                assert pending is not None
                self._png = png_bytes(decode(pending) if isinstance(pending, bytes) else pending())
                self._pending = None  # drop what it held (a scene, other encoded bytes)
            return self._png

    def to_json(self, url: str) -> dict[str, Any]:
        """The ``asset`` object of the API."""
        width, height = self.size
        data: dict[str, Any] = {
            "id": self.id,
            "url": url,
            "mimeType": "image/png",
            "kind": "image",
            "source": self.source,
            "status": "success",
            "privacy": "private",
            "authorId": OWNER,
            "ownerId": OWNER,
            "collectionIds": [],
            "editCapabilities": ["GENERATIVE_FILL", "REMOVE_BACKGROUND", "UPSCALE"],
            "tags": [],
            "metadata": {"kind": "image", **self.metadata},
            "properties": {"size": len(self.png()), "width": width, "height": height, "format": "png"},
            "createdAt": self.created,
            "updatedAt": self.created,
        }
        if self.output_index is not None:
            data["outputIndex"] = self.output_index
        return data


class Signer:
    """Signs and checks CloudFront-style URLs: ``?Expires=<epoch>&Signature=<b64>&Key-Pair-Id=SANDBOX``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def url(self, origin: str, asset_id: str, now: float) -> str:
        expires = int(now) + URL_LIFETIME
        return (f"{origin}{CDN_PREFIX}{asset_id}.png?Expires={expires}"
                f"&Signature={self._signature(asset_id, expires)}&Key-Pair-Id={KEY_PAIR_ID}")

    def problem(self, asset_id: str, raw_query: str, now: float) -> tuple[int, str] | None:
        """(status, reason) when the query is not exactly as signed or has expired, else None.

        The query is compared raw: a client that decodes or re-encodes it breaks the signature.
        """
        params: dict[str, str] = {}
        for part in raw_query.split("&"):
            key, _, value = part.partition("=")
            params[key] = value
        expires = params.get("Expires", "")
        if not expires.isdigit() or params.get("Key-Pair-Id") != KEY_PAIR_ID or "Signature" not in params:
            return 400, "Missing or malformed Expires, Signature or Key-Pair-Id in the signed URL"
        if not hmac.compare_digest(params["Signature"].encode(), self._signature(asset_id, int(expires)).encode()):
            return 400, "Signature does not match (was the URL's query string re-encoded?)"
        if int(expires) < now:
            return 403, "Request has expired"
        return None

    def _signature(self, asset_id: str, expires: int) -> str:
        """Base64 with its '=' padding (and often '/' or '+'), percent-encoded as a CDN would send it."""
        digest = hmac.new(self._key, f"{asset_id}:{expires}".encode(), hashlib.sha256).digest()[:16]
        return quote(base64.b64encode(digest).decode("ascii"), safe="")
