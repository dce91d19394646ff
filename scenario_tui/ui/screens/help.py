"""Every key of the app, gathered from the bindings themselves (so it can't go stale)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static


def _sections() -> list[tuple[str, list[Binding]]]:
    from scenario_tui.ui.app import ScenarioApp
    from scenario_tui.ui.screens.main import MainScreen
    from scenario_tui.ui.widgets.file_field import FileField
    from scenario_tui.ui.widgets.jobs import JobPanel
    from scenario_tui.ui.widgets.preview import Preview
    from scenario_tui.ui.widgets.references import ReferenceList

    def bindings(cls: type[DOMNode]) -> list[Binding]:
        return [b for b in cls.BINDINGS if isinstance(b, Binding) and b.description]

    return [
        ("Everywhere", bindings(ScenarioApp) + bindings(MainScreen)
         + [Binding("ctrl+p", "command_palette", "Command palette: every action by name")]
         + [Binding("tab,shift+tab", "", "Next / previous field")]),
        ("File fields", bindings(FileField)),
        ("References", bindings(ReferenceList)),
        ("Job panel", bindings(JobPanel)),
        ("Preview", bindings(Preview)),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", show=False)]

    def key_rows(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        """(section, [(keys as displayed, description, binding id)]), keys as remapped in [keymap]."""
        keymap: dict[str, str] = self.app.settings.keymap  # type: ignore[attr-defined]
        sections = []
        for title, bindings in _sections():
            rows = []
            for b in bindings:
                key = keymap.get(b.id, b.key) if b.id else b.key
                keys = " / ".join(self.app.get_key_display(Binding(k.strip(), "")) for k in key.split(","))
                rows.append((keys, b.description, b.id or ""))
            if rows:
                sections.append((title, rows))
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
            yield Static("Keys  (Esc closes; the last column is the id to remap a key in [keymap])", markup=False,
                         classes="dialog-title")
            yield Static(table)
