"""Live packet capture through dumpcap or tcpdump: tool choice, BPF filters, process control.

The tools are run as child processes (they hold the privileges and the kernel's BPF); pcapflow
only builds their command lines, waits until they listen, and stops them with SIGINT so that they
flush what they captured.  Every failure becomes one :class:`LiveCaptureError` line.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pcapflow.errors import PcapflowError
from pcapflow.live.target import Target
from pcapflow.model.lb import AZURE_PROBE_SOURCE, LbConfig

CAPTURE_TOOLS = ("dumpcap", "tcpdump")  # in order of preference
SNAPLEN = 512  # headers plus the first payload bytes; all the analysis reads
READY_MARKERS = {"dumpcap": "Capturing on", "tcpdump": "listening on"}
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
# stderr text of the tools -> the one-line explanation shown to the user.
FAILURE_HINTS: tuple[tuple[str, str], ...] = (
    (
        r"permission|not permitted|privilege",
        "permission denied: run as root, or give {tool} the CAP_NET_RAW and CAP_NET_ADMIN "
        "capabilities (e.g. `sudo setcap cap_net_raw,cap_net_admin+eip $(which {tool})`)",
    ),
    (r"no such device|no device|not exist|no interface", "no such interface ({detail})"),
    (r"syntax error|can't parse filter|invalid capture filter", "bad capture filter ({detail})"),
)


class LiveCaptureError(PcapflowError):
    """A live capture cannot be started or run (no tool, no privileges, no interface)."""


@dataclass(frozen=True, slots=True)
class CaptureTool:
    name: str  # "dumpcap" | "tcpdump"
    path: str

    @property
    def multi_interface(self) -> bool:
        """One process can capture several interfaces into one file (pcapng)."""
        return self.name == "dumpcap"


def find_capture_tool(
    which: Callable[[str], str | None] = shutil.which, prefer: str | None = None
) -> CaptureTool:
    """The first of dumpcap / tcpdump found on PATH (``prefer`` or $PCAPFLOW_CAPTURE_TOOL first)."""
    prefer = prefer or os.environ.get("PCAPFLOW_CAPTURE_TOOL")
    order = ((prefer,) if prefer else ()) + CAPTURE_TOOLS
    for name in order:
        path = which(name)
        if name in CAPTURE_TOOLS and path:
            return CaptureTool(name, path)
    raise LiveCaptureError(
        "no capture tool: install dumpcap (wireshark-common) or tcpdump (apt install tcpdump)"
    )


# ---- BPF filters ------------------------------------------------------------------------------
def _icmp_errors(version: int) -> str:
    return "icmp[0] == 3 or icmp[0] == 11" if version == 4 else "icmp6 and ip6[40] < 4"


def probe_filter(target: Target, source_ports: range) -> str:
    """Only the traffic of a probe: the frontend, our source ports (every leg), ICMP errors.

    The source ports are ours alone, so they catch the legs the balancer rewrote (to self or to
    another member) whatever their destination.
    """
    proto = target.proto
    ports = f"{proto} portrange {source_ports.start}-{source_ports.stop - 1}"
    return (
        f"({proto} and host {target.address} and port {target.port}) or ({ports})"
        f" or ({_icmp_errors(target.version)})"
    )


def config_filter(cfg: LbConfig) -> str:
    """Traffic of every declared frontend, member and health probe of ``cfg``."""
    terms: list[str] = []
    for lb in cfg.load_balancers:
        for rule in lb.rules:
            fe, pool = lb.frontend(rule.frontend), lb.pool(rule.pool)
            if fe is None or pool is None:
                continue
            terms.append(_host_port(fe.address, rule.frontend_port))
            for member in pool.members:
                terms.append(_host_port(member.address, rule.backend_port or rule.frontend_port))
        terms.extend(f"(host {p.source} and port {p.port})" for p in lb.probes if p.source)
        terms.extend(f"(net {net} and port {p.port})" for p in lb.probes for net in p.source_ranges)
    if any(p.source == AZURE_PROBE_SOURCE for lb in cfg.load_balancers for p in lb.probes):
        terms.append(f"host {AZURE_PROBE_SOURCE}")
    unique = list(dict.fromkeys(terms))
    return " or ".join(unique) if unique else "tcp or udp"


def _host_port(address: str, port: int) -> str:
    return f"(host {address} and port {port})" if port else f"(host {address})"


# ---- interfaces -------------------------------------------------------------------------------
def route_interfaces(addresses: Sequence[str]) -> list[str]:
    """The interfaces the kernel routes ``addresses`` through, plus ``lo``; ``any`` if unknown."""
    found: list[str] = []
    for address in addresses:
        try:
            out = subprocess.run(
                ["ip", "route", "get", address], capture_output=True, text=True, timeout=5
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ["any"]
        match = re.search(r"\bdev (\S+)", out)
        if not match:
            return ["any"]
        found.append(match.group(1))
    return list(dict.fromkeys([*found, "lo"]))


# ---- command lines ----------------------------------------------------------------------------
def capture_command(
    tool: CaptureTool, ifaces: Sequence[str], bpf: str, out: str, max_s: float | None = None
) -> list[str]:
    """The argv that captures ``ifaces`` with filter ``bpf`` into ``out`` (``-`` = stdout)."""
    if tool.name == "dumpcap":
        argv = [tool.path, "-q", "-s", str(SNAPLEN), "-f", bpf]
        for iface in ifaces:
            argv += ["-i", iface]
        if max_s is not None:
            argv += ["-a", f"duration:{max(1, int(max_s))}"]
        return [*argv, "-w", out]
    if len(ifaces) != 1:
        raise LiveCaptureError("tcpdump captures one interface per process")
    return [
        tool.path,
        "-n",
        "-i",
        ifaces[0],
        "-s",
        str(SNAPLEN),
        "-U",
        "--immediate-mode",
        "-w",
        out,
        bpf,
    ]


def explain_failure(tool: str, stderr: str) -> str:
    """The tool's error output turned into one line the user can act on."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    detail = next(
        (ln for ln in lines if not ln.startswith(("Running as user", "Capturing on"))), ""
    )
    for pattern, hint in FAILURE_HINTS:
        if re.search(pattern, stderr, re.IGNORECASE):
            return f"{tool}: " + hint.format(tool=tool, detail=detail)
    return f"{tool} failed: {detail or 'exited without a message'}"


# ---- processes --------------------------------------------------------------------------------
@dataclass
class CaptureProcess:
    """One running dumpcap/tcpdump; ``out`` is a file path, or ``-`` for its stdout pipe."""

    tool: CaptureTool
    ifaces: tuple[str, ...]
    bpf: str
    out: str
    max_s: float | None = None
    proc: subprocess.Popen[bytes] | None = None
    stderr_lines: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout

    def start(self) -> None:
        argv = capture_command(self.tool, self.ifaces, self.bpf, self.out, self.max_s)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.out == "-" else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise LiveCaptureError(f"cannot run {self.tool.name}: {exc.strerror}") from None
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._wait_ready()

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        marker = READY_MARKERS[self.tool.name]
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_lines.append(line)
            if marker in line:
                self._ready.set()
        self._ready.set()  # stderr closed: the process ended

    def _wait_ready(self) -> None:
        assert self.proc is not None
        if not self._ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise LiveCaptureError(f"{self.tool.name} did not start within {READY_TIMEOUT_S} s")
        time.sleep(0.05)
        if self.proc.poll() is not None:
            raise LiveCaptureError(explain_failure(self.tool.name, "\n".join(self.stderr_lines)))
        time.sleep(0.25)  # the tool reports before the kernel filter is fully attached

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGINT (the tools flush and close the file), then SIGKILL if it does not end."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)


@dataclass
class CaptureSession:
    """Capture of several interfaces: one dumpcap, or one tcpdump per interface."""

    tool: CaptureTool
    ifaces: tuple[str, ...]
    bpf: str
    directory: Path | None  # files go here; None = pipes
    max_s: float | None = None
    processes: list[CaptureProcess] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [Path(p.out) for p in self.processes if p.out != "-"]

    def start(self) -> CaptureSession:
        groups = [self.ifaces] if self.tool.multi_interface else [(i,) for i in self.ifaces]
        try:
            for group in groups:
                proc = CaptureProcess(self.tool, group, self.bpf, self._out(group), self.max_s)
                self.processes.append(proc)
                proc.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _out(self, group: tuple[str, ...]) -> str:
        if self.directory is None:
            return "-"
        suffix = "pcapng" if self.tool.name == "dumpcap" else "pcap"
        name = "-".join(group).replace("/", "_")
        return str(self.directory / f"capture-{name}.{suffix}")

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()

    def __enter__(self) -> CaptureSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
