"""The services the settings ask for: the API client (live or the embedded sandbox), the store and the engine."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable

import httpx

from scenario_tui.config import Settings, data_dir
from scenario_tui.core.api import ScenarioClient
from scenario_tui.core.engine import Engine, EngineConfig, PollSchedule
from scenario_tui.core.store import Store

SANDBOX_BASE_URL = "https://sandbox.scenario-tui.invalid/v1"
# Placeholders the sandbox accepts; unusual enough that scrubbing them from messages changes nothing else.
SANDBOX_KEY, SANDBOX_SECRET = "sbx-key-0d1f", "sbx-secret-7c2e"
STORE_NAME = "runs.sqlite3"
LEDGER_NAME = "jobs.jsonl"  # what versions before the store kept


Sleep = Callable[[float], Awaitable[None]]


def make_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None,
                sleep: Sleep | None = None) -> ScenarioClient:
    """A client for the live API, or for the in-process sandbox when ``settings.use_sandbox``.

    ``transport`` replaces the network (tests pass the sandbox's or a mock transport); ``sleep``
    the waits between retries.
    """
    waits = sleep if sleep is not None else asyncio.sleep
    if settings.use_sandbox:
        if transport is None:
            from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport

            transport = SandboxTransport(Sandbox(SandboxConfig(job_seconds=settings.sandbox_job_seconds)))
        return ScenarioClient(SANDBOX_KEY, SANDBOX_SECRET, base_url=SANDBOX_BASE_URL, transport=transport,
                              sleep=waits)
    key, secret = settings.credentials or ("", "")
    return ScenarioClient(key, secret, base_url=settings.base_url, transport=transport, sleep=waits)


def live_scope(settings: Settings) -> str:
    """Which account's API this is: the base URL and a fingerprint of the key (never the key itself)."""
    key = settings.credentials[0] if settings.credentials else ""
    return f"{settings.base_url}#{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def open_store(settings: Settings) -> Store:
    """The run store in the data folder, with the old ledger imported the first time."""
    folder = data_dir()
    store = Store(folder / STORE_NAME)
    store.import_ledger(folder / LEDGER_NAME, live_scope(settings))
    return store


def make_engine(settings: Settings, transport: httpx.AsyncBaseTransport | None = None,
                store: Store | None = None, retry_sleep: Sleep | None = None) -> Engine:
    """The engine every front end drives. An in-process sandbox is its own scope: it ends with the process.

    ``retry_sleep`` replaces the client's waits between retries (polling follows the settings).
    """
    client = make_client(settings, transport, retry_sleep)
    sandbox = settings.use_sandbox
    config = EngineConfig(
        output_dir=settings.output_dir.absolute(),  # the store keeps paths that work from any folder
        mode="sandbox" if sandbox else "live",
        scope=f"sandbox:{uuid.uuid4().hex[:12]}" if sandbox else live_scope(settings),
        upload_inputs=settings.upload_inputs,
        max_download_bytes=int(settings.max_download_mb * 2**20),
        follow_timeout=settings.follow_timeout,
        schedule=PollSchedule(first=settings.poll_interval, maximum=settings.poll_max_interval),
    )
    return Engine(client, store if store is not None else open_store(settings), config)
