"""Light replacements for Textual widgets that cost a full restyle or rebuild on every focus change.

Each Tab press must feel instant on a 2-core box over SSH; these keep focus changes local.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """A footer that rebuilds only when the keys it shows change.

    Textual's footer recomposes on every focus change, even between two inputs with the same keys.
    """

    _shown: tuple[object, ...] | None = None
    FIRST = ("submit",)
    """Actions shown before all others, so a narrow terminal or many local keys never push them out."""

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = tuple((b.key, b.description, enabled) for _, b, enabled, _ in screen.active_bindings.values() if b.show)
        if shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        yield from sorted(keys, key=lambda key: not (isinstance(key, FooterKey) and key.action in self.FIRST))


class TextBar(Widget):
    """Text of a fixed height (set in CSS); changing it repaints without relayouting the screen.

    Plain strings are shown literally (never as markup).
    """

    DEFAULT_CSS = "TextBar { height: 1; }"

    text: reactive[str | Text] = reactive("", layout=False)

    def render(self) -> Text:
        return Text(self.text) if isinstance(self.text, str) else self.text


class FitBar(Widget):
    """One line showing the longest of its variants that fits the width (the last one is cut if none does)."""

    DEFAULT_CSS = "FitBar { height: 1; }"

    def __init__(self, variants: list[Text], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.variants = variants

    def render(self) -> Text:
        width = self.content_region.width
        return next((v for v in self.variants if v.cell_len <= width), self.variants[-1])


class SectionTitle(Static, can_focus=True):
    """The focusable heading of a section; Enter or Space folds it."""

    BINDINGS = [Binding("enter,space", "flip", "Fold/unfold", show=False)]

    class Toggle(Message):
        pass

    def action_flip(self) -> None:
        self.post_message(self.Toggle())

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Toggle())


class Section(Vertical):
    """A titled, foldable group of rows (Collapsible without its subtree-wide ``:focus-within`` rule).

    With ``build``, the rows are made on first unfolding, so start-up needn't build them.
    """

    DEFAULT_CSS = """
    Section { height: auto; }
    Section > SectionTitle { color: $text-muted; text-style: bold; padding: 0 0; }
    Section > SectionTitle:focus { color: $accent; background: $boost; }
    Section > .section-body { height: auto; padding-left: 1; }
    Section.-folded > .section-body { display: none; }
    """

    folded: reactive[bool] = reactive(False)

    class Built(Message):
        """The rows of a lazily built section now exist."""

    def __init__(self, title: str, *rows: Widget, folded: bool = False,
                 build: Callable[[], list[Widget]] | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._rows = rows
        self._build = build
        self.set_reactive(Section.folded, folded)
        self.set_class(folded, "-folded")

    def compose(self) -> ComposeResult:
        yield SectionTitle(self._heading())
        yield Vertical(*self._rows, classes="section-body")

    def _heading(self) -> str:
        return f"{'▶' if self.folded else '▼'} {self._title}"

    async def unfold(self) -> None:
        """Unfold, and return once the rows exist."""
        await self._ensure_built()
        self.folded = False

    async def _ensure_built(self) -> None:
        if self._build is not None:
            rows, self._build = self._build(), None
            await self.query_one(".section-body").mount_all(rows)
            self.post_message(self.Built())

    async def watch_folded(self, folded: bool) -> None:
        if not folded:
            await self._ensure_built()
        self.set_class(folded, "-folded")
        self.query_one(SectionTitle).update(self._heading())

    def on_section_title_toggle(self, event: SectionTitle.Toggle) -> None:
        event.stop()
        self.folded = not self.folded
