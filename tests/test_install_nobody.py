"""A system-wide install used by a service account: root installs, ``nobody`` (no home) analyses.

Root builds a venv (``--system-site-packages``, so the dependencies already installed are reused
offline) and ``pip install``s a copy of this tree into it, non-editable, as an operator would.
Then ``nobody``, with ``HOME=/nonexistent`` and no ``NUMBA_CACHE_DIR``, runs ``pcapflow analyze``
and a ``pcapflow serve`` job: both must give root's labels (exit 3 for the CLI), no traceback.
The package directory is root's, so numba's in-tree cache is not writable: pcapflow must find a
cache of its own (a private temp dir for the CLI, the data dir for serve).

Skipped where the test cannot switch users (not root, no ``runuser``, no ``nobody``).  Where the
interpreter lives under a directory ``nobody`` cannot enter (a pyenv under ``/root``), the user's
commands run in a private mount namespace in which only the interpreter's prefix is visible
there, read-only (needs ``unshare``; skipped without it).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_web_support import HAIRPIN, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
USER = "nobody"


def can_switch_users() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root to switch users"
    if shutil.which("runuser") is None:
        return "needs runuser (util-linux)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no user {USER!r}"
    return None


def hidden_ancestor(path: Path) -> Path | None:
    """The topmost directory above ``path`` that other users cannot enter, if any."""
    for parent in reversed(path.parents):  # "/" first
        if not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


class Install:
    """A root-owned venv holding a non-editable install of this tree, in a world-readable dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.prefix = Path(sys.base_prefix)
        self.hidden = hidden_ancestor(self.prefix)

    def build(self) -> None:
        source = self.root / "src"
        source.mkdir()
        shutil.copytree(REPO / "pcapflow", source / "pcapflow")
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(REPO / name, source / name)
        python = Path(sys.base_prefix) / "bin" / "python3"
        subprocess.run(
            [str(python), "-m", "venv", "--system-site-packages", str(self.venv)], check=True
        )
        pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        pip += ["--no-deps", "--no-build-isolation", "--no-index", str(source)]
        subprocess.run(pip, check=True, capture_output=True)
        for path in (self.root, self.root / "inputs"):
            path.mkdir(exist_ok=True)
            path.chmod(0o755)
        for name in ("web01-eth0.pcap", "lb.yaml"):
            shutil.copy(HAIRPIN / name, self.root / "inputs" / name)
            (self.root / "inputs" / name).chmod(0o644)

    def user_command(self, argv: list[str], home: Path) -> list[str]:
        """``argv`` run as ``nobody`` with HOME=/nonexistent and ``home`` as its temp dir."""
        user_env = ["env", "-i", "HOME=/nonexistent", f"TMPDIR={home}", "PATH=/usr/bin:/bin"]
        command = ["runuser", "-u", USER, "--", *user_env, *argv]
        if self.hidden is None:
            return command
        if shutil.which("unshare") is None:
            pytest.skip(f"{self.prefix} is under {self.hidden}, which {USER} cannot enter")
        script = self._expose()
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            script,
            "-",
            *command,
        ]

    def _expose(self) -> str:
        """A shell script that shows only the interpreter's prefix under the hidden directory
        (read-only), then runs its arguments."""
        assert self.hidden is not None
        keep = self.root / "prefix"
        keep.mkdir(exist_ok=True)
        return (
            f"mount --bind {self.prefix} {keep}; mount -o remount,ro,bind {keep}; "
            f"mount -t tmpfs -o mode=0711 tmpfs {self.hidden}; mkdir -p {self.prefix}; "
            f'mount --bind {keep} {self.prefix}; exec "$@"'
        )


@pytest.fixture(scope="module")
def install() -> Iterator[Install]:
    reason = can_switch_users()
    if reason:
        pytest.skip(reason)
    if not (HAIRPIN / "web01-eth0.pcap").exists():
        pytest.skip("sample_captures/hairpin-two-backends is missing")
    root = Path(tempfile.mkdtemp(prefix="pcapflow-install-", dir="/tmp"))
    try:
        built = Install(root)
        built.build()
        yield built
    finally:
        shutil.rmtree(root, ignore_errors=True)


def user_dir(install: Install, name: str) -> Path:
    """A directory ``nobody`` owns (its TMPDIR, or a serve data dir)."""
    path = install.root / name
    path.mkdir()
    entry = pwd.getpwnam(USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def root_labels() -> Counter[str]:
    """Labels of the same analysis run by root (this process, the tree under test)."""
    from pcapflow import analyze, load_lb_config

    result = analyze([str(HAIRPIN / "web01-eth0.pcap")], load_lb_config([str(HAIRPIN / "lb.yaml")]))
    return Counter(f.label.value for f in result.flows if f.label is not None)


def json_labels(report: dict[str, object]) -> Counter[str]:
    flows = report["flows"]
    assert isinstance(flows, list)
    return Counter(f["label"] for f in flows if f.get("label"))


def test_nobody_without_a_home_gets_root_labels_from_analyze(install: Install) -> None:
    home = user_dir(install, "tmp-cli")
    inputs = install.root / "inputs"
    argv = [str(install.venv / "bin" / "pcapflow"), "analyze", str(inputs / "web01-eth0.pcap")]
    argv += ["--lb", str(inputs / "lb.yaml"), "--format", "json"]
    done = subprocess.run(
        install.user_command(argv, home), capture_output=True, text=True, timeout=900
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3, done.stderr
    assert json_labels(json.loads(done.stdout)) == root_labels()
    assert f"cached in {home}/pcapflow-" in done.stderr, done.stderr
    again = subprocess.run(
        install.user_command(argv, home), capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 3 and again.stderr == "", again.stderr  # warm: cached for nobody


def test_serve_as_nobody_warms_up_then_finishes_an_upload(install: Install) -> None:
    home = user_dir(install, "tmp-serve")
    data = user_dir(install, "data")
    port = free_port()
    argv = [str(install.venv / "bin" / "pcapflow"), "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--data-dir", str(data), "--workers", "1"]
    log = (install.root / "serve.log").open("wb")
    server = subprocess.Popen(
        install.user_command(argv, home), stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        readiness = wait_ready(url, server)
        assert readiness[0] == (503, False)  # a fresh data dir: the worker compiles first
        assert readiness[-1] == (200, True)
        assert all(code == 503 and not ready for code, ready in readiness[:-1])
        job = upload_and_wait(url)
        assert job["status"] == "done", job["error"]
        result = httpx.get(f"{url}/analyses/{job['id']}/result/json", timeout=30).json()
        assert json_labels(result) == root_labels()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    text = (install.root / "serve.log").read_text()
    assert "Traceback" not in text, text[-3000:]
    assert f"cached in {data}/cache/numba" in text, text[-3000:]


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> list[tuple[int, bool]]:
    """Poll /ready until 200; the (status, ready) answers seen."""
    seen: list[tuple[int, bool]] = []
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        assert server.poll() is None, "pcapflow serve exited"
        try:
            answer = httpx.get(f"{url}/ready", timeout=5)
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        seen.append((answer.status_code, bool(answer.json()["ready"])))
        if answer.status_code == 200:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"not ready after 900 s: {seen[-3:]}")


def upload_and_wait(url: str) -> dict[str, object]:
    files = [
        ("captures", ("web01-eth0.pcap", (HAIRPIN / "web01-eth0.pcap").read_bytes())),
        ("lb", ("lb.yaml", (HAIRPIN / "lb.yaml").read_bytes())),
    ]
    created = httpx.post(f"{url}/analyses", files=files, data={"os": "linux"}, timeout=30)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, object] = httpx.get(f"{url}/analyses/{job_id}", timeout=10).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError("the upload did not finish in 120 s (the worker was warm)")
