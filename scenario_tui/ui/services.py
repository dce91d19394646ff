"""The one typed way for screens and widgets to reach the app's services (engine, settings, clock)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from scenario_tui.ui.app import ScenarioApp


def app_of(node: DOMNode) -> ScenarioApp:
    """The running ``ScenarioApp`` (widgets are only ever mounted in one)."""
    from scenario_tui.ui.app import ScenarioApp

    app = node.app
    if not isinstance(app, ScenarioApp):
        raise TypeError(f"{type(node).__name__} needs a ScenarioApp, not {type(app).__name__}")
    return app
