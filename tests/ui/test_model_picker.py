"""ModelPicker: listing from the sandbox, filtering, choosing, typed ids, and every failure explained."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from scenario_tui.core.api import ModelInfo, ScenarioClient
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.screens.model_picker import EMPTY, LOADING, ModelPicker
from tests.ui.widget_app import WidgetApp

BASE_URL = "https://sandbox.local/v1"
UNSET = object()


class PickerApp(WidgetApp):
    def __init__(self, client: ScenarioClient) -> None:
        super().__init__()
        self._client = client
        self.result: object = UNSET

    @property
    def client(self) -> ScenarioClient:
        return self._client

    def on_mount(self) -> None:
        self.push_screen(ModelPicker(), self._chosen)

    def _chosen(self, result: ModelInfo | str | None) -> None:
        self.result = result


def sandbox_client(**knobs: object) -> ScenarioClient:
    transport = SandboxTransport(Sandbox(SandboxConfig(**knobs)))  # type: ignore[arg-type]
    return ScenarioClient("sandbox-key", "sandbox-secret", base_url=BASE_URL, transport=transport)


def mock_client(handler: Callable[[httpx.Request], object]) -> ScenarioClient:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return ScenarioClient("sandbox-key", "sandbox-secret", base_url=BASE_URL, transport=transport, max_retries=0)


@asynccontextmanager
async def picker(client: ScenarioClient) -> AsyncIterator[tuple[PickerApp, Pilot[None]]]:
    """The picker open over a bare app, its listing finished."""
    app = PickerApp(client)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            yield app, pilot
    finally:
        await client.aclose()


async def settle(app: App[None], pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def status(app: App[None]) -> str:
    return str(app.screen.query_one(".picker-status", Static).content)


def shown(app: App[None]) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_lists_only_usable_models() -> None:
    async with picker(sandbox_client()) as (app, _):
        assert isinstance(app.screen, ModelPicker)
        rows = shown(app)
        assert "SDXL Painter (sandbox) — sd-xl — model_sandbox-sdxl-painter" in rows
        assert not any("model_sandbox-flux-dev" in row for row in rows)  # no inpaint + IP-Adapter
        assert len(rows) == 6
        assert status(app).startswith("6 of 6 models")


async def test_typing_filters_and_enter_returns_the_model() -> None:
    async with picker(sandbox_client()) as (app, pilot):
        await pilot.press("l", "o", "r", "a")
        assert len(shown(app)) == 2 and status(app).startswith("2 of 6 models")
        await pilot.press("down", "enter")
        assert isinstance(app.result, ModelInfo)
        assert app.result.id == "model_sandbox-pixel-art"
        assert not isinstance(app.screen, ModelPicker)


async def test_filter_matches_ids_and_types_case_insensitively() -> None:
    async with picker(sandbox_client()) as (app, pilot):
        await pilot.press("S", "D", "-", "1")
        assert shown(app) == ["SD 1.5 Classic (sandbox) — sd-1_5 — model_sandbox-sd15-classic"]


async def test_enter_on_the_list_returns_that_model() -> None:
    async with picker(sandbox_client()) as (app, pilot):
        await pilot.press("tab", "down", "enter")
        assert isinstance(app.result, ModelInfo) and app.result.id == "model_sandbox-flux-pro"


async def test_typed_id_is_returned_when_nothing_matches() -> None:
    async with picker(sandbox_client()) as (app, pilot):
        await pilot.press(*"my_id")
        assert shown(app) == []
        assert status(app).endswith("Enter uses “my_id” as a model id")
        await pilot.press("enter")
        assert app.result == "my_id"


async def test_enter_with_nothing_typed_and_nothing_listed_does_nothing() -> None:
    async with picker(sandbox_client(empty_models=True)) as (app, pilot):
        await pilot.press("enter")
        assert isinstance(app.screen, ModelPicker) and app.result is UNSET


async def test_escape_returns_none() -> None:
    async with picker(sandbox_client()) as (app, pilot):
        await pilot.press("escape")
        assert app.result is None


async def test_empty_workspace_is_explained() -> None:
    async with picker(sandbox_client(empty_models=True)) as (app, pilot):
        assert shown(app) == [] and status(app) == EMPTY
        await pilot.press("x", "1", "enter")
        assert app.result == "x1"


@pytest.mark.parametrize(
    ("code", "start"),
    [
        (403, "Your plan or project can't list models (HTTP 403: Your plan or project does not give"),
        (410, "Model listing is retired (HTTP 410: These model types were retired"),
    ],
)
async def test_forbidden_and_retired_listing_are_explained(code: int, start: str) -> None:
    async with picker(sandbox_client(models_status=code)) as (app, pilot):
        assert status(app).startswith(start)
        assert status(app).endswith("). Type a model id.")
        await pilot.press("i", "d", "enter")
        assert app.result == "id"


async def test_wrong_credentials_are_explained() -> None:
    async with picker(sandbox_client(credentials=("other-key", "other-secret"))) as (app, _):
        assert status(app).startswith("HTTP 401: ") and status(app).endswith("Type a model id.")


async def test_network_error_is_explained() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with picker(mock_client(refuse)) as (app, _):
        assert status(app).startswith("Network error: ConnectError: connection refused")
        assert status(app).endswith("Type a model id.")


async def test_server_text_is_shown_without_markup() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"reason": "[/bad] [b]boom"})

    async with picker(mock_client(broken)) as (app, _):
        assert status(app) == "HTTP 500: [/bad] [b]boom. Type a model id."


async def test_picker_is_usable_while_loading() -> None:
    gate = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200, json={"models": [{"id": "m1", "name": "Late", "capabilities": ["inpaint_ip_adapter"]}]})

    client = mock_client(slow)
    app = PickerApp(client)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker) and status(app) == LOADING
        await pilot.press("l", "a")
        assert status(app) == f"{LOADING}\nEnter uses “la” as a model id"
        gate.set()
        await settle(app, pilot)
        assert shown(app) == ["Late — ? — m1"]
        await pilot.press("enter")
        assert isinstance(app.result, ModelInfo) and app.result.id == "m1"
    await client.aclose()
