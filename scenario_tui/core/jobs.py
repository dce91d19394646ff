"""Following jobs to the end and keeping their record: polling, results on disk, the ledger."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenario_tui.core.api import ApiError, Job, JobState, NetworkError, RateLimitedError, ScenarioClient, ServerError

TRANSIENT = (NetworkError, ServerError, RateLimitedError)
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


@dataclass(frozen=True)
class PollSchedule:
    """Adaptive polling: quick at first, slower as the job runs on, backing off on errors."""

    first: float = 1.0
    factor: float = 1.5
    maximum: float = 8.0
    error_maximum: float = 60.0
    max_consecutive_errors: int = 20

    def after_success(self, interval: float) -> float:
        return min(interval * self.factor, self.maximum)

    def after_error(self, interval: float) -> float:
        return min(max(interval, self.first) * 2, self.error_maximum)


async def follow(
    client: ScenarioClient,
    job_id: str,
    *,
    on_update: Callable[[Job], None] | None = None,
    on_error: Callable[[ApiError], None] | None = None,
    schedule: PollSchedule = PollSchedule(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Job:
    """Poll ``job_id`` until it ends and return the final job.

    Transient errors (network, 5xx, 429; the client has already retried them) are reported to
    ``on_error`` and polling goes on, slower, up to ``schedule.max_consecutive_errors`` in a row.
    Other API errors (auth, not found, ...) are raised at once.
    """
    interval = schedule.first
    errors = 0
    while True:
        try:
            job = await client.get_job(job_id)
        except TRANSIENT as exc:
            errors += 1
            if errors >= schedule.max_consecutive_errors:
                raise
            if on_error:
                on_error(exc)
            interval = schedule.after_error(interval)
            await sleep(interval)
            continue
        errors = 0
        if on_update:
            on_update(job)
        if job.state is not JobState.RUNNING:
            return job
        await sleep(interval)
        interval = schedule.after_success(interval)


def result_name(job_id: str, index: int, seed: str | None, mime: str | None) -> str:
    """File name of one result: job id, 1-based index and seed, so results sort and stay findable."""
    return f"{job_id}_{index:02d}_seed-{seed or 'random'}{_EXTENSIONS.get(mime or '', '.png')}"


async def save_results(
    client: ScenarioClient,
    job: Job,
    out_dir: Path,
    *,
    seed: str | None,
    record: dict[str, Any],
    on_saved: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Download every result of a finished job into ``out_dir`` and write ``<job>.json`` beside them.

    Files are named with the sample's own seed when the asset records it, else the request's.

    The JSON holds the request parameters (data URLs shortened, no credentials), the job's
    status and the file names, so any result can be traced back to how it was made.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for index, asset_id in enumerate(job.asset_ids, start=1):
        asset = await client.get_asset(asset_id)
        if not asset.url:
            raise ApiError(f"result {index} ({asset_id}) has no download URL yet")
        sample_seed = asset.metadata.get("seed")  # the API records each sample's own seed
        dest = out_dir / result_name(job.id, index, str(sample_seed) if sample_seed else seed, asset.mime_type)
        await client.download(asset.url, dest)
        paths.append(dest)
        if on_saved:
            on_saved(dest)
    write_metadata(out_dir / f"{job.id}.json", job, record, paths)
    return paths


def write_metadata(path: Path, job: Job, record: dict[str, Any], results: list[Path]) -> None:
    meta = {
        "jobId": job.id,
        "status": job.raw_status,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "parameters": record,
        "results": [{"file": p.name, "assetId": a} for p, a in zip(results, job.asset_ids)],
    }
    path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class Ledger:
    """Append-only JSON-lines record of every job this machine submitted (file mode 0600).

    The intent is written *before* the paid POST is sent, so a job created by a request whose
    answer was lost can still be traced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def intent(self, *, mode: str, record: dict[str, Any]) -> str:
        local_id = uuid.uuid4().hex[:12]
        self._append({"event": "intent", "local": local_id, "time": time.time(), "mode": mode, "parameters": record})
        return local_id

    def submitted(self, local_id: str, job_id: str, cost: float | None) -> None:
        self._append({"event": "submitted", "local": local_id, "time": time.time(), "jobId": job_id, "cost": cost})

    def unsure(self, local_id: str, error: str) -> None:
        """The POST failed in a way that may still have created a job."""
        self._append({"event": "unsure", "local": local_id, "time": time.time(), "error": error})

    def finished(self, job_id: str, status: str, results: list[Path]) -> None:
        self._append({"event": "finished", "time": time.time(), "jobId": job_id, "status": status,
                      "results": [str(p) for p in results]})

    def entries(self) -> Iterator[dict[str, Any]]:
        """Events in order; unreadable lines (a crash mid-write) are skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
