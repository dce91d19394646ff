"""The run store: durable, private, shared by two processes, and the old ledger imported once."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from scenario_tui.core.api import Job
from scenario_tui.core.store import SCHEMA_VERSION, RunState, Store, StoreError


def job(job_id: str, status: str, *assets: str) -> Job:
    return Job.from_json({"jobId": job_id, "status": status, "progress": 0.5, "metadata": {"assetIds": list(assets)}})


def new_run(store: Store, prompt: str = "a cat") -> str:
    return store.create_run(mode="live", scope="api#1", params={"prompt": prompt, "seed": "1"}, inputs=[],
                            model={"id": "m", "name": "M"}, seed="1", quote=4.0).id


def test_a_new_store_is_private_wal_and_versioned(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "runs.sqlite3")
    new_run(store)
    assert (tmp_path / "data" / "runs.sqlite3").stat().st_mode & 0o777 == 0o600
    db = sqlite3.connect(tmp_path / "data" / "runs.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_a_newer_version_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="runs.sqlite3.*newer scenario-tui"):
        Store(path)


def test_a_run_keeps_every_status_change_and_its_results(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.sqlite3")
    run_id = new_run(store)
    assert store.get(run_id).state is RunState.INTENT  # type: ignore[union-attr]
    store.attach_job(run_id, job("job_1", "queued"), 4.0)
    store.record_job(run_id, job("job_1", "in-progress"))
    store.record_job(run_id, job("job_1", "in-progress"))  # no change: no new event
    run = store.record_job(run_id, job("job_1", "success", "asset_a", "asset_b"))
    assert run.state is RunState.SUCCESS and run.missing_results and run.unfinished
    assert [(s, st) for _, s, st, _ in store.history(run_id)] == [
        ("intent", ""), ("running", ""), ("running", "queued"), ("running", "in-progress"), ("success", "success")]
    assert store.claim_result(run_id, 0)
    store.result_saved(run_id, 0, "1", tmp_path / "a.png")
    store.result_saved(run_id, 1, "2", tmp_path / "b.png")
    run = store.get("job_1")  # by job id too
    assert run is not None and not run.unfinished and run.files == [tmp_path / "a.png", tmp_path / "b.png"]
    assert store.get(run_id[:6]) == run and store.unfinished() == []


def _claim(path: str, run_id: str, index: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put(Store(Path(path)).claim_result(run_id, index))


def test_two_processes_share_the_store_and_each_result_is_claimed_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    store = Store(path)
    run_id = new_run(store)
    store.record_job(run_id, job("job_1", "success", "asset_a"))
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [multiprocessing.Process(target=_claim, args=(str(path), run_id, 0, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    claims = [results.get(timeout=5) for _ in workers]
    assert sorted(claims) == [False, False, False, True]
    other = Store(path)
    new_run(other, "from the other process")
    assert [r.prompt for r in store.runs()] == ["from the other process", "a cat"]


def test_a_claim_of_a_dead_download_can_be_taken_over_after_its_lease(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "runs.sqlite3", clock=lambda: now[0])
    run_id = new_run(store)
    store.record_job(run_id, job("job_1", "success", "asset_a"))
    with store._tx() as db:
        db.execute("UPDATE results SET claimer = 1, claimed = ? WHERE run_id = ?", (now[0], run_id))
    assert not store.claim_result(run_id, 0)
    now[0] += 301
    assert store.claim_result(run_id, 0)


def test_uploads_are_remembered_per_scope(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.sqlite3")
    store.remember_upload("api#1", "abc", "asset_1")
    assert store.upload("api#1", "abc") == "asset_1" and store.upload("api#2", "abc") is None
    store.forget_upload("api#1", "abc")
    assert store.upload("api#1", "abc") is None


def test_the_old_ledger_is_imported_once(tmp_path: Path) -> None:
    ledger = tmp_path / "jobs.jsonl"
    entries = [
        {"event": "intent", "local": "a1", "time": 100.0, "mode": "live",
         "parameters": {"prompt": "done", "seed": "5", "model": {"id": "m", "name": "M"}}},
        {"event": "submitted", "local": "a1", "time": 101.0, "jobId": "job_done", "cost": 8},
        {"event": "finished", "time": 130.0, "jobId": "job_done", "status": "success", "results": ["/out/x.png"]},
        {"event": "intent", "local": "b2", "time": 200.0, "mode": "live", "parameters": {"prompt": "running"}},
        {"event": "submitted", "local": "b2", "time": 201.0, "jobId": "job_running", "cost": 4},
        {"event": "intent", "local": "c3", "time": 300.0, "mode": "live", "parameters": {"prompt": "lost answer"}},
        {"event": "unsure", "local": "c3", "time": 301.0, "error": "Network error: timeout"},
    ]
    ledger.write_text("\n".join(json.dumps(e) for e in entries) + "\n{not json\n")
    store = Store(tmp_path / "runs.sqlite3")
    assert store.import_ledger(ledger, "api#1") == 3
    assert store.import_ledger(ledger, "api#1") == 0
    done, running, unsure = (store.get(k) for k in ("job_done", "job_running", "c3"))
    assert done is not None and done.state is RunState.SUCCESS and done.files == [Path("/out/x.png")]
    assert done.model == {"id": "m", "name": "M"} and done.cost == 8 and not done.unfinished
    assert running is not None and running.state is RunState.RUNNING and running.scope == "api#1"
    assert unsure is not None and unsure.state is RunState.UNSURE and unsure.error == "Network error: timeout"
    assert [r.id for r in store.unfinished()] == [running.id, unsure.id]


_V1_SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, mode TEXT NOT NULL, scope TEXT NOT NULL,
    state TEXT NOT NULL, params TEXT NOT NULL, inputs TEXT NOT NULL, model TEXT, seed TEXT, quote REAL, cost REAL,
    job_id TEXT, raw_status TEXT NOT NULL DEFAULT '', progress REAL NOT NULL DEFAULT 0, error TEXT, hint TEXT,
    note TEXT, updated REAL NOT NULL, finished REAL, owner_pid INTEGER NOT NULL DEFAULT 0, output_dir TEXT);
CREATE TABLE events (run_id TEXT NOT NULL REFERENCES runs(id), time REAL NOT NULL, state TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT);
CREATE TABLE results (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, asset_id TEXT NOT NULL,
    seed TEXT, file TEXT, claimed REAL, claimer INTEGER, saved REAL, PRIMARY KEY (run_id, idx));
CREATE TABLE uploads (scope TEXT NOT NULL, sha256 TEXT NOT NULL, asset_id TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (scope, sha256));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO runs (id, created, mode, scope, state, params, inputs, seed, job_id, updated)
    VALUES ('old1', 5, 'live', 'api#1', 'success', '{"prompt": "an old lighthouse"}', '[]', '3', 'job_old', 5);
INSERT INTO results (run_id, idx, asset_id, seed, file, saved) VALUES ('old1', 0, 'asset_o', '3', '/x/o.png', 6);
PRAGMA user_version = 1;
"""


def test_a_version_1_store_is_migrated_keeping_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    sqlite3.connect(path).executescript(_V1_SCHEMA)
    store = Store(path)
    run = store.get("old1")
    assert run is not None and run.prompt == "an old lighthouse" and run.parent_run is None
    assert [(r.file, r.starred, r.discarded) for r in run.results] == [("/x/o.png", False, False)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    store.mark_result("old1", 0, starred=True)
    store.close()
    assert Store(path).get("old1").results[0].starred  # type: ignore[union-attr]  # reopened: no second migration


def test_results_are_starred_and_discarded_and_files_found_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.sqlite3")
    run_id = new_run(store)
    store.attach_job(run_id, job("job_1", "success", "asset_a", "asset_b"), 4.0)
    store.result_saved(run_id, 0, "1", tmp_path / "a.png")
    store.result_saved(run_id, 1, "2", tmp_path / "b.png")
    run = store.mark_result(run_id, 1, discarded=True)
    assert [(r.starred, r.discarded) for r in run.results] == [(False, False), (False, True)]
    run = store.mark_result(run_id, 0, starred=True)
    assert [(r.starred, r.discarded) for r in run.results] == [(True, False), (False, True)]
    assert (tmp_path / "b.png").exists() is False  # nothing touches files (there were none)
    assert store.result_of_file(tmp_path / "b.png") == (run_id, 1)
    assert store.result_of_file(tmp_path / "c.png") is None
    child = store.create_run(mode="live", scope="api#1", params={"prompt": "next"}, inputs=[], model=None,
                             seed="5", quote=None, parent=(run_id, 1))
    assert (child.parent_run, child.parent_result) == (run_id, 1)


def test_runs_are_filtered_by_text_and_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.sqlite3")
    cat, dog, pct = new_run(store, "a Cat"), new_run(store, "a dog"), new_run(store, "100% _cat_")
    store.attach_job(dog, job("job_dog", "success"), 1.0)
    assert [r.id for r in store.runs(text="cat")] == [pct, cat]  # any case, newest first
    assert [r.id for r in store.runs(text="%")] == [pct]  # LIKE's wildcards are literal
    assert [r.id for r in store.runs(text="_cat")] == [pct]
    assert [r.id for r in store.runs(text="job_d")] == [dog]  # job ids too
    assert [r.id for r in store.runs(states=[RunState.SUCCESS])] == [dog]
    assert [r.id for r in store.runs(text="cat", states=[RunState.INTENT, RunState.FAILURE])] == [pct, cat]
    assert store.runs(text="prompt") == []  # the JSON's keys are not searched
