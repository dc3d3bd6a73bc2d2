"""Nothing accepted is lost: SIGKILL the server mid-job, start it again, the job completes.

Workers wait PCAPFLOW_WEB_TEST_JOB_DELAY seconds after claiming a job, so the kill reliably lands
while the job is running.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from test_web_support import HAIRPIN, Server, hairpin_files, wait_finished

from pcapflow.web import jobs
from pcapflow.web.jobs import JobFiles
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import Job, JobStore, Status, UploadedCapture
from pcapflow.web.worker import DELAY_ENV

pytestmark = pytest.mark.skipif(
    not (HAIRPIN / "web01-eth0.pcap").exists(),
    reason="sample_captures/hairpin-two-backends missing",
)


def wait_status(client: httpx.Client, job_id: str, status: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get(f"/api/v1/analyses/{job_id}").json()["status"] == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"analysis {job_id} never became {status}")


def worker_pids(server_pid: int) -> list[int]:
    """Children of the server process (the analysis workers), from /proc."""
    pids: list[int] = []
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        text = (task / "children").read_text().split()
        pids += [int(p) for p in text]
    return pids


def test_a_job_running_when_the_server_is_killed_completes_after_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first = Server(data, env={DELAY_ENV: "3"}).start()
    try:
        with first.client() as client:
            job_id = client.post("/api/v1/analyses", files=hairpin_files()).json()["id"]
            wait_status(client, job_id, "running")
        assert first.process is not None
        workers = worker_pids(first.process.pid)
        assert workers
        first.kill()  # SIGKILL: no shutdown code runs
    finally:
        first.stop()
    time.sleep(0.5)
    for pid in workers:  # the workers died with the server (PR_SET_PDEATHSIG)
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)

    stored = JobStore(data / "pcapflow.sqlite3").get(job_id)
    assert stored is not None and stored.status.value == "running"  # as the kill left it

    second = Server(data).start()
    try:
        with second.client() as client:
            job = wait_finished(client, job_id)
            assert job["status"] == "done", job["error"]
            assert job["attempts"] == 2
            assert "hairpin_self" in {f["label"] for f in job["findings"]}
    finally:
        second.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return "gone"


def test_a_crashed_worker_fails_its_job_and_is_replaced(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", env={DELAY_ENV: "2"}).start()
    try:
        with server.client() as client:
            job_id = client.post("/api/v1/analyses", files=hairpin_files()).json()["id"]
            wait_status(client, job_id, "running")
            assert server.process is not None
            for pid in worker_pids(server.process.pid):
                os.kill(pid, signal.SIGKILL)
            job = wait_finished(client, job_id)
            assert job["status"] == "failed"
            assert job["error"] == "the analysis worker process stopped (killed by SIGKILL)"
            again = client.post("/api/v1/analyses", files=hairpin_files()).json()["id"]
            assert wait_finished(client, again)["status"] == "done"
    finally:
        server.stop()


def finished_job(data: Path, age_days: float) -> str:
    """A finished analysis recorded directly in the store, ``age_days`` old, with its files."""
    settings = ServeSettings(data_dir=data)
    files = JobFiles(settings)
    files.root.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_path)
    created = time.time() - age_days * 86400
    job_id = jobs.new_job_id()
    files.dir(job_id).mkdir()
    capture = UploadedCapture("capture-1.pcap", "web01-eth0.pcap", 4, "pcap")
    store.add(Job(job_id, created, created, Status.QUEUED, (capture,)))
    assert store.claim("test") is not None
    assert store.complete(job_id, "test", verdict="healthy", summary={}, result="{}")
    return job_id


def test_retention_removes_old_analyses_when_the_server_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old, recent = finished_job(data, 10), finished_job(data, 2)
    server = Server(data, workers=0, extra=("--retention", "7")).start()
    try:
        with server.client() as client:
            assert client.get(f"/api/v1/analyses/{old}").status_code == 404
            assert client.get(f"/api/v1/analyses/{recent}").json()["status"] == "done"
    finally:
        server.stop()
    assert not (data / "jobs" / old).exists()
    assert (data / "jobs" / recent).exists()
