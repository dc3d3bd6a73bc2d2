"""Helpers for the web tests (no tests here): a real `pcapflow serve` subprocess, tiny captures.

Every server listens on 127.0.0.1 only, on a free port, with a temporary data directory.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dpkt
import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_captures"
HAIRPIN = SAMPLES / "hairpin-two-backends"
START_TIMEOUT_S = 60.0  # generous: the test machine may be shared and busy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def syn(src: str, sport: int, dst: str, dport: int, seq: int) -> bytes:
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=dpkt.tcp.TH_SYN, win=64240)
    ip = dpkt.ip.IP(
        src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, data=tcp
    )
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(src=b"\x00\x0d\x3a\x00\x00\x04", dst=b"\x12\x34\x56\x78\x9a\xbc")
    eth.data = ip
    return bytes(eth)


def hairpin_pcap(*, nano: bool = False) -> bytes:
    """A tiny pcap of one hairpin attempt: SYN to the VIP out, the DNAT'd SYN back to self."""
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, nano=nano)
    writer.writepkt(syn("10.2.1.4", 40001, "10.2.1.100", 80, 1000), ts=1764312345.0)
    writer.writepkt(syn("10.2.1.4", 40001, "10.2.1.4", 80, 1000), ts=1764312345.00003)
    return out.getvalue()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


class Server:
    """A `pcapflow serve` subprocess; ``client()`` talks to it (with the token, if any)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        token: str | None = None,
        workers: int = 1,
        extra: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.token = token
        self.workers = workers
        self.extra = extra
        self.env = dict(env or {})
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=30.0, **kw)

    def start(self) -> Server:
        script = shutil.which("pcapflow")
        command = (
            [script] if script else [sys.executable, "-c", "from pcapflow.cli import main; main()"]
        )
        command += ["serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), "--workers", str(self.workers)]
        command += list(self.extra)
        if self.token:
            command += ["--token", self.token]
        env = {**os.environ, **self.env}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"pcapflow serve exited: {self.log.read_text()[-2000:]}")
            try:
                answer = httpx.get(f"{self.url}/api/v1/health", headers=self.headers(), timeout=2)
                if answer.status_code == 200 and answer.json()["workers"] == self.workers:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"pcapflow serve did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash, a power cut)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running(data_dir: Path, **kw: Any) -> Iterator[Server]:
    server = Server(data_dir, **kw).start()
    try:
        yield server
    finally:
        server.stop()


def wait_finished(client: httpx.Client, job_id: str, timeout_s: float = 90.0) -> dict[str, Any]:
    """Poll an analysis until it is done or failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/analyses/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"analysis {job_id} not finished after {timeout_s} s")


def hairpin_files() -> list[tuple[str, tuple[str, bytes, str]]]:
    """The multipart ``files`` for the hairpin sample capture and its config (as a file)."""
    capture = HAIRPIN / "web01-eth0.pcap"
    config = HAIRPIN / "lb.yaml"
    return [
        ("captures", (capture.name, capture.read_bytes(), "application/octet-stream")),
        ("lb", (config.name, config.read_bytes(), "application/yaml")),
    ]


def expected_labels(scenario: Path) -> set[str]:
    """Labels the scenario's ground truth expects pcapflow to give its attempts."""
    truth = json.loads((scenario / "ground_truth.json").read_text())
    return {a["expected_label"] for a in truth["attempts"]}
