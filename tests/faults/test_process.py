"""The process's own boundary: closed standard streams, in a real child process (the sandbox, offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.faults.fakeapi import CONTROL
from tests.faults.summary import TALLY


def _child(args: list[str], home: Path, **kw: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "cfg")}
    return subprocess.Popen([sys.executable, "-m", "scenario_tui", *args], env=env, **kw)  # type: ignore[call-overload]


def _tally(code: int, err: bytes, ok: bool) -> None:
    TALLY["runs"] += 1
    TALLY["bad_inputs"] += 1
    TALLY["crashes"] += b"Traceback" in err or code not in (0, 2, 3, 4, 5, 130) or not ok
    TALLY["escapes"] += bool(CONTROL.search(err.decode("utf-8", "replace")))


def test_a_closed_stderr_still_lists_the_models(isolated_home: Path) -> None:
    """``scenario-tui models 2>&-``: the list on stdout, nothing else there, exit 0."""
    child = _child(["models"], isolated_home, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                   preexec_fn=lambda: os.close(2))
    out, _ = child.communicate(timeout=60)
    ok = child.returncode == 0 and b"model_sandbox-" in out and b"SANDBOX" not in out
    _tally(child.returncode, b"", ok)
    assert ok, (child.returncode, out)


def test_a_reader_that_goes_away_ends_the_command_quietly(isolated_home: Path) -> None:
    """``scenario-tui models --json | head -c 0``: no BrokenPipeError traceback, exit 0."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    child = _child(["models", "--json"], isolated_home, stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    _, err = child.communicate(timeout=60)
    ok = child.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err
    _tally(child.returncode, err, ok)
    assert ok, (child.returncode, err)


def test_a_reader_that_goes_away_keeps_the_exit_code(isolated_home: Path) -> None:
    """``scenario-tui cancel nope --json | head -c 0``: the JSON error is lost, the exit code (2) is not."""
    read, write = os.pipe()
    os.close(read)
    child = _child(["cancel", "job_nope", "--json"], isolated_home, stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    _, err = child.communicate(timeout=60)
    ok = child.returncode == 2 and b"Traceback" not in err and b"no run or job job_nope" in err
    _tally(child.returncode, err, ok)
    assert ok, (child.returncode, err)


def test_a_reader_that_goes_away_mid_listing_is_not_an_error(isolated_home: Path) -> None:
    """``scenario-tui models | head -n1`` with stdout unbuffered: no "[Errno 32] Broken pipe" error, exit 0."""
    read, write = os.pipe()
    os.close(read)
    child = _child(["models"], isolated_home, stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    _, err = child.communicate(timeout=60)
    ok = child.returncode == 0 and b"Broken pipe" not in err and b"Traceback" not in err
    _tally(child.returncode, err, ok)
    assert ok, (child.returncode, err)
