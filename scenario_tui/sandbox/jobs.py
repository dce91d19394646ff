"""A simulated job's life: statuses over time, progress, failure and cancellation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenario_tui.sandbox.catalogue import OWNER

RUNNING = ("pending", "queued", "warming-up", "in-progress", "finalizing")
STATUSES = (*RUNNING, "success", "failure", "canceled")
# Where each running status begins, as a fraction of the job's duration; success comes at 1.
_STARTS = (0.0, 0.05, 0.15, 0.25, 0.9)
_WORK = (0.25, 0.9)  # the in-progress span, over which progress rises from 0 to 1
FAIL_AT = 0.6


@dataclass
class SimJob:
    """One generation job; its status is a pure function of the clock, except for a cancel."""

    id: str
    started: float
    duration: float
    input: dict[str, Any]
    asset_ids: tuple[str, ...]  # published once it succeeds
    failure: tuple[str, str] | None = None  # (error, hint) when it is bound to fail
    canceled_at: float | None = None

    def ending(self) -> tuple[str, float]:
        """The terminal status and when it happens (or happened)."""
        if self.canceled_at is not None:
            return "canceled", self.canceled_at
        if self.failure:
            return "failure", self.started + FAIL_AT * self.duration
        return "success", self.started + self.duration

    def history(self, now: float) -> list[tuple[str, float]]:
        """(status, clock time) of every status reached by ``now``, oldest first."""
        final, end = self.ending()
        reached = [(status, at) for status, fraction in zip(RUNNING, _STARTS, strict=True)
                   if (at := self.started + fraction * self.duration) <= min(now, end)]
        return [*reached, (final, end)] if now >= end else reached

    def status(self, now: float) -> str:
        return self.history(now)[-1][0]

    def progress(self, now: float) -> float:
        """0 until in-progress, rising to 1 through it; frozen when the job fails or is canceled."""
        if self.duration <= 0:
            return 1.0 if self.ending()[0] == "success" else 0.0
        fraction = (min(now, self.ending()[1]) - self.started) / self.duration
        lo, hi = _WORK
        return round(max(0.0, min(1.0, (fraction - lo) / (hi - lo))), 4)

    def to_json(self, now: float, iso: Callable[[float], str]) -> dict[str, Any]:
        """The ``job`` object of the API."""
        history = self.history(now)
        status = history[-1][0]
        asset_ids = list(self.asset_ids) if status == "success" else []
        metadata: dict[str, Any] = {"input": self.input, "assetIds": asset_ids}
        if status == "failure" and self.failure:
            metadata["error"], metadata["hint"] = self.failure
        return {
            "jobId": self.id,
            "jobType": "inference",
            "status": status,
            "progress": self.progress(now),
            "statusHistory": [{"status": s, "date": iso(at)} for s, at in history],
            "metadata": metadata,
            "authorId": OWNER,
            "ownerId": OWNER,
            "createdAt": iso(self.started),
            "updatedAt": iso(history[-1][1]),
        }
