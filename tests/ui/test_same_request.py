"""The CLI and the TUI send the same generate request for the same inputs: both go through the engine."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual_image.widget import HalfcellImage

from scenario_tui import cli
from scenario_tui.config import load_settings
from scenario_tui.sandbox import Sandbox, SandboxConfig
from scenario_tui.sandbox.server import make_server
from scenario_tui.ui.app import make_app
from scenario_tui.ui.state import UiState
from tests.conftest import make_image, make_mask
from tests.ui.conftest import settle, until

KEY, SECRET = "same-key", "same-secret-4321"
FLUX = "model_sandbox-flux-fill"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The sandbox on loopback (live mode), keeping the body of every generate POST."""
    monkeypatch.setenv("SCENARIO_API_KEY", KEY)
    monkeypatch.setenv("SCENARIO_API_SECRET", SECRET)
    sandbox = Sandbox(SandboxConfig(job_seconds=0, credentials=(KEY, SECRET)))
    bodies: list[dict[str, Any]] = []
    handle = sandbox.handle

    def recording(request: httpx.Request) -> Any:
        if request.url.path.endswith("/generate/inpaint-ip-adapter") and "dryRun" not in request.url.params:
            bodies.append(json.loads(request.read()))
        return handle(request)

    sandbox.handle = recording  # type: ignore[method-assign]
    httpd = make_server(sandbox)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", bodies
    httpd.shutdown()
    httpd.server_close()


async def test_cli_and_tui_send_the_same_body(server: tuple[str, list[dict[str, Any]]], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url, bodies = server
    monkeypatch.chdir(tmp_path)
    make_image(tmp_path / "in.png", (1024, 768))  # bigger than the default 512: the size must follow it
    make_mask(tmp_path / "m.png", (1024, 768))
    make_image(tmp_path / "r.png", (32, 32), (200, 30, 30))
    code = await asyncio.to_thread(cli.main, ["generate", "--base-url", url, "--model", FLUX, "--image", "in.png", "--mask", "m.png", "--ref",
                     "r.png", "--prompt", "a lighthouse", "--num-samples", "2", "--seed", "5", "--output-dir", "out"])
    assert code == cli.OK and len(bodies) == 1

    settings, _ = load_settings(base_url=url, output_dir=Path("out"), poll_interval=0.01, poll_max_interval=0.02,
                                confirm_above=10_000)
    state = UiState(values={"modelId": FLUX, "prompt": "a lighthouse", "numSamples": "2", "seed": "5"},
                    image="in.png", mask="m.png", references=[("r.png", "")], seed_mode="fixed")
    app = make_app(settings, image_cls=HalfcellImage, ui_state=state)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen: Any = app.screen_stack[0]
        await until(pilot, lambda: screen.model is not None and "CU" in str(screen.query_one("#costbar").text),
                    "the form quoted")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(bodies) == 2, "the TUI's generate request")
        await until(pilot, lambda: not screen.jobs.entries[0].running, "the TUI's job saved")
    cli_body, tui_body = bodies
    assert cli_body["width"] == 1024 and cli_body["height"] == 768
    assert cli_body["image"].startswith("asset_")  # the TUI reused the CLI's upload, from the shared store
    assert tui_body == cli_body
