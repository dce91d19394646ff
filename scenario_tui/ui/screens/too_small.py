"""Shown instead of the app while the terminal is smaller than it can lay out without overlapping."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Static

from scenario_tui.ui.services import app_of


class TooSmallScreen(Screen[None]):
    """Asks for a bigger terminal, saying how big it is now; the app removes it once the terminal fits."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen > Static { width: auto; max-width: 100%; height: auto; padding: 0 1; text-align: center; }
    """

    def __init__(self, minimum: Size) -> None:
        super().__init__()
        self.minimum = minimum

    def compose(self) -> ComposeResult:
        yield Static(self._text(self.app.size), markup=False)

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(Static).update(self._text(event.size))

    def on_screen_resume(self) -> None:
        """Back on top (a dialog over it closed): the terminal may have grown meanwhile."""
        size = self.app.size
        if size.width >= self.minimum.width and size.height >= self.minimum.height:
            self.dismiss()

    def _text(self, size: Size) -> str:
        return (f"Make the terminal at least {self.minimum.width}x{self.minimum.height} "
                f"(now {size.width}x{size.height}).\n{app_of(self).keys_text('quit')} quits.")
