"""Choosing a model: the workspace's inpaint + IP-Adapter models, filtered as you type, or a typed model id."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.worker import Worker, WorkerState

from scenario_tui.core.api import ApiError, ForbiddenError, GoneError, ModelInfo
from scenario_tui.core.boundary import printable
from scenario_tui.ui.services import app_of

LOADING = "Loading models…"
EMPTY = (
    "No models with the inpaint + IP-Adapter capability in this workspace. "
    "Scenario retired SD 1.5/SDXL types in 2026; type a model id and press Enter."
)
_GROUP = "list-models"


def failure_text(error: BaseException) -> str:
    """The status line for a failed listing: what happened, and that a typed id still works."""
    if isinstance(error, ForbiddenError):
        return f"Your plan or project can't list models ({error}). Type a model id."
    if isinstance(error, GoneError):
        return f"Model listing is retired ({error}). Type a model id."
    text = str(error) if isinstance(error, ApiError) else f"{type(error).__name__}: {error}"
    return f"{text.rstrip('. ')}. Type a model id."


def _matches(model: ModelInfo, query: str) -> bool:
    return any(query in field.casefold() for field in (model.name, model.id, model.type))


class ModelPicker(ModalScreen[ModelInfo | str | None]):
    """Returns the chosen ModelInfo, a typed model id (when nothing matches), or None (Escape)."""

    DEFAULT_CSS = """
    ModelPicker { align: center middle; }
    ModelPicker > Vertical {
        width: 90%; max-width: 110; height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ModelPicker OptionList { height: 1fr; }
    ModelPicker .picker-status { height: auto; color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._models: list[ModelInfo] = []
        self._shown: list[ModelInfo] = []
        self._listing: str | None = LOADING  # what the status says about the listing; None: models listed

    def compose(self) -> ComposeResult:
        with Vertical() as dialog:
            dialog.border_title = "Choose a model"
            yield Input(placeholder="filter by name, id or type — or type a model id", classes="picker-search")
            yield OptionList(classes="picker-models")
            yield Static(LOADING, markup=False, classes="picker-status")

    def on_mount(self) -> None:
        self.query_one(".picker-search", Input).focus()
        self._load()

    @work(exclusive=True, group=_GROUP, exit_on_error=False)
    async def _load(self) -> list[ModelInfo]:
        return await app_of(self).client.list_models()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != _GROUP:
            return
        if event.state is WorkerState.SUCCESS:
            self._models = list(worker.result or ())
            self._listing = None if self._models else EMPTY
        elif event.state is WorkerState.ERROR and worker.error is not None:
            self._listing = failure_text(worker.error)
        else:
            return
        self._refresh()

    @on(Input.Changed, ".picker-search")
    def _refresh(self) -> None:
        query = self._query().casefold()
        self._shown = [m for m in self._models if _matches(m, query)]
        options = self.query_one(OptionList)
        options.set_options(Text(printable(f"{m.name} — {m.type or '?'} — {m.id}")) for m in self._shown)
        if self._shown:
            options.highlighted = 0
        self.query_one(".picker-status", Static).update(self._status())

    def _query(self) -> str:
        return self.query_one(".picker-search", Input).value.strip()

    def _status(self) -> str:
        if self._listing is not None:
            lines = [self._listing]
        else:
            lines = [f"{len(self._shown)} of {len(self._models)} models · Enter chooses · Escape cancels"]
        if self._query() and not self._shown:
            lines.append(f"Enter uses “{self._query()}” as a model id")
        return "\n".join(lines)

    @on(Input.Submitted, ".picker-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        highlighted = self.query_one(OptionList).highlighted
        if self._shown and highlighted is not None:
            self.dismiss(self._shown[highlighted])
        elif self._query():
            self.dismiss(self._query())

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._shown[event.option_index])

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if delta > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
