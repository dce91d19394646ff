"""The context-crop switch under the mask: send only the mask's box (plus padding) and paste the result back."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static, Switch

NOTE = "sends only the mask's box + padding, pastes the result back; references are not cropped"


class ContextCrop(Vertical):
    """Off by default (``context_crop`` in the config); the padding is ``crop_padding``."""

    DEFAULT_CSS = """
    ContextCrop { layout: grid; grid-size: 2; grid-columns: 18 1fr; grid-rows: auto; height: auto; }
    ContextCrop > Horizontal { height: 1; }
    ContextCrop #crop-padding { width: 7; }
    ContextCrop .crop-label { color: $text-muted; }
    ContextCrop .crop-note { color: $text-muted; height: auto; column-span: 2; padding-left: 2; }
    ContextCrop Horizontal > Label { padding: 0 1; }
    """

    def __init__(self, on: bool, padding: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._on, self._default = on, padding

    def compose(self) -> ComposeResult:
        yield Label("Context crop", classes="crop-label")
        with Horizontal():
            yield Switch(value=self._on, id="context-crop")
            yield Label("padding")
            yield Input(str(self._default), id="crop-padding", type="integer", compact=True, max_length=4,
                        validate_on=())
            yield Label("px")
        yield Static(NOTE, classes="crop-note", markup=False)

    @property
    def padding(self) -> int | None:
        """The padding to crop with, or None when the switch is off (an empty or bad padding: the config's)."""
        if not self.query_one("#context-crop", Switch).value:
            return None
        text = self.query_one("#crop-padding", Input).value.strip()
        return min(4096, int(text)) if text.isdigit() else self._default
