"""Fixtures of the fault suite (its summary hooks live in ``summary.py``, loaded by ``tests/conftest.py``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Harness


@pytest.fixture
def data_home(tmp_path: Path) -> Iterator[Path]:
    """The run store's folder: in memory where there is a tmpfs (the store syncs every write to disk)."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="scenario-faults-", dir=shm)) if shm.is_dir() else tmp_path / "data"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def world(tmp_path: Path, isolated_home: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Harness:
    return Harness(tmp_path, isolated_home, data_home, monkeypatch, capsys)
