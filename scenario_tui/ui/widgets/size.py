"""The size row's tools under Width/Height: "Match input" and "Lock aspect".

They own their widgets and only say what the size should be (``SizeTools.Wanted``); the form,
which owns the Width and Height fields, applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Label, Switch

from scenario_tui.core import params as P
from scenario_tui.core.engine import size_from_input

SIZE_STEP = 8  # widths and heights the API takes are multiples of 8


class SizeTools(Horizontal):
    """Match the input image's size; keep its aspect while one side is typed."""

    @dataclass
    class Wanted(Message):
        """Width and/or height should become these values (``None``: leave that side as it is)."""

        width: int | None
        height: int | None

    @dataclass
    class Unmatched(Message):
        """"Match input" was asked for without an input image."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="size-tools")
        self.image_size: tuple[int, int] | None = None
        self.model: P.ModelLike | None = None  # whose size limits apply; set by whoever knows the model

    def compose(self) -> ComposeResult:
        yield Button("Match input", id="match-input", compact=True)
        yield Label("Lock aspect", classes="switch-label")
        yield Switch(id="aspect-lock")

    @property
    def locked(self) -> bool:
        return self.query_one("#aspect-lock", Switch).value

    def toggle_lock(self) -> None:
        self.query_one("#aspect-lock", Switch).toggle()

    def match(self) -> None:
        """Ask for the input image's size, fitted to the model's limits."""
        if self.image_size is None:
            self.post_message(self.Unmatched())
            return
        width, height = size_from_input(self.image_size, self.model)
        self.post_message(self.Wanted(width, height))

    def follow(self, side: str, text: str) -> None:
        """One side was typed: with the aspect locked, ask for the other side in the input's proportions."""
        if not self.locked or self.image_size is None or not text.isdigit():
            return
        w, h = self.image_size
        value = int(text)
        derived = value * h / w if side == "width" else value * w / h
        other = max(SIZE_STEP, round(derived / SIZE_STEP) * SIZE_STEP)
        self.post_message(self.Wanted(None, other) if side == "width" else self.Wanted(other, None))

    @on(Button.Pressed, "#match-input")
    def _match_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.match()
