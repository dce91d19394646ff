"""Fixtures of the fault suite (its summary hooks live in ``summary.py``, loaded by ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import Harness


@pytest.fixture
def world(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Harness:
    return Harness(tmp_path, isolated_home, monkeypatch, capsys)
