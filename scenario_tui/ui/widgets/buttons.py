"""Buttons for actions that also have a key: clickable, but not Tab stops (Tab goes field to field)."""

from textual.widgets import Button


class ShortcutButton(Button, can_focus=False):
    """A compact button whose action is also bound to a key shown in the footer."""

    def __init__(self, label: str, **kwargs: object) -> None:
        super().__init__(label, compact=True, **kwargs)  # type: ignore[arg-type]
