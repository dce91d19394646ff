"""The IP-Adapter reference images: rows of (image or asset id, scale), added, removed and reordered by key."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input

from scenario_tui.ui.actions import Where, bindings
from scenario_tui.ui.services import app_of
from scenario_tui.ui.widgets.file_field import FileField
from scenario_tui.ui.widgets.buttons import ShortcutButton


class ReferenceRow(Horizontal):
    """One reference: its file field, its scale and a remove button."""

    DEFAULT_CSS = """
    ReferenceRow { height: auto; }
    ReferenceRow > FileField { width: 1fr; }
    ReferenceRow > .reference-scale { width: 11; margin-left: 1; }
    ReferenceRow > .reference-remove { width: auto; min-width: 6; margin-left: 1; }
    """

    def __init__(self, path: str = "", scale: str = "") -> None:
        super().__init__()
        self.field = FileField("reference", path)
        self.scale = Input(scale, placeholder="scale 0.9", valid_empty=True, classes="reference-scale",
                           compact=True, tooltip="How strongly this reference guides the result (0-1)")

    def compose(self) -> ComposeResult:
        yield self.field
        yield self.scale
        keys = app_of(self).keys_text("remove-reference")
        yield ShortcutButton("Remove", classes="reference-remove", tooltip=f"Remove this reference ({keys})")


class ReferenceList(Widget):
    """Reference images with their scales; never fewer than one row (an empty row means "none")."""

    DEFAULT_CSS = """
    ReferenceList { height: auto; }
    ReferenceList > Vertical { height: auto; }
    ReferenceList > .reference-add { width: auto; }
    """

    BINDINGS = bindings(Where.REFERENCES)

    class Changed(Message):
        """Posted on any change: a file loaded, a scale typed, a row added, removed or moved."""

        def __init__(self, reference_list: ReferenceList) -> None:
            super().__init__()
            self.reference_list = reference_list

        @property
        def control(self) -> ReferenceList:
            return self.reference_list

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows = Vertical()

    def compose(self) -> ComposeResult:
        with self._rows:
            yield ReferenceRow()
        keys = app_of(self).keys_text("add-reference")
        yield ShortcutButton("+ Add reference", classes="reference-add", tooltip=f"Add a reference ({keys})")

    def rows(self) -> list[tuple[FileField, str]]:
        """(file field, scale text) per row, in order; the scale text is unchecked."""
        return [(row.field, row.scale.value) for row in self._rows.query_children(ReferenceRow)]

    def set_rows(self, rows: Sequence[tuple[str, str]]) -> AwaitComplete:
        """Replace all rows with (path or asset id, scale text) pairs, e.g. restoring saved state."""

        async def replace() -> None:
            await self._rows.remove_children()
            await self._rows.mount_all([ReferenceRow(path, scale) for path, scale in rows] or [ReferenceRow()])
            self._changed()

        return AwaitComplete(replace()).call_next(self)

    # --- actions

    async def action_add_row(self) -> None:
        row = ReferenceRow()
        await self._rows.mount(row)
        row.field.focus()
        self._changed()

    async def action_remove_row(self) -> None:
        if (row := self._current_row()) is not None:
            await self._remove(row)

    def action_move_row(self, delta: int) -> None:
        row = self._current_row()
        if row is None:
            return
        siblings = list(self._rows.query_children(ReferenceRow))
        target = siblings.index(row) + delta
        if not 0 <= target < len(siblings):
            return
        if delta < 0:
            self._rows.move_child(row, before=siblings[target])
        else:
            self._rows.move_child(row, after=siblings[target])
        self._changed()

    # --- events

    @on(Button.Pressed, ".reference-add")
    async def _add_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.action_add_row()

    @on(Button.Pressed, ".reference-remove")
    async def _remove_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if isinstance(row := event.button.parent, ReferenceRow):
            await self._remove(row)

    @on(FileField.Changed)
    @on(Input.Changed, ".reference-scale")
    def _row_changed(self, event: FileField.Changed | Input.Changed) -> None:
        event.stop()
        self._changed()

    @on(Input.Submitted, ".reference-scale")
    def _scale_submitted(self, event: Input.Submitted) -> None:
        event.stop()

    # --- helpers

    def _changed(self) -> None:
        self.post_message(self.Changed(self))

    def _current_row(self) -> ReferenceRow | None:
        """The row holding the focus, if any."""
        node: DOMNode | None = self.screen.focused
        while node is not None and node is not self:
            if isinstance(node, ReferenceRow):
                return node
            node = node.parent
        return None

    async def _remove(self, row: ReferenceRow) -> None:
        """Remove ``row``, or just clear it when it is the only one; the focus moves to a neighbour."""
        siblings = list(self._rows.query_children(ReferenceRow))
        if len(siblings) == 1:
            row.field.set_value("")
            row.scale.value = ""
            row.field.focus()
            return
        index = siblings.index(row)
        neighbour = siblings[index + 1] if index + 1 < len(siblings) else siblings[index - 1]
        had_focus = self._current_row() is row
        await row.remove()
        if had_focus:
            neighbour.field.focus()
        self._changed()
