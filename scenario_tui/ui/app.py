"""The Textual application and its single construction path, ``make_app``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.command import Hit, Hits
from textual.dom import DOMNode
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.system_commands import SystemCommandsProvider
from textual.widget import Widget

from scenario_tui.backend import Sleep, make_engine
from scenario_tui.config import Settings
from scenario_tui.core.api import ScenarioClient
from scenario_tui.core.boundary import printable
from scenario_tui.core.engine import Engine
from scenario_tui.core.store import Store
from scenario_tui.ui.actions import (ACTIONS, Action, KeymapCheck, Where, bindings, check_keymap, keys_text,
                                     matched_spans, palette_score)
from scenario_tui.ui.images import protocol_name
from scenario_tui.ui.state import UiState
from scenario_tui.ui.timings import Timings

if TYPE_CHECKING:
    from scenario_tui.ui.screens.main import MainScreen


class ActionCommands(SystemCommandsProvider):
    """The palette's commands, found by the words of their names: every typed word starts a word of the name."""

    async def search(self, query: str) -> Hits:
        for title, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            if score := palette_score(query, title):
                shown = Text(title)
                for start, end in matched_spans(query, title):
                    shown.stylize("bold underline", start, end)
                yield Hit(score, shown, callback, help=help_text)


HANG_UP = (signal.SIGTERM, signal.SIGHUP)
INTERRUPTED = 130  # the exit code after a signal, as in the CLI


class ScenarioApp(App[int]):
    """Inpaint + IP-Adapter: inputs and parameters on the left, preview and jobs on the right."""

    TITLE = "scenario-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {ActionCommands}
    BINDINGS = bindings(Where.APP)
    MIN_SIZE = Size(80, 24)  # below it the panes overlap: a screen asks for a bigger terminal instead

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
        self.keymap: KeymapCheck = keymap_check(settings)
        self.unfinished_at_exit = 0  # runs the store still had unfinished when the app stopped
        self.signals = signals  # SIGTERM and SIGHUP end the app (the launcher's app; tests that send them)

    @property
    def client(self) -> ScenarioClient:
        return self.engine.client

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast (and their server text) without control characters."""
        super().notify(printable(message), title=printable(title), severity=severity, timeout=timeout,
                       markup=markup)

    def keys_text(self, action_id: str) -> str:
        """An action's keys as [keymap] has them, for hints ("ctrl+r or ctrl+enter")."""
        return keys_text(action_id, self.keymap.usable)

    def on_mount(self) -> None:
        if self.keymap.usable:
            self.set_keymap(self.keymap.usable)
        for warning in self.keymap.warnings:
            self.notify(warning, title="Key map", severity="warning", timeout=20, markup=False)
        if self.signals:
            for signum in HANG_UP:
                asyncio.get_running_loop().add_signal_handler(signum, self.hang_up)
        self._fit(self.size)

    def hang_up(self) -> None:
        """SIGTERM, or SIGHUP (the SSH session or terminal closed): leave at once, without asking, as Ctrl-C
        does in the CLI. The form is saved; running jobs stay in the store and are followed again at the
        next start (or with scenario-tui resume)."""
        self.exit(INTERRUPTED, return_code=INTERRUPTED)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size)

    def _fit(self, size: Size) -> None:
        """Below ``MIN_SIZE`` a screen asks for a bigger terminal; it goes when the terminal is big enough."""
        from scenario_tui.ui.screens.too_small import TooSmallScreen

        small = size.width < self.MIN_SIZE.width or size.height < self.MIN_SIZE.height
        shown = isinstance(self.screen, TooSmallScreen)
        if small and not shown:
            self.push_screen(TooSmallScreen(self.MIN_SIZE))
        elif shown and not small:
            self.pop_screen()

    def get_default_screen(self) -> Screen[Any]:
        from scenario_tui.ui.screens.main import MainScreen

        return MainScreen()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own (theme, screenshot…), then every action of the registry that applies on ``screen``."""
        ours = {"Quit", "Keys"}  # the registry has its own quit and help
        yield from (c for c in super().get_system_commands(screen) if c.title not in ours)
        from scenario_tui.ui.screens.history import HistoryScreen
        from scenario_tui.ui.screens.mask_editor import MaskEditor
        from scenario_tui.ui.screens.main import MainScreen

        for action in ACTIONS:
            if not action.palette:
                continue
            if Where.APP in action.where:
                yield self._command(action, lambda: self)
            elif Where.MASK_EDITOR in action.where:
                if isinstance(screen, MaskEditor):
                    yield self._command(action, partial(lambda s: s, screen))
            elif Where.HISTORY in action.where:
                if isinstance(screen, HistoryScreen):
                    yield self._command(action, partial(lambda s: s, screen))
            elif isinstance(screen, MainScreen):
                yield self._command(action, partial(screen.target, action))

    def _command(self, action: Action, node: Callable[[], DOMNode | None]) -> SystemCommand:
        """A palette entry running ``action`` on ``node()``, found when it runs (the focus is back by then)."""

        async def run() -> None:
            if (where := node()) is not None:
                await self.run_action(action.action, where)

        keys = self.keys_text(action.id) if action.keys else "no key"
        return SystemCommand(action.title, f"{action.help}  ({keys})", run)

    def action_help(self) -> None:
        from scenario_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def _main(self) -> MainScreen | None:
        from scenario_tui.ui.screens.main import MainScreen

        screen = self.screen_stack[0] if self.screen_stack else None
        return screen if isinstance(screen, MainScreen) else None

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Remember the form before leaving, however the app is left."""
        main = self._main()
        if main is not None and main.is_mounted:
            main.save_state()
        super().exit(*args, **kwargs)

    async def action_quit(self) -> None:
        main = self._main()
        running = main.running_jobs() if main is not None else 0
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
        self.unfinished_at_exit = len(self.engine.store.unfinished())
        if self.signals:
            for signum in HANG_UP:
                asyncio.get_running_loop().remove_signal_handler(signum)
        await self.client.aclose()
        self.engine.store.close()


def keymap_check(settings: Settings) -> KeymapCheck:
    """The [keymap] of the settings, checked against the actions (warnings name the file and the entry)."""
    return check_keymap(settings.keymap, str(settings.config_file or "SCENARIO_TUI_KEYMAP"))


def mouse_wanted(environ: Mapping[str, str]) -> bool:
    """Whether to ask the terminal for mouse reports: not in GNU screen (``STY`` is set), which then holds
    a lone Escape until the next key arrives (it waits for the rest of a mouse report); keys do everything."""
    return not environ.get("STY")


def exit_code(app: ScenarioApp) -> tuple[int, list[str]]:
    """How the app ended: its exit code, and what to say on stderr after an error (never 0 after a crash)."""
    code = app.return_code or 0
    if not code:
        return 0, []
    said = ["scenario-tui was stopped by a signal." if code == INTERRUPTED else
            "scenario-tui stopped on an error (shown above)."]
    if app.unfinished_at_exit:
        n = app.unfinished_at_exit
        where = "In the sandbox they stopped with the app." if app.sandbox else \
            "They are kept in the run store and followed again at the next start (or with scenario-tui resume)."
        said.append(f"{n} run{'s' if n != 1 else ''} had not finished. {where}")
    return code, said


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
    for warning in app.keymap.warnings:  # left on the terminal's main screen, seen after quitting
        print(f"warning: {warning}", file=sys.stderr)
    app.run(mouse=mouse_wanted(os.environ))
    code, said = exit_code(app)
    try:
        for line in said:
            print(line, file=sys.stderr)
    except OSError:  # the terminal went away (SIGHUP): the exit code still says it
        pass
    return code
