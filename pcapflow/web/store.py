"""The job store: SQLite (WAL) for jobs and results, one connection per thread and process.

A job moves ``queued -> running -> done | failed``.  A worker claims the oldest queued job in one
``BEGIN IMMEDIATE`` transaction and writes its outcome only while its claim still holds, so a job
that was deleted, expired or re-queued meanwhile is never overwritten by a stale worker.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pcapflow.model.checksums import DEFAULT_POLICY

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    created     REAL NOT NULL,
    updated     REAL NOT NULL,
    started     REAL,
    finished    REAL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    stage       TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    claimed_by  TEXT,
    os          TEXT,
    lb_name     TEXT,
    lb_format   TEXT,
    checksums   TEXT,
    captures    TEXT NOT NULL,
    verdict     TEXT,
    summary     TEXT,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, created);
CREATE TABLE IF NOT EXISTS results (
    job_id  TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    json    TEXT NOT NULL
);
"""


# Columns added after the first release, for a database made before them: (name, SQL type).
ADDED_COLUMNS = (("checksums", "TEXT"),)

COPY_CHUNK = 1 << 20


def _store_file(db: sqlite3.Connection, job_id: str, path: Path) -> None:
    """The file's bytes as the job's result, written into a blob piece by piece (a result of
    hundreds of megabytes is never held whole)."""
    size = path.stat().st_size
    cursor = db.execute(
        "INSERT OR REPLACE INTO results (job_id, json) VALUES (?, zeroblob(?))", (job_id, size)
    )
    rowid = cursor.lastrowid
    assert rowid is not None
    with path.open("rb") as src, db.blobopen("results", "json", rowid) as blob:
        while chunk := src.read(COPY_CHUNK):
            blob.write(chunk)


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (Status.DONE, Status.FAILED)


@dataclass(frozen=True, slots=True)
class UploadedCapture:
    """One accepted capture: the generated file name on disk and what the user called it."""

    file: str  # generated, relative to the job directory: "capture-1.pcap"
    name: str  # the uploaded file name, for display only
    size: int
    format: str  # from the magic bytes: "pcap", "pcapng", "gzip+pcap", ...

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "name": self.name, "size": self.size, "format": self.format}


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    created: float
    updated: float
    status: Status
    captures: tuple[UploadedCapture, ...]
    stage: str = ""
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    claimed_by: str | None = None
    os: str | None = None
    lb_name: str | None = None  # config file name or "<pasted>"; None = no config
    lb_format: str | None = None
    checksums: str = DEFAULT_POLICY  # the checksum policy (pcapflow.model.checksums)
    verdict: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # verdict, findings, remediations
    error: str | None = None


class JobStore:
    """Jobs in SQLite; safe to share between threads (each gets its own connection)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._connection().executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A database made before a column existed gets it (NULL in the old rows)."""
        with self._transaction() as db:
            have = {str(row["name"]) for row in db.execute("PRAGMA table_info(jobs)")}
            for column, kind in ADDED_COLUMNS:
                if column not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")  # fixed names

    # ---- connections ---------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ---- creating and reading --------------------------------------------------------------
    def add(self, job: Job) -> None:
        """Record a new queued job (committed when this returns)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, created, updated, status, stage, os, lb_name, lb_format,"
                " checksums, captures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.created,
                    job.updated,
                    job.status.value,
                    job.stage,
                    job.os,
                    job.lb_name,
                    job.lb_format,
                    job.checksums,
                    json.dumps([c.to_dict() for c in job.captures]),
                ),
            )

    def get(self, job_id: str) -> Job | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def recent(self, *, limit: int = 100, offset: int = 0) -> list[Job]:
        """Newest first."""
        rows = self._connection().execute(
            "SELECT * FROM jobs ORDER BY created DESC, id LIMIT ? OFFSET ?", (limit, offset)
        )
        return [_job(row) for row in rows]

    def count(self) -> int:
        row = self._connection().execute("SELECT count(*) FROM jobs").fetchone()
        return int(row[0])

    def queue_position(self, job: Job) -> int:
        """1 = next to run."""
        row = (
            self._connection()
            .execute(
                "SELECT count(*) FROM jobs WHERE status = 'queued' AND (created < ? OR "
                "(created = ? AND id <= ?))",
                (job.created, job.created, job.id),
            )
            .fetchone()
        )
        return int(row[0])

    def counts(self) -> dict[str, int]:
        rows = self._connection().execute("SELECT status, count(*) FROM jobs GROUP BY status")
        found = {str(status): int(n) for status, n in rows}
        return {s.value: found.get(s.value, 0) for s in Status}

    def result_json(self, job_id: str) -> str | None:
        row = (
            self._connection()
            .execute("SELECT json FROM results WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        if row is None:
            return None
        value = row[0]
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def delete(self, job_id: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0

    # ---- the queue -------------------------------------------------------------------------
    def claim(self, claimant: str, *, now: float | None = None) -> Job | None:
        """Take the oldest queued job for ``claimant`` (it becomes running), or None."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', claimed_by = ?, started = ?, updated = ?,"
                " attempts = attempts + 1, stage = 'starting' WHERE id = ?",
                (claimant, now, now, row["id"]),
            )
        return self.get(str(row["id"]))

    def set_stage(self, job_id: str, claimant: str, stage: str) -> bool:
        return self._update_claimed(job_id, claimant, "stage = ?", (stage,))

    def complete(
        self,
        job_id: str,
        claimant: str,
        *,
        verdict: str,
        summary: dict[str, Any],
        result: str | Path,
    ) -> bool:
        """Mark a job done with its result (JSON text, or a file holding it, copied in a
        megabyte at a time); False when the claim no longer holds."""
        with self._transaction() as db:
            now = time.time()
            updated = db.execute(
                "UPDATE jobs SET status = 'done', stage = 'done', finished = ?, updated = ?,"
                " verdict = ?, summary = ?, error = NULL, claimed_by = NULL"
                " WHERE id = ? AND status = 'running' AND claimed_by = ?",
                (now, now, verdict, json.dumps(summary), job_id, claimant),
            ).rowcount
            if updated and isinstance(result, Path):
                _store_file(db, job_id, result)
            elif updated:
                db.execute(
                    "INSERT OR REPLACE INTO results (job_id, json) VALUES (?, ?)", (job_id, result)
                )
        return bool(updated)

    def fail(self, job_id: str, claimant: str, error: str) -> bool:
        """Mark a job failed with a one-line error; False when the claim no longer holds."""
        now = time.time()
        return self._update_claimed(
            job_id,
            claimant,
            "status = 'failed', stage = 'failed', finished = ?, error = ?, claimed_by = NULL",
            (now, error),
        )

    def claimed_by(self, claimant: str) -> list[Job]:
        rows = self._connection().execute(
            "SELECT * FROM jobs WHERE status = 'running' AND claimed_by = ?", (claimant,)
        )
        return [_job(row) for row in rows]

    def requeue_running(self, *, max_attempts: int, reason: str) -> tuple[list[str], list[str]]:
        """After a restart: running jobs go back to the queue, or fail after ``max_attempts``.

        Returns (requeued ids, failed ids).
        """
        now = time.time()
        with self._transaction() as db:
            rows = db.execute("SELECT id, attempts FROM jobs WHERE status = 'running'").fetchall()
            requeued = [str(r["id"]) for r in rows if r["attempts"] < max_attempts]
            failed = [str(r["id"]) for r in rows if r["attempts"] >= max_attempts]
            db.executemany(
                "UPDATE jobs SET status = 'queued', stage = ?, claimed_by = NULL, updated = ?"
                " WHERE id = ?",
                [(reason, now, job_id) for job_id in requeued],
            )
            error = f"interrupted {max_attempts} times (the server stopped during the analysis)"
            db.executemany(
                "UPDATE jobs SET status = 'failed', stage = 'failed', error = ?, finished = ?,"
                " updated = ?, claimed_by = NULL WHERE id = ?",
                [(error, now, now, job_id) for job_id in failed],
            )
        return requeued, failed

    def expired(self, older_than: float) -> list[str]:
        """Ids of finished jobs created before ``older_than`` (epoch seconds)."""
        rows = self._connection().execute(
            "SELECT id FROM jobs WHERE status IN ('done', 'failed') AND created < ? ORDER BY id",
            (older_than,),
        )
        return [str(r["id"]) for r in rows]

    def ids(self) -> set[str]:
        return {str(r[0]) for r in self._connection().execute("SELECT id FROM jobs")}

    def _update_claimed(
        self, job_id: str, claimant: str, assignments: str, values: Sequence[object]
    ) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE jobs SET {assignments}, updated = ? "  # fixed fragments only
                "WHERE id = ? AND status = 'running' AND claimed_by = ?",
                (*values, time.time(), job_id, claimant),
            )
            return cursor.rowcount > 0


def _job(row: sqlite3.Row) -> Job:
    captures = tuple(UploadedCapture(**c) for c in json.loads(row["captures"]))
    return Job(
        id=row["id"],
        created=row["created"],
        updated=row["updated"],
        status=Status(row["status"]),
        captures=captures,
        stage=row["stage"],
        started=row["started"],
        finished=row["finished"],
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        os=row["os"],
        lb_name=row["lb_name"],
        lb_format=row["lb_format"],
        checksums=row["checksums"] or DEFAULT_POLICY,  # NULL: a job from before the column
        verdict=row["verdict"],
        summary=json.loads(row["summary"]) if row["summary"] else {},
        error=row["error"],
    )
