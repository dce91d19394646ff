"""The Textual application and its single construction path, ``make_app``."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

from scenario_tui.backend import Sleep, make_engine
from scenario_tui.config import Settings
from scenario_tui.core.api import ScenarioClient
from scenario_tui.core.boundary import printable
from scenario_tui.core.engine import Engine
from scenario_tui.core.store import Store
from scenario_tui.ui.images import protocol_name
from scenario_tui.ui.state import UiState
from scenario_tui.ui.timings import Timings


HANG_UP = (signal.SIGTERM, signal.SIGHUP)
INTERRUPTED = 130  # the exit code after a signal, as in the CLI


class ScenarioApp(App[int]):
    """Inpaint + IP-Adapter: inputs and parameters on the left, preview and jobs on the right."""

    TITLE = "scenario-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("question_mark,f1", "help", "Help", id="help"),
    ]

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        image_cls: type[Widget] | None,
        *,
        ui_state: UiState | None = None,
        clock: Callable[[], float] = time.time,
        timings: Timings | None = None,
        signals: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine
        self.image_cls = image_cls
        self.protocol = protocol_name(image_cls)
        self.ui_state = ui_state if ui_state is not None else UiState.load()
        self.clock = clock  # wall-clock seconds, like the store's times
        self.timings = timings if timings is not None else Timings()
        self.sandbox = settings.use_sandbox
        self.signals = signals  # SIGTERM and SIGHUP end the app (the launcher's app; tests that send them)

    @property
    def client(self) -> ScenarioClient:
        return self.engine.client

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast (and their server text) without control characters."""
        super().notify(printable(message), title=printable(title), severity=severity, timeout=timeout,
                       markup=markup)

    def on_mount(self) -> None:
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.signals:
            for signum in HANG_UP:
                asyncio.get_running_loop().add_signal_handler(signum, self.hang_up)

    def hang_up(self) -> None:
        """SIGTERM, or SIGHUP (the SSH session or terminal closed): leave at once, without asking, as Ctrl-C
        does in the CLI. The form is saved; running jobs stay in the store and are followed again at the
        next start (or with scenario-tui resume)."""
        self.exit(INTERRUPTED, return_code=INTERRUPTED)

    def get_default_screen(self) -> Screen[Any]:
        from scenario_tui.ui.screens.main import MainScreen

        return MainScreen()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: all keys", "List every key binding", self.action_help)
        commands = getattr(screen, "commands", None)
        if commands is not None:
            yield from commands()

    def action_help(self) -> None:
        from scenario_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def _main(self) -> Any:
        return self.screen_stack[0] if self.screen_stack else None

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Remember the form before leaving, however the app is left."""
        save = getattr(self._main(), "save_state", None)
        if save is not None and self._main().is_mounted:
            save()
        super().exit(*args, **kwargs)

    async def action_quit(self) -> None:
        running = getattr(self._main(), "running_jobs", lambda: 0)()
        if not running:
            self.exit(0)
            return
        from scenario_tui.ui.screens.confirm import ConfirmScreen

        where = "in the sandbox, they stop with the app" if self.sandbox else "they keep running (and are charged) " \
            "on Scenario, and are followed again at the next start (or with scenario-tui resume)"
        question = f"{running} job{'s' if running != 1 else ''} still running: {where}. Quit anyway?"

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answer)

    async def on_unmount(self) -> None:
        if self.signals:
            for signum in HANG_UP:
                asyncio.get_running_loop().remove_signal_handler(signum)
        await self.client.aclose()
        self.engine.store.close()


def make_app(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    image_cls: type[Widget] | None = None,
    *,
    store: Store | None = None,
    retry_sleep: Sleep | None = None,
    app_cls: type[ScenarioApp] | None = None,
    **kw: Any,
) -> ScenarioApp:
    """The one way to build the app: for the launcher, the tests and the snapshots.

    ``transport`` replaces the network (the sandbox's, or a mock); ``image_cls`` is the
    textual-image widget class for previews (``None``: paths only); ``store`` replaces the
    run store in the data folder; ``retry_sleep`` the client's waits between retries;
    ``app_cls`` a subclass (tests that show one widget on the real services); ``timings`` (in
    ``kw``) the UI's debounces and cooldowns.
    """
    return (app_cls or ScenarioApp)(settings, make_engine(settings, transport, store, retry_sleep), image_cls, **kw)


def run(settings: Settings) -> int:
    """Launch the TUI in this terminal; returns the exit code."""
    from scenario_tui.ui.images import choose

    image_cls = choose(settings.image_protocol)  # before Textual owns stdin: textual-image asks the terminal now
    app = make_app(settings, image_cls=image_cls, signals=True)
    return app.run() or 0
