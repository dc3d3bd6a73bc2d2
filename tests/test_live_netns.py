"""`pcapflow probe` and `pcapflow watch` against a real kernel load balancer in network namespaces.

A minimal Azure-ILB model, private to these tests (every namespace is named ``pflive-...``; no
link reaches the root namespace; every address lives only inside these namespaces):

* ``pflive-<id>-r``: the Azure host.  nftables DNATs 10.2.1.100:80 to a pool member picked at
  random per connection (``numgen random``), with no SNAT; conntrack records the choice.
* ``pflive-<id>-w1`` (10.2.1.4) and ``pflive-<id>-w2`` (10.2.1.6): VMs on point-to-point veths,
  each running a small bounded TCP listener on :80.

The probe runs inside web01 via ``ip netns exec``; the tests compare pcapflow's labels with the
member conntrack says it chose for each source port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt
import pytest

from pcapflow.live.pcapstream import StreamParser

pytestmark = [pytest.mark.lab, pytest.mark.timeout(120)]

VIP, GATEWAY = "10.2.1.100", "10.2.1.1"
MEMBERS = {"w1": "10.2.1.4", "w2": "10.2.1.6"}
CALLER = MEMBERS["w1"]
REPO = Path(__file__).resolve().parents[1]
LISTENER = """
import selectors, socket, sys, time
tcp = socket.create_server(("0.0.0.0", 80), backlog=64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 53))
sel = selectors.DefaultSelector()
sel.register(tcp, selectors.EVENT_READ)
sel.register(udp, selectors.EVENT_READ)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for key, _ in sel.select(0.5):
        if key.fileobj is tcp:
            tcp.accept()[0].close()
        else:
            data, peer = udp.recvfrom(2048)
            udp.sendto(data, peer)
"""
CLI = "import sys; from pcapflow.cli import main; sys.exit(main())"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "nft", "conntrack"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if shutil.which("dumpcap") is None and shutil.which("tcpdump") is None:
        return "needs dumpcap or tcpdump"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True)
    return None if probe.returncode == 0 else "no network namespace support"


if (_reason := _skip_reason()) is not None:
    pytestmark.append(pytest.mark.skip(reason=_reason))


def _run(*argv: str, ns: str | None = None, check: bool = True) -> str:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    done = subprocess.run(full, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(full)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Topology:
    prefix: str
    members: tuple[str, ...]  # keys of MEMBERS in the pool
    listeners: list[subprocess.Popen[bytes]]

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def pool_config(self, directory: Path) -> Path:
        members = "\n".join(
            f"          - {{address: {MEMBERS[m]}, vm: web{m[1:]}}}" for m in self.members
        )
        path = directory / "lb.yaml"
        path.write_text(
            f"""version: 1
load_balancers:
  - name: ilb-web
    frontends:
      - {{name: fe-web, address: {VIP}}}
    pools:
      - name: be-web
        members:
{members}
    rules:
      - {{name: http, frontend: fe-web, protocol: tcp, frontend_port: 80, backend_port: 80,
          pool: be-web}}
      - {{name: dns, frontend: fe-web, protocol: udp, frontend_port: 53, backend_port: 53,
          pool: be-web}}
""",
            encoding="utf-8",
        )
        return path

    def chosen_members(self) -> dict[int, str]:
        """Conntrack on the host: caller source port -> member the DNAT chose."""
        out = _run("conntrack", "-L", "-p", "tcp", "--orig-dst", VIP, ns=self.ns("r"), check=False)
        chosen: dict[int, str] = {}
        for line in out.splitlines():
            match = re.search(r"sport=(\d+) dport=80 .*?src=(\S+) dst=", line)
            if match:
                chosen[int(match.group(1))] = match.group(2)
        return chosen


def _build(prefix: str, members: tuple[str, ...]) -> Topology:
    router = f"{prefix}-r"
    for name in ("r", *members):
        _run("ip", "netns", "add", f"{prefix}-{name}")
    _run("ip", "-n", router, "link", "set", "lo", "up")
    for key, sysctl in (
        ("ip_forward", "1"),
        ("conf.all.send_redirects", "0"),
        ("conf.default.send_redirects", "0"),
        ("conf.all.rp_filter", "0"),
        ("conf.default.rp_filter", "0"),
    ):
        _run("sysctl", "-qw", f"net.ipv4.{key}={sysctl}", ns=router)
    for m in members:
        vm, port, address = f"{prefix}-{m}", f"v{m}", MEMBERS[m]
        _run(
            "ip",
            "-n",
            vm,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            router,
        )
        _run("ip", "-n", vm, "link", "set", "lo", "up")
        _run("ip", "-n", vm, "addr", "add", f"{address}/32", "dev", "eth0")
        _run("ip", "-n", vm, "link", "set", "eth0", "up")
        _run("ip", "-n", vm, "route", "add", GATEWAY, "dev", "eth0", "scope", "link")
        _run("ip", "-n", vm, "route", "add", "default", "via", GATEWAY, "dev", "eth0")
        _run("ip", "-n", router, "addr", "add", f"{GATEWAY}/32", "dev", port)
        _run("ip", "-n", router, "link", "set", port, "up")
        _run("ip", "-n", router, "route", "add", address, "dev", port)
    pool = ", ".join(f"{i} : {MEMBERS[m]}" for i, m in enumerate(members))
    ruleset = f"""
table ip pflive {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {VIP} tcp dport 80 dnat to numgen random mod {len(members)} map {{ {pool} }}
    ip daddr {VIP} udp dport 53 dnat to numgen random mod {len(members)} map {{ {pool} }}
  }}
}}
"""
    subprocess.run(
        ["ip", "netns", "exec", router, "nft", "-f", "-"],
        input=ruleset,
        text=True,
        check=True,
        timeout=30,
    )
    listeners = [
        subprocess.Popen(
            ["ip", "netns", "exec", f"{prefix}-{m}", sys.executable, "-c", LISTENER, "90"]
        )
        for m in members
    ]
    return Topology(prefix, members, listeners)


def _teardown(
    prefix: str, names: tuple[str, ...], listeners: list[subprocess.Popen[bytes]]
) -> None:
    for proc in listeners:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    for name in names:
        subprocess.run(["ip", "netns", "delete", f"{prefix}-{name}"], capture_output=True)


def _topology(members: tuple[str, ...]) -> Iterator[Topology]:
    prefix = f"pflive-{os.getpid() % 100000}{members[-1]}"
    topo = Topology(prefix, members, [])
    try:
        topo = _build(prefix, members)
        time.sleep(0.2)  # listeners bind
        yield topo
    finally:
        _teardown(prefix, ("r", *members), topo.listeners)


@pytest.fixture(scope="module")
def single() -> Iterator[Topology]:
    yield from _topology(("w1",))


@pytest.fixture(scope="module")
def pair() -> Iterator[Topology]:
    yield from _topology(("w1", "w2"))


def _pcapflow(topo: Topology, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    argv = ["ip", "netns", "exec", topo.ns("w1"), sys.executable, "-c", CLI, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, env=env, cwd=REPO)


def _probe(
    topo: Topology, tmp_path: Path, count: int, *extra: str, port: int = 80
) -> tuple[int, dict[str, Any]]:
    cfg = topo.pool_config(tmp_path)
    done = _pcapflow(
        topo,
        "probe",
        f"{VIP}:{port}",
        *extra,
        "--count",
        str(count),
        "--timeout",
        "1.2",
        "--lb",
        str(cfg),
        "--json",
        "--keep",
        str(tmp_path / "kept"),
    )
    assert done.returncode in (0, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


# ---- probe ------------------------------------------------------------------------------------
def test_probe_single_member_every_attempt_hairpins(single: Topology, tmp_path: Path) -> None:
    status, out = _probe(single, tmp_path, 3)
    probe = out["probe"]
    assert status == 3
    assert probe["failed"] == 3
    assert probe["hairpin_signature"] is True
    assert {a["label"] for a in probe["attempts"]} == {"hairpin_self"}
    assert {a["outcome"] for a in probe["attempts"]} == {"timeout"}
    assert probe["expected_rate"] == pytest.approx(1.0)
    assert probe["rate_fits"] is not False
    kept = tmp_path / "kept"
    assert (kept / "result.json").is_file() and (kept / "probe.json").is_file()
    assert list(kept.glob("capture-*"))
    chosen = single.chosen_members()
    assert all(chosen[a["client_port"]] == CALLER for a in probe["attempts"])


def test_probe_two_members_labels_follow_conntrack(pair: Topology, tmp_path: Path) -> None:
    status, out = _probe(pair, tmp_path, 12)
    probe = out["probe"]
    chosen = pair.chosen_members()
    attempts = probe["attempts"]
    for a in attempts:
        member = chosen[a["client_port"]]
        expected = "hairpin_self" if member == CALLER else "hairpin_other_backend"
        assert a["label"] == expected, (a, member)
        assert (a["outcome"] == "timeout") == (member == CALLER)
    to_self = sum(chosen[a["client_port"]] == CALLER for a in attempts)
    assert probe["failed"] == to_self
    assert status == (3 if to_self else 0)
    if to_self:
        assert probe["hairpin_signature"] is True
        assert probe["expected_rate"] == pytest.approx(0.5)


def test_probe_udp_single_member_hairpins_silently(single: Topology, tmp_path: Path) -> None:
    status, out = _probe(single, tmp_path, 3, "--proto", "udp", port=53)
    probe = out["probe"]
    assert status == 3
    assert {a["outcome"] for a in probe["attempts"]} == {"no_reply"}
    assert {a["label"] for a in probe["attempts"]} == {"hairpin_self"}
    assert probe["hairpin_signature"] is True


# ---- watch ------------------------------------------------------------------------------------
ATTEMPTS = """
import socket, sys, time
ports = range(int(sys.argv[1]), int(sys.argv[1]) + int(sys.argv[2]))
time.sleep(float(sys.argv[3]))
for port in ports:
    s = socket.socket()
    s.bind(("", port))
    s.settimeout(1.0)
    try:
        s.connect(("10.2.1.100", 80))
    except OSError:
        pass
    s.close()
"""


def test_watch_live_capture_ctrl_c_counts_each_attempt_once(pair: Topology, tmp_path: Path) -> None:
    cfg = pair.pool_config(tmp_path)
    base, count = 52000 + os.getpid() % 1000, 8
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    watch = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            pair.ns("w1"),
            sys.executable,
            "-c",
            CLI,
            "watch",
            "--lb",
            str(cfg),
            "--tool",
            "tcpdump",  # one process and pipe per interface: exercises the merge
            "--interval",
            "1",
            "--duration",
            "40",
            "--json",
            "--write",
            str(tmp_path / "session.pcapng"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert watch.stderr is not None
    assert "following" in watch.stderr.readline()  # the capture runs
    _run(sys.executable, "-c", ATTEMPTS, str(base), str(count), "0.5", ns=pair.ns("w1"))
    time.sleep(1.0)
    watch.send_signal(signal.SIGINT)  # Ctrl-C: the final diagnosis
    out, err = watch.communicate(timeout=60)
    assert watch.returncode in (0, 3), err
    report = json.loads(out)
    chosen = {p: m for p, m in pair.chosen_members().items() if base <= p < base + count}
    assert len(chosen) == count
    (tally,) = report["totals"]
    to_self = sum(m == CALLER for m in chosen.values())
    assert tally["frontend"] == f"{VIP}:80"
    assert tally["attempts"] == count
    assert tally["failed"] == to_self
    assert tally["labels"].get("hairpin_self", 0) == to_self
    assert tally["labels"].get("hairpin_other_backend", 0) == count - to_self
    assert watch.returncode == (3 if to_self else 0)
    written = StreamParser().feed((tmp_path / "session.pcapng").read_bytes())
    for ev in report["newest_finding"]["evidence"] if to_self else []:
        frame = written[ev["frame"] - 1]  # evidence frames are the --write file's frames
        assert _tcp_ports(frame.data) == tuple(map(int, re.findall(r":(\d+)", ev["summary"])))


def _tcp_ports(frame: bytes) -> tuple[int, int]:
    ip = dpkt.ethernet.Ethernet(frame).data
    return ip.data.sport, ip.data.dport


# ---- no privilege -------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop capabilities")
def test_probe_without_capture_privileges_says_how_to_fix() -> None:
    """In an isolated namespace (only lo): nothing could leave even if the capture started."""
    ns = f"pflive-{os.getpid() % 100000}np"
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        drop = [
            "setpriv",
            "--bounding-set",
            "-net_raw,-net_admin",
            "--inh-caps",
            "-net_raw,-net_admin",
        ]
        argv = [
            "ip",
            "netns",
            "exec",
            ns,
            *drop,
            sys.executable,
            "-c",
            CLI,
            "probe",
            f"{VIP}:80",
            "--count",
            "2",
            "--timeout",
            "1",
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    finally:
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    assert done.returncode == 2
    assert done.stderr.startswith("pcapflow: error:") and "permission denied" in done.stderr
    assert "CAP_NET_RAW" in done.stderr and "Traceback" not in done.stderr
