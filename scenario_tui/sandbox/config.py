"""Knobs of the simulator: timing, faults and credentials, for tests and demos."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxConfig:
    """How the simulated API behaves. Every fault is deterministic for a given ``seed``."""

    job_seconds: float = 6.0
    """How long a job takes from pending to success, on the sandbox's clock."""
    latency: float = 0.0
    """Seconds added to every call by the transports and the local server."""
    error_rate: float = 0.0
    """Fraction of ``/v1`` calls answered 503."""
    rate_limit_burst: int = 0
    """The first N ``/v1`` calls answer 429 with ``Retry-After: 1``."""
    fail_rate: float = 0.0
    """Fraction of jobs that end in ``failure`` (a prompt containing ``[fail]`` always does)."""
    cancellable: bool = True
    """Whether running jobs accept ``{"action": "cancel"}``."""
    models_status: int | None = None
    """When set (e.g. 403 or 410), model listing and lookup answer this status."""
    empty_models: bool = False
    """The model listing holds no model with the inpaint + IP-Adapter capability."""
    seed: int = 0
    """Seeds the faults (``error_rate``, ``fail_rate``); ids and picked seeds are unique per sandbox."""
    credentials: tuple[str, str] | None = None
    """(key, secret) the sandbox accepts; ``None`` accepts any Basic credentials."""
    lose_generate_answers: int = 0
    """The first N generate POSTs that create a job (dry runs aside) get no answer: the connection drops."""
    malformed_generate_answers: int = 0
    """The next N such POSTs (after any lost ones) create the job and answer 200 with a body that is not JSON."""
    generate_answer_delay: float = 0.0
    """Real seconds between creating a job and answering (or dropping) its generate POST."""
