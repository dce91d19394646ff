"""Every key of the app, from the action registry, as the user's [keymap] has them."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from scenario_tui.ui.actions import ACTIONS, Where, keys_of
from scenario_tui.ui.services import app_of

# Keys that are Textual's own, listed so the help is complete (not remappable).
_BUILT_IN = {Where.APP: [("ctrl+p", "Command palette: every action by name"),
                         ("tab,shift+tab", "Next / previous field")]}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", show=False)]

    def key_rows(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        """(section, [(keys, description, binding id)]), keys as remapped and spelled in [keymap]."""
        app = app_of(self)

        def shown(keys: list[str]) -> str:
            return ", ".join(format_key(k) for k in keys)  # "ctrl+r, ctrl+enter"; "?" for question_mark

        sections = []
        for where in Where:
            rows = [(shown(keys_of(a.id, app.keymap.usable)) or "palette", a.title, a.id)
                    for a in ACTIONS if a.where[0] is where]
            rows += [(shown(keys.split(",")), title, "") for keys, title in _BUILT_IN.get(where, [])]
            if rows:
                sections.append((where.value, rows))
        return sections

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_column(style="dim")
        for title, rows in self.key_rows():
            table.add_row(Text(title, style="underline"), "", "")
            for keys, description, binding_id in rows:
                table.add_row(keys, description, binding_id)
            table.add_row("", "", "")
        with VerticalScroll(classes="dialog help"):
            yield Static("Keys  (Esc or q closes; the last column is the id to remap a key in [keymap]; "
                         "ctrl+p runs any action by name)", markup=False, classes="dialog-title")
            yield Static(table)
