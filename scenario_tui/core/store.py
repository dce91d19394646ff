"""The durable record of every run: SQLite in the data folder, shared safely by a TUI and a CLI at once.

A run is one request to generate: its parameters (inputs as path + sha256 + size, never image
data), the quote, the intent written *before* the paid POST, the job it became, every status
change, its cost and its results. Uploads map a content hash to the asset id it was uploaded as.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from scenario_tui.core.api import Job, JobState, normalize_status

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 10_000
CLAIM_LEASE = 300.0  # seconds a download claim holds before another process may take it over

_SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    mode TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    inputs TEXT NOT NULL,
    model TEXT,
    seed TEXT,
    quote REAL,
    cost REAL,
    job_id TEXT,
    raw_status TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    hint TEXT,
    note TEXT,
    updated REAL NOT NULL,
    finished REAL,
    owner_pid INTEGER NOT NULL DEFAULT 0,
    output_dir TEXT
);
CREATE UNIQUE INDEX runs_job ON runs(scope, job_id) WHERE job_id IS NOT NULL;
CREATE INDEX runs_created ON runs(created);
CREATE TABLE events (
    run_id TEXT NOT NULL REFERENCES runs(id),
    time REAL NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX events_run ON events(run_id);
CREATE TABLE results (
    run_id TEXT NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    asset_id TEXT NOT NULL,
    seed TEXT,
    file TEXT,
    claimed REAL,
    claimer INTEGER,
    saved REAL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE uploads (
    scope TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (scope, sha256)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# What each version adds to the one before it: a store of any older version is brought up to date.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE runs ADD COLUMN parent_run TEXT",  # the run whose result was this run's input image
        "ALTER TABLE runs ADD COLUMN parent_result INTEGER",  # that result's 0-based index
        "ALTER TABLE results ADD COLUMN starred INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE results ADD COLUMN discarded INTEGER NOT NULL DEFAULT 0"),
}


class RunState(StrEnum):
    """Where a run is in its life."""

    INTENT = "intent"  # recorded; the generate POST is being (or was about to be) sent
    UNSURE = "unsure"  # the POST's outcome is unknown: a job may exist; found again by reconciling
    REFUSED = "not submitted"  # the server refused the POST: no job, nothing charged
    RUNNING = "running"  # a job exists and has not ended
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELED = "canceled"
    LOST = "lost"  # can't be followed any more (a sandbox job whose process ended)


# where the history's text filter looks: prompt, ids, model, seed
_SEARCHED = ("json_extract(params, '$.prompt')", "id", "job_id", "json_extract(model, '$.name')",
             "json_extract(model, '$.id')", "seed")
ENDED = frozenset({RunState.REFUSED, RunState.SUCCESS, RunState.FAILURE, RunState.CANCELED, RunState.LOST})
_FROM_JOB = {JobState.RUNNING: RunState.RUNNING, JobState.SUCCESS: RunState.SUCCESS,
             JobState.FAILURE: RunState.FAILURE, JobState.CANCELED: RunState.CANCELED}


class StoreError(Exception):
    """The store can't be opened or used; the message names the file."""


@dataclass(frozen=True)
class ResultRecord:
    """One result of a job: its asset, the seed it was made with, and its file once saved."""

    index: int  # 0-based position in the job's asset ids
    asset_id: str
    seed: str | None
    file: str | None
    starred: bool = False
    discarded: bool = False  # hidden from the history by default; its file is kept


@dataclass(frozen=True)
class Run:
    """A snapshot of one run as stored."""

    id: str
    created: float  # wall-clock time the intent was recorded
    mode: str  # "live" or "sandbox"
    scope: str  # which API it ran on (base URL, or one sandbox instance)
    state: RunState
    params: dict[str, Any]  # the request as sent, data URLs left out
    inputs: list[dict[str, Any]]  # file inputs: field, path, sha256, size, assetId
    model: dict[str, Any] | None
    seed: str | None
    quote: float | None
    cost: float | None
    job_id: str | None
    raw_status: str
    progress: float
    error: str | None
    hint: str | None
    note: str | None
    updated: float
    finished: float | None
    owner_pid: int
    output_dir: Path | None  # where its results go (the folder asked for when it was submitted)
    results: tuple[ResultRecord, ...]
    parent_run: str | None = None  # lineage: the run whose result was this run's input image
    parent_result: int | None = None  # and which of its results (0-based)

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt") or "")

    @property
    def model_name(self) -> str:
        model = self.model or {}
        return str(model.get("name") or model.get("id") or self.params.get("modelId") or "")

    @property
    def files(self) -> list[Path]:
        return [Path(r.file) for r in self.results if r.file]

    @property
    def missing_results(self) -> bool:
        """A successful job some of whose results are not on disk yet (or whose result ids aren't known)."""
        return self.state is RunState.SUCCESS and (not self.results or any(r.file is None for r in self.results))

    @property
    def unfinished(self) -> bool:
        """Needs more work: following, reconciling or downloading."""
        return self.state not in ENDED or self.missing_results


def _private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


class Store:
    """The run store. One connection, guarded by a lock; every write is its own short transaction."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock  # wall-clock seconds
        self._lock = threading.RLock()
        try:
            _private_file(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: can't open the run store ({exc})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database's write lock up front (no upgrade deadlocks)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: made by a newer scenario-tui (schema {version}); upgrade to use it")
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                version = 1
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _event(self, db: sqlite3.Connection, run_id: str, state: str, status: str, detail: str | None = None) -> None:
        db.execute("INSERT INTO events (run_id, time, state, status, detail) VALUES (?, ?, ?, ?, ?)",
                   (run_id, self._clock(), state, status, detail))

    def _set(self, run_id: str, state: RunState | None = None, *, detail: str | None = None, **fields: Any) -> Run:
        """Update a run's columns (and record the change of state) in one transaction."""
        now = self._clock()
        if state is not None:
            fields["state"] = state.value
            if state in ENDED:
                fields.setdefault("finished", now)
        fields["updated"] = now
        columns = ", ".join(f"{name} = ?" for name in fields)
        with self._tx() as db:
            before = db.execute("SELECT state, raw_status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if before is None:
                raise StoreError(f"no run {run_id}")
            db.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*fields.values(), run_id))
            after = (fields.get("state", before[0]), fields.get("raw_status", before[1]))
            if after != tuple(before) or detail:
                self._event(db, run_id, after[0], after[1], detail)
        return self.get(run_id)  # type: ignore[return-value]  # it exists: it was just updated

    # ------------------------------------------------------------------ runs

    def create_run(self, *, mode: str, scope: str, params: dict[str, Any], inputs: Sequence[dict[str, Any]],
                   model: dict[str, Any] | None, seed: str | None, quote: float | None,
                   output_dir: Path | None = None, parent: tuple[str, int] | None = None) -> Run:
        """Record the intent to submit, before the paid POST is sent; ``parent`` is the (run id,
        result index) whose file is its input image."""
        run_id = uuid.uuid4().hex[:12]
        now = self._clock()
        parent_run, parent_result = parent if parent is not None else (None, None)
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (id, created, mode, scope, state, params, inputs, model, seed, quote, updated,"
                " owner_pid, output_dir, parent_run, parent_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                (run_id, now, mode, scope, RunState.INTENT.value, _dumps(params), _dumps(list(inputs)),
                 _dumps(model) if model is not None else None, seed, quote, now, os.getpid(),
                 str(output_dir) if output_dir is not None else None, parent_run, parent_result))
            self._event(db, run_id, RunState.INTENT.value, "")
        return self.get(run_id)  # type: ignore[return-value]

    def mark_unsure(self, run_id: str, error: str) -> Run:
        return self._set(run_id, RunState.UNSURE, error=error, detail=error)

    def mark_refused(self, run_id: str, error: str) -> Run:
        return self._set(run_id, RunState.REFUSED, error=error, detail=error)

    def mark_lost(self, run_id: str, reason: str) -> Run:
        return self._set(run_id, RunState.LOST, error=reason, detail=reason)

    def attach_job(self, run_id: str, job: Job, cost: float | None, *, found: bool = False) -> Run:
        """The POST's answer (or reconciliation) gave the run its job."""
        detail = "found again by reconciling" if found else None
        run = self._set(run_id, RunState.RUNNING, job_id=job.id, cost=cost, error=None, detail=detail)
        return self.record_job(run.id, job)

    def record_job(self, run_id: str, job: Job) -> Run:
        """Take in a polled job: status, progress, error, and the result asset ids once known."""
        state = _FROM_JOB[job.state]
        with self._lock:
            if job.asset_ids:
                with self._tx() as db:
                    db.executemany("INSERT OR IGNORE INTO results (run_id, idx, asset_id) VALUES (?, ?, ?)",
                                   [(run_id, i, a) for i, a in enumerate(job.asset_ids)])
            return self._set(run_id, state, raw_status=job.raw_status, progress=job.progress,
                             error=job.error, hint=job.hint, note=None)

    def age(self, run: Run) -> float:
        """Seconds since the run's intent was recorded."""
        return self._clock() - run.created

    def set_note(self, run_id: str, note: str | None) -> Run:
        return self._set(run_id, note=note)

    def get(self, key: str) -> Run | None:
        """A run by its own id, its job id, or a unique prefix of either."""
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE id = ? OR job_id = ?", (key, key)).fetchone()
            if row is None and key:
                like = _like(key) + "%"
                rows = self._db.execute("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' OR job_id LIKE ? ESCAPE '\\'"
                                        " LIMIT 2", (like, like)).fetchall()
                row = rows[0] if len(rows) == 1 else None
            return self._run(row) if row is not None else None

    def runs(self, *, limit: int = 200, text: str = "", states: Sequence[RunState] = ()) -> list[Run]:
        """The newest runs first; ``text`` (any case) in the prompt, run id, job id, model or seed, and
        one of ``states`` when given."""
        where: list[str] = []
        args: list[Any] = []
        if text:
            like = f"%{_like(text.lower())}%"
            where.append("(" + " OR ".join(f"lower({c}) LIKE ? ESCAPE '\\'" for c in _SEARCHED) + ")")
            args += [like] * len(_SEARCHED)
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args += [s.value for s in states]
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM runs {clause}ORDER BY created DESC, rowid DESC LIMIT ?",
                                    (*args, limit)).fetchall()
            return [self._run(row) for row in rows]

    def result_of_file(self, path: Path) -> tuple[str, int] | None:
        """The (run id, result index) saved as ``path``, if it is a result of an earlier run."""
        with self._lock:
            row = self._db.execute("SELECT run_id, idx FROM results WHERE file = ? ORDER BY saved DESC LIMIT 1",
                                   (str(path),)).fetchone()
            return (row[0], row[1]) if row else None

    def mark_result(self, run_id: str, index: int, *, starred: bool | None = None,
                    discarded: bool | None = None) -> Run:
        """Star or discard one result (only the record: its file stays where it is)."""
        fields = {k: int(v) for k, v in (("starred", starred), ("discarded", discarded)) if v is not None}
        if fields:
            with self._tx() as db:
                db.execute(f"UPDATE results SET {', '.join(f'{k} = ?' for k in fields)} WHERE run_id = ? AND idx = ?",
                           (*fields.values(), run_id, index))
        return self._get_or_fail(run_id)

    def _get_or_fail(self, run_id: str) -> Run:
        run = self.get(run_id)
        if run is None:
            raise StoreError(f"no run {run_id}")
        return run

    def unfinished(self) -> list[Run]:
        """Runs that still need following, reconciling or downloading, oldest first."""
        with self._lock:
            ended = [s.value for s in ENDED if s is not RunState.SUCCESS]
            rows = self._db.execute(f"SELECT * FROM runs WHERE state NOT IN ({', '.join('?' * len(ended))})"
                                    " ORDER BY created", ended).fetchall()
            return [run for run in map(self._run, rows) if run.unfinished]

    def job_ids(self, scope: str) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT job_id FROM runs WHERE scope = ? AND job_id IS NOT NULL", (scope,))
            return {row[0] for row in rows}

    def history(self, run_id: str) -> list[tuple[float, str, str, str | None]]:
        """(time, state, server status, detail) of every change, oldest first."""
        with self._lock:
            return [tuple(row) for row in self._db.execute(
                "SELECT time, state, status, detail FROM events WHERE run_id = ? ORDER BY rowid", (run_id,))]

    def _run(self, row: tuple[Any, ...]) -> Run:
        names = [d[0] for d in self._db.execute("SELECT * FROM runs LIMIT 0").description]
        data = dict(zip(names, row, strict=True))
        results = tuple(
            ResultRecord(idx, asset_id, seed, file, bool(starred), bool(discarded))
            for idx, asset_id, seed, file, starred, discarded in self._db.execute(
                "SELECT idx, asset_id, seed, file, starred, discarded FROM results WHERE run_id = ? ORDER BY idx",
                (data["id"],)))
        return Run(
            id=data["id"], created=data["created"], mode=data["mode"], scope=data["scope"],
            state=RunState(data["state"]), params=json.loads(data["params"]), inputs=json.loads(data["inputs"]),
            model=json.loads(data["model"]) if data["model"] else None, seed=data["seed"], quote=data["quote"],
            cost=data["cost"], job_id=data["job_id"], raw_status=data["raw_status"], progress=data["progress"],
            error=data["error"], hint=data["hint"], note=data["note"], updated=data["updated"],
            finished=data["finished"], owner_pid=data["owner_pid"],
            output_dir=Path(data["output_dir"]) if data["output_dir"] else None, results=results,
            parent_run=data["parent_run"], parent_result=data["parent_result"])

    # ------------------------------------------------------------------ results

    def claim_result(self, run_id: str, index: int) -> bool:
        """Take the right to download one result: False if it is saved or another live process holds it."""
        now = self._clock()
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE results SET claimed = ?, claimer = ? WHERE run_id = ? AND idx = ? AND file IS NULL"
                " AND (claimed IS NULL OR claimer = ? OR claimed < ?)",
                (now, os.getpid(), run_id, index, os.getpid(), now - CLAIM_LEASE))
            return cursor.rowcount == 1

    def release_result(self, run_id: str, index: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE results SET claimed = NULL, claimer = NULL WHERE run_id = ? AND idx = ? AND"
                       " file IS NULL", (run_id, index))

    def result_saved(self, run_id: str, index: int, seed: str | None, file: Path) -> Run:
        with self._tx() as db:
            db.execute("UPDATE results SET seed = ?, file = ?, saved = ? WHERE run_id = ? AND idx = ?",
                       (seed, str(file), self._clock(), run_id, index))
        return self.get(run_id)  # type: ignore[return-value]

    # ------------------------------------------------------------------ uploads

    def upload(self, scope: str, sha256: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT asset_id FROM uploads WHERE scope = ? AND sha256 = ?",
                                   (scope, sha256)).fetchone()
            return row[0] if row else None

    def remember_upload(self, scope: str, sha256: str, asset_id: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO uploads (scope, sha256, asset_id, created) VALUES (?, ?, ?, ?)",
                       (scope, sha256, asset_id, self._clock()))

    def forget_upload(self, scope: str, sha256: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM uploads WHERE scope = ? AND sha256 = ?", (scope, sha256))

    # ------------------------------------------------------------------ the old ledger

    def import_ledger(self, path: Path, live_scope: str) -> int:
        """Import ``jobs.jsonl`` (the ledger of earlier versions) once; returns the runs imported."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM meta WHERE key = 'ledger_imported'").fetchone():
                return 0
            runs: dict[str, dict[str, Any]] = {}
            by_job: dict[str, dict[str, Any]] = {}
            for entry in _ledger_entries(path):
                local = entry.get("local")
                if entry.get("event") == "intent" and isinstance(local, str):
                    runs[local] = {"entry": entry, "state": RunState.UNSURE.value if entry.get("mode") == "live"
                                   else RunState.LOST.value}
                elif entry.get("event") in ("submitted", "unsure") and local in runs:
                    run = runs[local]
                    if entry["event"] == "submitted" and isinstance(entry.get("jobId"), str):
                        run.update(job_id=entry["jobId"], cost=entry.get("cost"), state=RunState.RUNNING.value)
                        by_job[entry["jobId"]] = run
                    else:
                        run["error"] = str(entry.get("error", ""))
                elif entry.get("event") == "finished" and entry.get("jobId") in by_job:
                    run = by_job[entry["jobId"]]
                    run["state"] = _FROM_JOB[normalize_status(str(entry.get("status", "")))].value
                    run["files"] = [str(f) for f in entry.get("results", []) if isinstance(f, str)]
            with self._tx() as db:
                for local, run in runs.items():
                    entry = run["entry"]
                    live = entry.get("mode") == "live"
                    params = entry.get("parameters") if isinstance(entry.get("parameters"), dict) else {}
                    state = run["state"] if live else RunState.LOST.value if run["state"] == "running" \
                        else run["state"]
                    created = float(entry.get("time") or 0)
                    db.execute(
                        "INSERT OR IGNORE INTO runs (id, created, mode, scope, state, params, inputs, model, seed,"
                        " cost, job_id, error, updated, finished) VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, ?)",
                        (local, created, "live" if live else "sandbox", live_scope if live else "sandbox:imported",
                         state, _dumps({k: v for k, v in params.items() if k != "model"}),
                         _dumps(params["model"]) if isinstance(params.get("model"), dict) else None,
                         params.get("seed"), run.get("cost"), run.get("job_id"), run.get("error"), created,
                         None if state in ("running", "unsure") else created))
                    for index, file in enumerate(run.get("files", [])):
                        db.execute("INSERT OR IGNORE INTO results (run_id, idx, asset_id, file, saved) VALUES"
                                   " (?, ?, '', ?, ?)", (local, index, file, created))
                db.execute("INSERT INTO meta (key, value) VALUES ('ledger_imported', ?)", (str(self._clock()),))
            return len(runs)


def _ledger_entries(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a crash mid-write
        if isinstance(entry, dict):
            yield entry


def _like(text: str) -> str:
    """``text`` matched literally by ``LIKE … ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
