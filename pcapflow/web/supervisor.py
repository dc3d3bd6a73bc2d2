"""The worker pool: starts analysis worker processes, watches them, and keeps the store tidy.

One thread owns every worker process (so ``PR_SET_PDEATHSIG`` ties them to the server's life):

- a worker that dies (crash, OOM kill) fails the job it held, with the reason, and is replaced;
- a job running longer than the job timeout is failed and its worker killed and replaced;
- old finished jobs are deleted once an hour (retention).

At start, before any worker runs, jobs left ``running`` by a stopped server go back to the queue.
"""

from __future__ import annotations

import logging
import os
import signal
import site
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pcapflow._jitcache import SERVE_DATA_DIR_ENV
from pcapflow.web import jobs
from pcapflow.web.jobs import JobFiles
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import JobStore
from pcapflow.web.worker import ready_file

log = logging.getLogger("pcapflow.web")
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where this pcapflow was imported from

WATCH_S = 0.5
RETENTION_EVERY_S = 3600.0
STOP_GRACE_S = 5.0


@dataclass
class WorkerProcess:
    claimant: str
    process: subprocess.Popen[bytes]


def worker_pythonpath(pythonpath: str | None) -> dict[str, str]:
    """Workers run with ``-P`` (never a ``pcapflow`` folder in the working directory): when this
    pcapflow is not installed in site-packages (a source checkout), they are told where it is."""
    installed = {os.path.realpath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if os.path.realpath(PACKAGE_ROOT) in installed:
        return {}
    return {"PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, pythonpath]))}


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


class WorkerPool:
    """Owns the analysis workers of one server."""

    def __init__(self, settings: ServeSettings, store: JobStore, files: JobFiles) -> None:
        self.settings = settings
        self.store = store
        self.files = files
        self.instance = uuid.uuid4().hex[:8]
        self.workers: list[WorkerProcess] = []
        self._serial = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_retention = 0.0

    # ---- life cycle ------------------------------------------------------------------------
    def recover(self) -> None:
        """Before serving: resume interrupted jobs, drop orphans, apply retention."""
        jobs.sweep_orphans(self.store, self.files)
        for stale in (self.settings.data_dir / "workers").glob("*.ready"):
            stale.unlink(missing_ok=True)  # left by a server that was killed
        requeued, failed = self.store.requeue_running(
            max_attempts=self.settings.max_attempts, reason="resumed after a server restart"
        )
        if requeued:
            log.info("resuming %d interrupted job(s): %s", len(requeued), ", ".join(requeued))
        if failed:
            log.warning("giving up on job(s) interrupted too often: %s", ", ".join(failed))
        self._retention(time.time())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="pcapflow-workers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the workers; jobs they were running go back to the queue for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_GRACE_S * 2)

    @property
    def alive(self) -> int:
        return sum(1 for w in self.workers if w.process.poll() is None)

    @property
    def warm(self) -> int:
        """Workers alive that have compiled their kernels (and so take jobs at once)."""
        return sum(
            1
            for w in list(self.workers)
            if w.process.poll() is None and ready_file(self.settings.data_dir, w.claimant).exists()
        )

    @property
    def ready(self) -> bool:
        """Every worker started and warm: an upload now waits for no compile."""
        return len(self.workers) == self.settings.workers and self.warm == self.settings.workers

    # ---- the watcher thread ----------------------------------------------------------------
    def _watch(self) -> None:
        try:
            self.workers = [self._spawn() for _ in range(self.settings.workers)]
            while not self._stop.wait(WATCH_S):
                self._check_workers()
                self._check_timeouts()
                self._retention(time.time())
        except Exception:
            log.exception("worker supervisor failed")
        finally:
            self._terminate_all()

    def _spawn(self) -> WorkerProcess:
        self._serial += 1
        claimant = f"{self.instance}-w{self._serial}"
        command = [
            sys.executable,
            "-P",  # not the working directory's pcapflow (another checkout): the server's
            "-m",
            "pcapflow.web.worker",
            "--data-dir",
            str(self.settings.data_dir),
            "--claimant",
            claimant,
            "--parent-pid",
            str(os.getpid()),
        ]
        # the workers cache compiled kernels in the data dir when the user has no cache dir
        env = {**os.environ, SERVE_DATA_DIR_ENV: str(self.settings.data_dir)}
        env.update(worker_pythonpath(os.environ.get("PYTHONPATH")))
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env)
        log.info("started analysis worker %s (pid %d)", claimant, process.pid)
        return WorkerProcess(claimant, process)

    def _check_workers(self) -> None:
        for index, worker in enumerate(self.workers):
            returncode = worker.process.poll()
            if returncode is None:
                continue
            ready_file(self.settings.data_dir, worker.claimant).unlink(missing_ok=True)
            reason = exit_reason(returncode)
            log.warning("analysis worker %s stopped (%s); replacing it", worker.claimant, reason)
            self._fail_held(worker, f"the analysis worker process stopped ({reason})")
            self.workers[index] = self._spawn()

    def _check_timeouts(self) -> None:
        limit = self.settings.job_timeout_s
        now = time.time()
        for worker in self.workers:
            for job in self.store.claimed_by(worker.claimant):
                if job.started is not None and now - job.started > limit:
                    worker.process.kill()
                    worker.process.wait()
                    self._fail_held(worker, f"the analysis took longer than {limit:g} s")

    def _fail_held(self, worker: WorkerProcess, error: str) -> None:
        for job in self.store.claimed_by(worker.claimant):
            self.store.fail(job.id, worker.claimant, error)

    def _retention(self, now: float) -> None:
        if now < self._next_retention:
            return
        self._next_retention = now + RETENTION_EVERY_S
        gone = jobs.expire(self.store, self.files, self.settings.retention_days, now)
        if gone:
            log.info(
                "retention: deleted %d job(s) older than %g days",
                len(gone),
                self.settings.retention_days,
            )

    def _terminate_all(self) -> None:
        for worker in self.workers:
            ready_file(self.settings.data_dir, worker.claimant).unlink(missing_ok=True)
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        self.store.requeue_running(
            max_attempts=self.settings.max_attempts + 1,
            reason="the server stopped; the analysis resumes when it starts again",
        )
