"""Jobs on disk and their life cycle outside the worker: accept, delete, expire, recover.

Layout of the data directory (every name generated, none taken from an upload)::

    pcapflow.sqlite3            jobs and results (WAL)
    staging/<uuid>/             an upload being received; removed on error or moved on accept
    jobs/<job id>/capture-1.pcap, capture-2.pcapng.gz, ...   the captures, named by their magic
    jobs/<job id>/lb.txt        the load-balancer config, as uploaded or pasted
    jobs/<job id>/reports/report.<ext>                       one rendered report per format
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from pathlib import Path

from pcapflow.errors import PcapflowError
from pcapflow.model.checksums import DEFAULT_POLICY
from pcapflow.web.errors import WebError
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import Job, JobStore, Status
from pcapflow.web.upload import Submission

JOB_ID_RE = re.compile(r"^[0-9a-f]{16}$")
CONFIG_FILE = "lb.txt"
CONFIG_SET_FILE = "lb-set.json"  # several config files: [[name, text], ...]
REPORTS_DIR = "reports"


class JobFiles:
    """Paths of a job's files; a job id that is not one of ours never becomes a path."""

    def __init__(self, settings: ServeSettings) -> None:
        self.root = settings.jobs_dir
        self.staging = settings.staging_dir

    def dir(self, job_id: str) -> Path:
        if not JOB_ID_RE.match(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def config(self, job_id: str) -> Path:
        return self.dir(job_id) / CONFIG_FILE

    def config_set(self, job_id: str) -> Path:
        return self.dir(job_id) / CONFIG_SET_FILE

    def report(self, job_id: str, extension: str) -> Path:
        return self.dir(job_id) / REPORTS_DIR / f"report.{extension}"

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.dir(job_id), ignore_errors=True)


def new_job_id() -> str:
    return secrets.token_hex(8)


def check_config(submission: Submission) -> None:
    """Load the config the way the worker will, so a bad one is refused at once (400)."""
    if submission.lb_text is None and not submission.lb_files:
        return
    from pcapflow.lbconfig import load_text
    from pcapflow.lbconfig.loader import load_named_texts
    from pcapflow.lbconfig.problems import raise_first

    try:
        if submission.lb_files:
            raise_first(load_named_texts(submission.lb_files, fmt=submission.lb_format).problems)
        elif submission.lb_text is not None:
            name = submission.lb_name or "lb"
            load_text(submission.lb_text, fmt=submission.lb_format, name=name)
    except PcapflowError as exc:
        raise WebError(400, "bad_config", str(exc)) from None


def accept(
    submission: Submission, store: JobStore, files: JobFiles, checksums: str = DEFAULT_POLICY
) -> Job:
    """Turn a received upload into a queued job; the job is committed when this returns.

    ``checksums`` is the server's checksum policy, the job's unless the upload chose one."""
    job_id = new_job_id()
    try:
        check_config(submission)
        if submission.lb_text is not None:
            (submission.staging / CONFIG_FILE).write_text(submission.lb_text, encoding="utf-8")
        if submission.lb_files:
            text = json.dumps([list(item) for item in submission.lb_files])
            (submission.staging / CONFIG_SET_FILE).write_text(text, encoding="utf-8")
        submission.staging.rename(files.dir(job_id))
    except BaseException:
        shutil.rmtree(submission.staging, ignore_errors=True)
        raise
    now = time.time()
    job = Job(
        id=job_id,
        created=now,
        updated=now,
        status=Status.QUEUED,
        captures=submission.captures,
        stage="queued",
        os=submission.os,
        lb_name=submission.lb_name,
        lb_format=submission.lb_format,
        checksums=submission.checksums or checksums,
    )
    try:
        store.add(job)
    except BaseException:
        files.remove(job_id)
        raise
    return job


def delete(job_id: str, store: JobStore, files: JobFiles) -> bool:
    """Forget a job and its files (a running one too: its worker's result is then discarded)."""
    found = store.delete(job_id)
    if found:
        files.remove(job_id)
    return found


def expire(store: JobStore, files: JobFiles, retention_days: float, now: float) -> list[str]:
    """Delete finished jobs older than the retention period; returns their ids."""
    if retention_days <= 0:
        return []
    gone = store.expired(now - retention_days * 86400)
    for job_id in gone:
        delete(job_id, store, files)
    return gone


def sweep_orphans(store: JobStore, files: JobFiles) -> None:
    """At start: drop half-received uploads and job directories without a job row."""
    shutil.rmtree(files.staging, ignore_errors=True)
    files.staging.mkdir(parents=True, exist_ok=True)
    files.root.mkdir(parents=True, exist_ok=True)
    known = store.ids()
    for entry in files.root.iterdir():
        if entry.name not in known:
            shutil.rmtree(entry, ignore_errors=True)
