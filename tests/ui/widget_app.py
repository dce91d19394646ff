"""The app's own class around a single widget, so widgets reach their services as in the app: ``app_of``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual_image.widget import HalfcellImage

from scenario_tui.backend import make_engine
from scenario_tui.config import load_settings
from scenario_tui.core.store import Store
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.app import ScenarioApp
from scenario_tui.ui.state import UiState


class WidgetApp(ScenarioApp):
    """A ``ScenarioApp`` on an in-process sandbox and a store of its own, showing only what ``compose`` yields
    (no main screen, any terminal size)."""

    MIN_SIZE = Size(0, 0)

    def __init__(self, image_cls: type[Widget] | None = HalfcellImage) -> None:
        folder = Path(tempfile.mkdtemp(prefix="widget-app-"))
        settings, _ = load_settings(output_dir=folder / "out")
        engine = make_engine(settings, SandboxTransport(Sandbox(SandboxConfig(job_seconds=0))),
                             Store(folder / "runs.sqlite3"))
        super().__init__(settings, engine, image_cls, ui_state=UiState())

    def get_default_screen(self) -> Screen[Any]:
        return Screen()
