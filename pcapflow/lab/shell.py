"""Running commands and processes for the lab, and its namespaces by name (no scenario knowledge).

Every command has a timeout; every background process is a :class:`Proc` ended by pid; namespaces
are deleted only when their name carries a lab prefix.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pcapflow.errors import LabError

PREFIX = "pfl-"  # the lab's own namespaces; `pcapflow lab clean` removes only these
PREFIXES = (PREFIX, "pflive-")  # a Lab may also run under the live helper's prefix
TOOLS = {  # program -> Debian package
    "ip": "iproute2",
    "nft": "nftables",
    "conntrack": "conntrack",
    "tcpdump": "tcpdump",
    "timeout": "coreutils",
    "stdbuf": "coreutils",
    "ss": "iproute2",
}
CMD_TIMEOUT_S = 10.0
Log = Callable[[str], None]


def quiet(_: str) -> None:
    pass


def check_environment(*, nginx: bool = False, iptables: bool = False) -> None:
    """Raise LabError (one line) unless this machine can run the lab."""
    if not sys.platform.startswith("linux"):
        raise LabError("the lab needs Linux network namespaces (this is not Linux)")
    if os.geteuid() != 0:
        raise LabError("the lab needs root to create network namespaces (run it as root)")
    needed = dict(TOOLS, **({"nginx": "nginx-light"} if nginx else {}))
    if iptables:  # the Kubernetes scenarios: kube-proxy's rules
        needed["iptables-restore"] = "iptables"
    missing = [
        f"{tool} (Debian package {pkg})" for tool, pkg in needed.items() if not shutil.which(tool)
    ]
    if missing:
        raise LabError(f"the lab needs {', '.join(missing)}")
    if not Path("/proc/self/ns/net").exists():
        raise LabError("the lab needs network namespaces (/proc/self/ns/net is missing)")


def check_namespaces() -> None:
    """Raise LabError unless a namespace can really be created (not so in locked containers)."""
    name = f"{PREFIX}chk{os.getpid() % 100000}"
    done = run(["ip", "netns", "add", name], check=False)
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise LabError(f"cannot create a network namespace here: {problem}")
    delete_namespace(name)


def new_prefix() -> str:
    return f"{PREFIX}{secrets.token_hex(2)}"


def check_prefix(prefix: str) -> str:
    if not re.fullmatch(r"(pfl|pflive)-[a-z0-9]{1,12}", prefix):
        raise LabError(
            f"lab prefix {prefix!r} must look like 'pfl-' (or 'pflive-') + 1..12 of [a-z0-9]"
        )
    return prefix


def run(
    argv: Sequence[str],
    *,
    timeout: float = CMD_TIMEOUT_S,
    input: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout:g} s: {' '.join(argv)}") from exc
    if check and done.returncode != 0:
        problem = (done.stderr or done.stdout).strip().splitlines()
        raise LabError(
            f"command failed: {' '.join(argv)}: {problem[-1] if problem else done.returncode}"
        )
    return done


class Proc:
    """A bounded background process with its output collected by reader threads."""

    def __init__(self, name: str, argv: Sequence[str]) -> None:
        self.name = name
        self.popen = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for(self, text: str, *, stream: str = "stdout", timeout: float = 5.0) -> None:
        lines = self.stdout if stream == "stdout" else self.stderr
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in lines):
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.02)
        detail = (self.stderr or ["no output"])[-1]
        raise LabError(f"{self.name} did not start: {detail}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return self.popen.returncode

    def wait(self, timeout: float) -> int:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout)
        return self.popen.returncode


# ---- namespaces ---------------------------------------------------------------------------------
def list_namespaces() -> list[str]:
    done = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def delete_namespace(name: str) -> None:
    if not name.startswith(PREFIXES):  # never touch a namespace the lab does not own
        return
    for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    run(["ip", "netns", "del", name], check=False)


def clean(log: Log = quiet) -> list[str]:
    """Delete every leftover lab namespace (names starting ``pfl-``) and the processes inside."""
    if os.geteuid() != 0:
        raise LabError("`pcapflow lab clean` needs root")
    removed = [n for n in list_namespaces() if n.startswith(PREFIX)]
    for name in removed:
        log(f"deleting namespace {name}")
        delete_namespace(name)
    for leftover in Path("/tmp").glob(f"{PREFIX}*-nginx"):
        shutil.rmtree(leftover, ignore_errors=True)
    return removed
