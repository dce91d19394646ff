"""The fault suite's tally and the one summary line it ends with (also under pytest-xdist).

The hooks are imported into ``tests/conftest.py`` so the controlling process of ``-n`` runs has them:
each worker sends its tally with its output; the controller adds them up and prints the line.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

TALLY: Counter[str] = Counter()
KINDS: set[str] = set()
_COUNTERS = (("faults injected", "faults"), ("bad inputs tried", "bad_inputs"), ("crashes", "crashes"),
             ("results lost", "lost"), ("duplicate generate requests", "duplicates"),
             ("files written outside the output folder", "outside"), ("secret leaks", "leaks"),
             ("escape bytes reaching the terminal", "escapes"))


def summary_line() -> str:
    return ", ".join(f"{label} {TALLY[key]}" for label, key in _COUNTERS)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the tally to the controller
        workeroutput["fault_tally"] = dict(TALLY)
        workeroutput["fault_kinds"] = sorted(KINDS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    output = getattr(node, "workeroutput", {})
    TALLY.update(output.get("fault_tally", {}))
    KINDS.update(output.get("fault_kinds", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY["runs"]:
        terminalreporter.write_sep("=", "fault suite")
        terminalreporter.write_line(f"{summary_line()} ({len(KINDS)} fault kinds, {TALLY['runs']} runs)")
