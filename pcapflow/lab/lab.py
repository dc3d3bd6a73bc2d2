"""The running lab: namespaces, services, captures and traffic (the imperative shell).

::

    with Lab("hairpin-two-backends") as lab:          # builds it, starts servers and probes
        lab.exec("web01", ["curl", "-sm3", "http://10.2.1.100/"])
        print(lab.netns("web01"))                     # e.g. "pfl-3fa2-web01"
    # namespaces deleted here, also after an error, Ctrl-C or SIGTERM

Safety: every namespace is named ``<prefix>-<name>`` with a prefix starting ``pfl-``; both veth ends
are created inside lab namespaces; every process runs under ``timeout(1)`` and is ended by pid;
cleanup deletes only this lab's namespaces, by name.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from pcapflow.errors import LabError
from pcapflow.lab import conntrack, kube, nft, topology
from pcapflow.lab.nginx import nginx_conf
from pcapflow.lab.plan import AttemptPlan, CapturePoint, attempts, capture_points, traffic_duration
from pcapflow.lab.scenarios import Scenario, get_scenario
from pcapflow.lab.shell import (
    CMD_TIMEOUT_S,
    Log,
    Proc,
    check_environment,
    check_prefix,
    clean,
    delete_namespace,
    list_namespaces,
    new_prefix,
    quiet,
    run,
)

__all__ = ["Lab", "check_environment", "clean", "list_namespaces"]

AGENT = str(Path(__file__).with_name("agent.py"))
CAPTURE_PACKETS = 20000  # tcpdump -c bound per interface


class Lab:
    """One scenario's topology, alive between ``__enter__`` and ``__exit__``."""

    def __init__(
        self,
        scenario: Scenario | str,
        *,
        prefix: str | None = None,
        services: bool = True,
        lifetime_s: float = 300.0,
        log: Log = quiet,
    ) -> None:
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.prefix = check_prefix(prefix or new_prefix())
        self.services = services
        self.lifetime_s = lifetime_s
        self.log = log
        self._names = {n: f"{self.prefix}-{n}" for n in topology.namespaces(self.scenario)}
        self._created: list[str] = []
        self._procs: list[Proc] = []
        self._captures: list[tuple[CapturePoint, Proc, Path]] = []
        self._probe: Proc | None = None
        self._ct_events: Proc | None = None
        self._old_handlers: dict[int, Any] = {}

    # ---- naming and running ---------------------------------------------------------------------
    def netns(self, name: str) -> str:
        """The real namespace name of a VM (or of "host")."""
        try:
            return self._names[name]
        except KeyError:
            raise LabError(f"no namespace {name!r} in scenario {self.scenario.name}") from None

    def _in(self, name: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns(name), *argv]

    def exec(
        self,
        name: str,
        argv: Sequence[str],
        *,
        timeout: float = CMD_TIMEOUT_S,
        input: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a lab namespace, bounded by ``timeout`` seconds."""
        return run(self._in(name, argv), timeout=timeout, input=input, check=check)

    def spawn(
        self, name: str, argv: Sequence[str], *, lifetime_s: float | None = None, sig: str = "TERM"
    ) -> Proc:
        """Start a background process in a namespace, ended by ``timeout(1)`` after its lifetime."""
        life = f"{lifetime_s or self.lifetime_s:g}"
        proc = Proc(
            f"{argv[0]} in {name}", self._in(name, ["timeout", "-k", "2", "-s", sig, life, *argv])
        )
        self._procs.append(proc)
        return proc

    # ---- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        check_environment(
            nginx=any(vm.role == "nva" for vm in self.scenario.vms), iptables=self.scenario.kube
        )
        self._install_signal_handlers()
        try:
            self.create()
            if self.services:
                self.start_services()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # even where SIGINT is ignored
            self._old_handlers[sig] = signal.signal(sig, _raise_interrupt)

    def create(self) -> None:
        """Create the namespaces, links, addresses, routes and the balancer's ruleset."""
        existing = set(list_namespaces())
        clash = [n for n in self._names.values() if n in existing]
        if clash:
            raise LabError(
                f"namespace {clash[0]} already exists (another run? `pcapflow lab clean`)"
            )
        for name in self._names.values():
            run(["ip", "netns", "add", name])
            self._created.append(name)
        self.log(f"lab {self.prefix}: namespaces {', '.join(self._names.values())}")
        if self.scenario.kube:
            self._create_node()
            return
        for cmd in topology.plan(self.scenario, self._names):
            self.exec(cmd.ns, cmd.argv)
        self.exec(topology.HOST, ["nft", "-f", "-"], input=nft.ruleset(self.scenario))
        for setting in nft.conntrack_sysctls(self.scenario):  # per-namespace conntrack tuning
            self.exec(topology.HOST, ["sysctl", "-qw", setting])
        for vm in self.scenario.vms:
            if vm.role == "nva":
                self._write_nginx_conf(vm.name, vm.upstreams)

    def _create_node(self) -> None:
        """A Kubernetes node: bridge, pods, kube-proxy's iptables rules and the lab's witness."""
        for cmd in topology.plan(self.scenario, self._names):
            self.exec(cmd.ns, cmd.argv)
        rules = kube.iptables_rules(self.scenario)
        self.exec(topology.HOST, ["iptables-restore"], input=rules)
        self.exec(topology.HOST, ["nft", "-f", "-"], input=kube.witness_ruleset())

    def start_services(self) -> None:
        """Servers on the backends, NGINX on an NVA, and the health-probe loop on the host."""
        for vm in self.scenario.vms:
            if vm.role == "backend":
                self._serve(vm.name, vm.listen_tcp, vm.listen_udp, vm.listen_echo)
            elif vm.role == "nva":
                self._nginx(vm.name)
        if self.scenario.lb.probe_port is not None:
            self._start_probes()

    def close(self) -> None:
        """End every process this lab started (by pid) and delete its namespaces (by name)."""
        for _, proc, _ in self._captures:
            proc.stop(signal.SIGINT)
        self._captures.clear()
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        for name in reversed(self._created):
            delete_namespace(name)
        self._created.clear()
        for vm in self.scenario.vms:
            if vm.role == "nva":
                shutil.rmtree(self._nginx_dir(vm.name), ignore_errors=True)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    # ---- services -------------------------------------------------------------------------------
    def _serve(
        self, vm: str, tcp: Sequence[int], udp: Sequence[int], echo: Sequence[int] = ()
    ) -> None:
        argv = [
            sys.executable, AGENT, "serve", "--name", vm, "--tcp", ",".join(map(str, tcp)),
            "--udp", ",".join(map(str, udp)), "--echo", ",".join(map(str, echo)),
            "--duration", f"{self.lifetime_s:g}",
        ]  # fmt: skip
        self.spawn(vm, argv).wait_for("serving")

    def _nginx_dir(self, vm: str) -> Path:
        return Path("/tmp") / f"{self.netns(vm)}-nginx"

    def _write_nginx_conf(self, vm: str, upstreams: Sequence[str]) -> None:
        root = self._nginx_dir(vm)
        root.mkdir(mode=0o700, exist_ok=True)
        (root / "nginx.conf").write_text(nginx_conf(upstreams, root))

    def _nginx(self, vm: str) -> None:
        conf = self._nginx_dir(vm) / "nginx.conf"
        proc = self.spawn(vm, ["nginx", "-c", str(conf), "-g", "daemon off;"], sig="QUIT")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.exec(vm, ["ss", "-Hltn", "sport = :80"], check=False).stdout.strip():
                return
            if proc.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise LabError(f"nginx in {vm} did not start: {(proc.stderr or ['no output'])[-1]}")

    def _start_probes(self) -> None:
        lb = self.scenario.lb
        assert lb.probe_port is not None
        rounds = int(self.lifetime_s // lb.probe_interval_s) + 1
        updates = {",".join(h): nft.health_update(self.scenario, h) for h in _subsets(lb.members)}
        argv = [
            sys.executable, AGENT, "probe", "--source", "168.63.129.16",
            "--port", str(lb.probe_port), "--members", ",".join(lb.members),
            "--interval", str(lb.probe_interval_s), "--rounds", str(rounds),
            "--updates", json.dumps(updates),
        ]  # fmt: skip
        self._probe = self.spawn(topology.HOST, argv)
        self._probe.wait_for('"round": 1', timeout=10)

    def probe_rounds(self) -> list[dict[str, Any]]:
        """Results of the probe rounds so far: ``{"round", "t", "up": {member: bool}}``."""
        if self._probe is None:
            return []
        return [json.loads(line) for line in list(self._probe.stdout) if line.startswith("{")]

    # ---- captures -------------------------------------------------------------------------------
    def start_captures(self, out_dir: Path, points: Sequence[CapturePoint] | None = None) -> None:
        """Start tcpdump on every capture point, writing ``<out_dir>/<stem>.pcap``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        for point in points or capture_points(self.scenario):
            path = out_dir / f"{point.stem}.pcap"
            argv = ["tcpdump", "-i", point.iface, "-U", "--immediate-mode", "-n", "-Z", "root"]
            argv += ["-c", str(CAPTURE_PACKETS), "-w", str(path)]
            proc = self.spawn(point.ns, argv, sig="INT")
            self._captures.append((point, proc, path))
        for _, proc, _ in self._captures:
            proc.wait_for("listening on", stream="stderr")

    def stop_captures(self) -> list[tuple[CapturePoint, Path]]:
        time.sleep(0.5)  # let the last packets reach the capture files
        for _, proc, _ in self._captures:
            proc.stop(signal.SIGINT)
        done = [(point, path) for point, _, path in self._captures]
        self._captures.clear()
        return done

    # ---- traffic and state ----------------------------------------------------------------------
    def run_attempts(self, plans: Sequence[AttemptPlan] | None = None) -> dict[int, dict[str, Any]]:
        """Run connection attempts (one agent per calling VM, concurrently); results by id."""
        plans = attempts(self.scenario) if plans is None else plans
        bound = traffic_duration(self.scenario) + 10
        procs = []
        for caller, group in itertools.groupby(
            sorted(plans, key=lambda p: p.caller), lambda p: p.caller
        ):
            plan_json = json.dumps([p.agent_json() for p in group])
            argv = [sys.executable, AGENT, "attempts", "--plan", plan_json]
            procs.append(self.spawn(caller, argv, lifetime_s=bound))
        results: dict[int, dict[str, Any]] = {}
        for proc in procs:
            proc.wait(bound + 5)
            for line in proc.stdout:
                if line.startswith("["):
                    results.update({r["id"]: r for r in json.loads(line)})
        missing = [p.id for p in plans if p.id not in results]
        if missing:
            raise LabError(f"traffic agent gave no result for attempts {missing}")
        return results

    def watch_conntrack(self) -> None:
        """Start recording conntrack NEW events in the host (decisions of flows that end early)."""
        argv = ["stdbuf", "-oL", "conntrack", "-E", "-e", "NEW", "-o", "extended"]
        self._ct_events = self.spawn(topology.HOST, argv)
        time.sleep(0.3)

    def conntrack(self) -> list[conntrack.CtEntry]:
        """The balancer's decisions: recorded NEW events, then the host's conntrack table."""
        entries: list[conntrack.CtEntry] = []
        if self.scenario.kube:  # first: confirmed conntrack entries below take precedence
            argv = ["nft", "-j", "list", "set", "bridge", kube.WITNESS_TABLE, kube.WITNESS_SET]
            done = self.exec(topology.HOST, argv, check=False)
            entries.extend(kube.witness_entries(done.stdout, self.scenario))
        if self._ct_events is not None:
            self._ct_events.stop()
            entries.extend(conntrack.parse("\n".join(self._ct_events.stdout)))
            self._ct_events = None
        for family in ("ipv4", "ipv6"):
            argv = ["conntrack", "-L", "-f", family, "-o", "extended"]
            done = self.exec(topology.HOST, argv, check=False)
            entries.extend(conntrack.parse(done.stdout))
        return entries


def _subsets(members: Sequence[str]) -> list[list[str]]:
    return [
        [m for i, m in enumerate(members) if mask >> i & 1] for mask in range(2 ** len(members))
    ]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
