"""HTTP answers of the simulator: JSON responses and the error every handler may raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from scenario_tui.core.params import Problem


def reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, json=body, headers=headers)


@dataclass(frozen=True)
class Answer:
    """What a transport sends back, after ``delay`` real seconds: ``response``, or nothing (the connection drops)."""

    response: httpx.Response | None
    delay: float = 0.0

    def response_or_drop(self, request: httpx.Request) -> httpx.Response:
        """The response; without one, the ``httpx.ReadError`` a client sees when the connection drops."""
        if self.response is None:
            raise httpx.ReadError("connection lost (simulated by lose_generate_answers)", request=request)
        return self.response


class Fault(Exception):
    """An error answer: ``status`` and a JSON body whose ``reason`` is one line."""

    def __init__(self, status: int, reason: str, *, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.headers = dict(headers or {})
        self.body: dict[str, Any] = {"reason": reason, **extra}

    def response(self) -> httpx.Response:
        return reply(self.status, self.body, self.headers)


def invalid(problems: Sequence[Problem]) -> Fault:
    """400 for generation parameters: every problem listed, the first one ("Label: message") as the reason."""
    return Fault(400, str(problems[0]), errors=[{"field": p.field, "message": p.message} for p in problems])


def bad_field(field: str, message: str) -> Fault:
    """400 for one field of a body other than the generation's."""
    return Fault(400, f"{field}: {message}", errors=[{"field": field, "message": message}])
