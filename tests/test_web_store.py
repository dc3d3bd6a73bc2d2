"""The web job store and the job life cycle: queue, claims, results, restarts, retention."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pcapflow.errors import CaptureError
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult
from pcapflow.report import RENDERERS
from pcapflow.report.example import hairpin_example
from pcapflow.web import jobs
from pcapflow.web.jobs import JobFiles
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import Job, JobStore, Status, UploadedCapture
from pcapflow.web.worker import JobRunner


@pytest.fixture
def settings(tmp_path: Path) -> ServeSettings:
    return ServeSettings(data_dir=tmp_path)


@pytest.fixture
def store(settings: ServeSettings) -> JobStore:
    return JobStore(settings.db_path)


@pytest.fixture
def files(settings: ServeSettings) -> JobFiles:
    settings.jobs_dir.mkdir()
    return JobFiles(settings)


def queued(
    store: JobStore,
    files: JobFiles,
    created: float,
    lb: str | None = None,
    checksums: str = "offload-aware",
) -> Job:
    job_id = jobs.new_job_id()
    files.dir(job_id).mkdir()
    (files.dir(job_id) / "capture-1.pcap").write_bytes(b"\xd4\xc3\xb2\xa1")
    if lb is not None:
        files.config(job_id).write_text(lb)
    capture = UploadedCapture("capture-1.pcap", "web01-eth0.pcap", 4, "pcap")
    job = Job(job_id, created, created, Status.QUEUED, (capture,), "queued", checksums=checksums)
    store.add(job)
    return job


def test_jobs_are_claimed_oldest_first_and_only_once(store: JobStore, files: JobFiles) -> None:
    first = queued(store, files, 100.0)
    second = queued(store, files, 200.0)
    claimed = [store.claim("w1"), store.claim("w2"), store.claim("w3")]
    assert [j.id if j else None for j in claimed] == [first.id, second.id, None]
    running = store.get(first.id)
    assert running is not None
    assert (running.status, running.claimed_by, running.attempts) == (Status.RUNNING, "w1", 1)


def test_concurrent_claims_never_hand_out_a_job_twice(store: JobStore, files: JobFiles) -> None:
    created = [queued(store, files, float(n)).id for n in range(30)]
    taken: list[str] = []
    lock = threading.Lock()

    def claim_all(name: str) -> None:
        own = JobStore(store.path)
        while (job := own.claim(name)) is not None:
            with lock:
                taken.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(taken) == sorted(created)


def test_a_stale_claim_cannot_write_a_result(store: JobStore, files: JobFiles) -> None:
    job = queued(store, files, 1.0)
    store.claim("w1")
    assert not store.complete(job.id, "someone-else", verdict="healthy", summary={}, result="{}")
    assert store.complete(job.id, "w1", verdict="healthy", summary={"x": 1}, result='{"a": 1}')
    done = store.get(job.id)
    assert done is not None and done.status is Status.DONE and done.summary == {"x": 1}
    assert store.result_json(job.id) == '{"a": 1}'
    assert not store.fail(job.id, "w1", "too late")


def test_restart_requeues_running_jobs_until_attempts_run_out(
    store: JobStore, files: JobFiles
) -> None:
    job = queued(store, files, 1.0)
    for _ in range(2):
        assert store.claim("w") is not None
        assert store.requeue_running(max_attempts=3, reason="resumed") == ([job.id], [])
    assert store.claim("w") is not None
    assert store.requeue_running(max_attempts=3, reason="resumed") == ([], [job.id])
    failed = store.get(job.id)
    assert failed is not None and failed.status is Status.FAILED
    assert failed.error is not None and "interrupted 3 times" in failed.error


def test_retention_deletes_old_finished_jobs_and_their_files(
    store: JobStore, files: JobFiles
) -> None:
    now = time.time()
    old_done = queued(store, files, now - 40 * 86400)
    store.claim("w")
    store.complete(old_done.id, "w", verdict="healthy", summary={}, result="{}")
    old_queued = queued(store, files, now - 50 * 86400)
    recent = queued(store, files, now - 86400)
    assert jobs.expire(store, files, 0, now) == []  # 0 = keep forever
    assert jobs.expire(store, files, 30, now) == [old_done.id]
    assert store.ids() == {old_queued.id, recent.id}
    assert not files.dir(old_done.id).exists()
    assert files.dir(recent.id).exists()


def test_start_up_sweeps_half_uploads_and_orphan_directories(
    store: JobStore, files: JobFiles
) -> None:
    kept = queued(store, files, 1.0)
    orphan = files.root / "0123456789abcdef"
    orphan.mkdir()
    (files.staging / "partial").mkdir(parents=True)
    jobs.sweep_orphans(store, files)
    assert files.dir(kept.id).exists()
    assert not orphan.exists()
    assert list(files.staging.iterdir()) == []


def test_job_files_refuse_anything_but_a_job_id(files: JobFiles) -> None:
    for bad in ("../etc", "0123456789abcdeF", "/tmp/x", "a" * 17, ""):
        with pytest.raises(ValueError):
            files.dir(bad)


class FakeEngine:
    """Stands in for pcapflow.pipeline.analyze: records its call, returns or raises."""

    def __init__(self, outcome: AnalysisResult | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[list[str], LbConfig | None, str | None, Path, list[Any]]] = []
        self.checksums: list[bool | None] = []  # ignore_checksums of each call

    def __call__(
        self,
        captures: Sequence[str],
        lb: LbConfig | None,
        *,
        os: str | None,
        capture_points: Sequence[str | None],
        ignore_checksums: bool | None,
    ) -> AnalysisResult:
        self.calls.append((list(captures), lb, os, Path.cwd(), list(capture_points)))
        self.checksums.append(ignore_checksums)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def run_one(store: JobStore, files: JobFiles, engine: FakeEngine) -> Job:
    job = queued(store, files, 1.0)
    claimed = store.claim("w")
    assert claimed is not None
    JobRunner(store, files, engine).run(claimed, "w")
    finished = store.get(job.id)
    assert finished is not None
    return finished


def test_runner_renders_every_format_and_records_the_findings(
    store: JobStore, files: JobFiles
) -> None:
    engine = FakeEngine(hairpin_example())
    job = run_one(store, files, engine)
    assert job.status is Status.DONE, job.error
    assert job.verdict == "hairpin failure"
    # the engine ran inside the job directory, on the generated file names; each capture
    # point is named after the uploaded file
    assert engine.calls == [(["capture-1.pcap"], None, None, files.dir(job.id), ["web01-eth0"])]
    for spec in RENDERERS.values():
        assert files.report(job.id, spec.extension).stat().st_size > 0, spec.name
    labels = {f["label"] for f in job.summary["findings"]}
    assert "hairpin_self" in labels
    hairpin = next(f for f in job.summary["findings"] if f["label"] == "hairpin_self")
    assert hairpin["remediations"], "the hairpin finding carries its remediations"
    assert '"hairpin_self"' in (store.result_json(job.id) or "")


def test_runner_fails_a_job_with_the_engines_one_line_error(
    store: JobStore, files: JobFiles
) -> None:
    job = run_one(store, files, FakeEngine(CaptureError("capture-1.pcap: truncated header")))
    assert job.status is Status.FAILED
    assert job.error == "capture-1.pcap (web01-eth0.pcap): truncated header"


def test_runner_turns_a_bug_into_a_failed_job(store: JobStore, files: JobFiles) -> None:
    job = run_one(store, files, FakeEngine(ZeroDivisionError("division by zero")))
    assert job.status is Status.FAILED
    assert job.error == "internal error: ZeroDivisionError: division by zero"


def test_a_job_deleted_while_running_leaves_nothing_behind(
    store: JobStore, files: JobFiles
) -> None:
    job = queued(store, files, 1.0)
    claimed = store.claim("w")
    assert claimed is not None
    jobs.delete(job.id, store, files)
    JobRunner(store, files, FakeEngine(hairpin_example())).run(claimed, "w")
    assert store.get(job.id) is None
    assert not files.dir(job.id).exists()


# ---- the checksum policy ---------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "ignore"), [("offload-aware", None), ("ignore", True),
                                                ("verify", False)])  # fmt: skip
def test_the_runner_reads_with_the_jobs_checksum_policy(
    store: JobStore, files: JobFiles, policy: str, ignore: bool | None
) -> None:
    job = queued(store, files, 1.0, checksums=policy)
    assert (stored := store.get(job.id)) is not None and stored.checksums == policy
    claimed = store.claim("w")
    assert claimed is not None and claimed.id == job.id
    engine = FakeEngine(hairpin_example())
    JobRunner(store, files, engine).run(claimed, "w")
    assert engine.checksums == [ignore]


def test_a_database_from_before_the_policy_column_gets_it(tmp_path: Path) -> None:
    """Jobs recorded before the column existed were read with the default policy."""
    import sqlite3

    from pcapflow.web.store import SCHEMA

    path = tmp_path / "old.sqlite3"
    old_schema = SCHEMA.replace("    checksums   TEXT,\n", "")
    assert old_schema != SCHEMA
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        db.execute(
            "INSERT INTO jobs (id, created, updated, status, captures) VALUES (?, 1, 1, ?, ?)",
            ("0123456789abcdef", "done", "[]"),
        )
    store = JobStore(path)
    old = store.get("0123456789abcdef")
    assert old is not None and old.checksums == "offload-aware"
    new = Job("fedcba9876543210", 2.0, 2.0, Status.QUEUED, (), checksums="ignore")
    store.add(new)
    assert store.get(new.id) == new
    assert JobStore(path).get(new.id) == new  # opening it again changes nothing
