"""Choosing the textual-image widget class for the terminal's graphics protocol.

textual-image asks the terminal what it supports when ``textual_image.renderable`` is first
imported, which must happen before Textual takes over stdin. ``choose`` is therefore called by
the launcher before the app runs; tests pass ``HalfcellImage`` to ``make_app`` directly.
"""

from __future__ import annotations

import logging
import sys

from textual.widget import Widget

PROTOCOL_NAMES = {
    "SixelImage": "sixel",
    "TGPImage": "kitty",
    "AutoImage": "auto",
    "HalfcellImage": "half-cell",
    "UnicodeImage": "unicode",
}


def choose(protocol: str) -> type[Widget] | None:
    """The image widget class for ``protocol`` (auto|sixel|kitty|halfcell|unicode|none).

    ``None`` means previews show file paths only. Any failure of terminal detection (0x0 pty,
    no TTY, a terminal that never answers) falls back quietly to half-cell or unicode.
    """
    if protocol == "none":
        return None
    logging.getLogger("textual_image").setLevel(logging.CRITICAL)
    try:
        from textual_image import widget
    except Exception:  # noqa: BLE001 - detection may fail in many ways; previews must not take the app down
        return _fallback()
    classes: dict[str, type[Widget]] = {
        "sixel": widget.SixelImage,
        "kitty": widget.TGPImage,
        "halfcell": widget.HalfcellImage,
        "unicode": widget.UnicodeImage,
    }
    if protocol in classes:
        return classes[protocol]
    if not sys.__stdout__ or not sys.__stdout__.isatty():
        return widget.UnicodeImage
    return widget.Image


def _fallback() -> type[Widget] | None:
    """Half-cell rendering with an assumed cell size, so the terminal isn't asked again."""
    try:
        from textual_image import _terminal

        _terminal.get_cell_size._result = _terminal.CellSize(10, 20)  # type: ignore[attr-defined]
        from textual_image.widget import HalfcellImage
    except Exception:  # noqa: BLE001
        return None
    return HalfcellImage


def protocol_name(image_cls: type[Widget] | None) -> str:
    if image_cls is None:
        return "none (paths only)"
    name = image_cls.__name__
    if name in ("Image", "AutoImage"):
        renderable = getattr(image_cls, "_Renderable", None)
        name = f"{getattr(renderable, '__module__', '').rsplit('.', 1)[-1]}"
        return {"tgp": "kitty", "halfcell": "half-cell"}.get(name, name or "auto")
    return PROTOCOL_NAMES.get(name, name)
