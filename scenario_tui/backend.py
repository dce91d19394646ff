"""The API client the settings ask for: the embedded sandbox or the live Scenario API."""

from __future__ import annotations

import httpx

from scenario_tui.config import Settings
from scenario_tui.core.api import ScenarioClient

SANDBOX_BASE_URL = "https://sandbox.scenario-tui.invalid/v1"
# Placeholders the sandbox accepts; unusual enough that scrubbing them from messages changes nothing else.
SANDBOX_KEY, SANDBOX_SECRET = "sbx-key-0d1f", "sbx-secret-7c2e"


def make_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> ScenarioClient:
    """A client for the live API, or for the in-process sandbox when ``settings.use_sandbox``.

    ``transport`` replaces the network (tests pass the sandbox's or a mock transport).
    """
    if settings.use_sandbox:
        if transport is None:
            from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport

            transport = SandboxTransport(Sandbox(SandboxConfig(job_seconds=settings.sandbox_job_seconds)))
        return ScenarioClient(SANDBOX_KEY, SANDBOX_SECRET, base_url=SANDBOX_BASE_URL, transport=transport)
    key, secret = settings.credentials or ("", "")
    return ScenarioClient(key, secret, base_url=settings.base_url, transport=transport)
