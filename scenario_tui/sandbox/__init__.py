"""Embedded simulator of the Scenario API (in-process httpx transport and a local server)."""

from scenario_tui.sandbox.config import SandboxConfig
from scenario_tui.sandbox.state import Sandbox
from scenario_tui.sandbox.transport import SandboxTransport, SyncSandboxTransport

__all__ = ["Sandbox", "SandboxConfig", "SandboxTransport", "SyncSandboxTransport"]
