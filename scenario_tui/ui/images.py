"""Choosing the image widget class for the terminal's graphics protocol.

The terminal is asked what it can draw (:mod:`scenario_tui.ui.terminal`) before Textual takes
over stdin, by ``choose``, which the launcher calls before the app runs; tests pass
``HalfcellImage`` to ``make_app`` directly. textual-image's own detection (which sends the kitty
query to every terminal, leaving it as text in rxvt-unicode and as the tmux window name) is kept
from running: its cell size is filled in from our measurement and its queries are stubbed out
while it is imported.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import cast

from textual.filter import LineFilter, Monochrome, NoColor
from textual.widget import Widget

from scenario_tui.ui import terminal

PROTOCOL_NAMES = {
    "SixelImage": "sixel",
    "TGPImage": "kitty",
    "AutoImage": "auto",
    "HalfcellImage": "half-cell",
    "UnicodeImage": "unicode",
}

detected: tuple[terminal.Probe, terminal.Decision] | None = None
"""What ``choose`` found out and decided (None until it ran, e.g. in tests)."""


def choose(protocol: str) -> type[Widget] | None:
    """The image widget class for ``protocol`` (auto|sixel|kitty|halfcell|unicode|none).

    ``None`` means previews show file paths only. Any failure of terminal detection (0x0 pty,
    no TTY, a terminal that never answers) falls back quietly to half-cell or unicode.
    """
    global detected
    if protocol == "none":
        return None
    logging.getLogger("textual_image").setLevel(logging.CRITICAL)
    try:
        found = terminal.probe()
    except Exception:  # noqa: BLE001 - a terminal that can't be asked must not stop the app
        found = terminal.Probe()
    decision = terminal.decide(found, protocol)
    detected = found, decision
    try:
        set_cell_size(found.cell)
        with _textual_image_asks_nothing():
            from textual_image import widget
    except Exception:  # noqa: BLE001 - detection may fail in many ways; previews must not take the app down
        return _fallback()
    from scenario_tui.ui import sixel

    sixel.set_registers(found.registers)
    classes: dict[str, type[Widget]] = {
        "sixel": sixel.SixelImage,
        "kitty": widget.TGPImage,
        "halfcell": widget.HalfcellImage,
        "unicode": widget.UnicodeImage,
    }
    return classes.get(decision.protocol, widget.HalfcellImage)


@contextmanager
def _textual_image_asks_nothing() -> Iterator[None]:
    """Import textual-image with its terminal queries answering "no" at once, writing nothing."""
    from textual_image import _terminal

    original = _terminal.capture_terminal_response

    @contextmanager
    def refuse(*args: object, **kwargs: object) -> Iterator[object]:
        raise _terminal.TerminalError("scenario-tui asked the terminal already")
        yield  # pragma: no cover

    _terminal.capture_terminal_response = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        _terminal.capture_terminal_response = original


def set_cell_size(cell: tuple[int, int]) -> bool:
    """Tell textual-image the terminal's cell size in pixels; True when it changed."""
    from textual_image import _terminal

    new = _terminal.CellSize(*cell)
    changed = getattr(_terminal.get_cell_size, "_result", None) != new
    _terminal.get_cell_size._result = new  # type: ignore[attr-defined]
    return changed


def cell_size() -> tuple[int, int]:
    """The cell size textual-image works with (measured by ``choose``; VT340's when unknown)."""
    from textual_image import _terminal

    result = getattr(_terminal.get_cell_size, "_result", None)
    return (result.width, result.height) if result else terminal.ASSUMED_CELL


def remeasure_cell_size() -> bool:
    """Measure the cell size again (after a resize or a font change) without asking the terminal.

    True when it changed, so images must be redrawn at the new size. Only the kernel's window
    size (and TEXTUAL_CELL_WIDTH/HEIGHT) can be read while Textual owns stdin.
    """
    measured = terminal.measure_cell()
    return measured is not None and set_cell_size(measured[0])


def _fallback() -> type[Widget] | None:
    """Half-cell rendering with an assumed cell size, so the terminal isn't asked again."""
    try:
        set_cell_size(terminal.ASSUMED_CELL)
        with _textual_image_asks_nothing():
            from textual_image.widget import HalfcellImage
    except Exception:  # noqa: BLE001
        return None
    return HalfcellImage


class _KeepsColour:
    """Mixin for text-drawn images: NO_COLOR is about text styling, so pictures keep their colours."""

    def get_line_filters(self) -> Sequence[LineFilter]:
        filters: Sequence[LineFilter] = super().get_line_filters()  # type: ignore[misc]
        return [f for f in filters if not isinstance(f, NoColor | Monochrome)]


@cache
def in_colour(image_cls: type[Widget]) -> type[Widget]:
    """``image_cls`` drawing its pixels in colour under NO_COLOR (same name, so same protocol name).

    Sixel and kitty send pixels past Textual's filters already; half-cell and unicode images are
    coloured cells, which the NO_COLOR filter would turn grey.
    """
    renderable = getattr(image_cls, "_Renderable", None)
    if renderable is None:
        return image_cls
    kwargs = {"Renderable": renderable}
    made = types.new_class(image_cls.__name__, (_KeepsColour, image_cls), kwargs,
                           lambda ns: ns.update(__module__=__name__))
    return cast(type[Widget], made)


def is_graphics(image_cls: type[Widget] | None) -> bool:
    """True for protocols that draw pixels over the cells (sixel, kitty), which a scrolling view tears."""
    return image_cls is not None and protocol_name(image_cls) in ("sixel", "kitty")


def thumbnail_class(image_cls: type[Widget] | None) -> type[Widget] | None:
    """The widget for thumbnails inside the scrolling form: half-cell where previews draw pixels.

    Sixel and kitty pixels don't move when the form scrolls (a stale copy stays behind) and a
    modal's border drawn over them is left there; text-based half-cells have neither problem.
    """
    if not is_graphics(image_cls):
        return in_colour(image_cls) if image_cls is not None else None
    from textual_image.widget import HalfcellImage

    return in_colour(HalfcellImage)


def protocol_name(image_cls: type[Widget] | None) -> str:
    if image_cls is None:
        return "none (paths only)"
    name = image_cls.__name__
    if name in ("Image", "AutoImage"):
        renderable = getattr(image_cls, "_Renderable", None)
        name = f"{getattr(renderable, '__module__', '').rsplit('.', 1)[-1]}"
        return {"tgp": "kitty", "halfcell": "half-cell"}.get(name, name or "auto")
    return PROTOCOL_NAMES.get(name, name)
