"""httpx transports that answer from a ``Sandbox`` instead of the network."""

from __future__ import annotations

import asyncio
import time

import httpx

from scenario_tui.sandbox.state import Sandbox


class SandboxTransport(httpx.AsyncBaseTransport):
    """For ``httpx.AsyncClient``: adds the configured latency and runs the sandbox in a worker thread,
    so decoding and rendering images never block the event loop."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if self.sandbox.config.latency > 0:
            await asyncio.sleep(self.sandbox.config.latency)
        answer = await asyncio.to_thread(self.sandbox.handle, request)
        if answer.delay > 0:
            await asyncio.sleep(answer.delay)
        return answer.response_or_drop(request)


class SyncSandboxTransport(httpx.BaseTransport):
    """For ``httpx.Client``: the same, blocking."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if self.sandbox.config.latency > 0:
            time.sleep(self.sandbox.config.latency)
        answer = self.sandbox.handle(request)
        if answer.delay > 0:
            time.sleep(answer.delay)
        return answer.response_or_drop(request)
