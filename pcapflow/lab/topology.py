"""The namespace topology of a scenario as a plan of commands (pure: nothing is run here).

Every VM is a namespace whose NICs are veths to ports of one "host" namespace, the Azure host: the
virtual switch and the load balancer.  Host ports answer every ARP request at once (proxy-ARP with
``proxy_delay`` 0, MAC 12:34:56:78:9a:bc), route each VM address to its port, and drop spoofed
sources (:mod:`pcapflow.lab.nft`).  IPv6 guests route their subnet via ``fe80::1`` on the port.
Both veth ends are created directly inside lab namespaces: nothing touches the root namespace.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pcapflow.errors import InputError
from pcapflow.lab import scenarios as sc
from pcapflow.lab.scenarios import Nic, Scenario, Vm

HOST = "host"  # logical name of the host (virtual switch + load balancer) namespace
PROBE_DEVICE = "az0"  # host-internal veth (peer "az0-sink") holding the VIP route
FLOATING_TABLE_BASE = 100  # policy-routing table for member mark m is 100 + m
MAX_IFNAME = 15


@dataclass(frozen=True, slots=True)
class Cmd:
    """One command to run in the namespace of logical name ``ns`` ("host" or a VM name)."""

    ns: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"[{self.ns}] {shlex.join(self.argv)}"


@dataclass(frozen=True, slots=True)
class Port:
    """A host port: the host-side end of one guest NIC's veth."""

    vm: str
    nic: Nic

    @property
    def name(self) -> str:
        return port_name(self.vm, self.nic.name)


def port_name(vm: str, nic: str) -> str:
    name = f"{vm}-{nic}"
    if len(name) > MAX_IFNAME:
        raise InputError(f"interface name {name!r} is longer than {MAX_IFNAME} characters")
    return name


def ports(scenario: Scenario) -> tuple[Port, ...]:
    return tuple(Port(vm.name, nic) for vm in scenario.vms for nic in vm.nics)


def port_of(scenario: Scenario) -> dict[str, str]:
    """Address -> host port that leads to it."""
    return {a: p.name for p in ports(scenario) for a in (p.nic.address, p.nic.address6) if a}


def namespaces(scenario: Scenario) -> tuple[str, ...]:
    """Logical namespace names: the host first, then the VMs in scenario order."""
    return (HOST, *(vm.name for vm in scenario.vms))


def _c(ns: str, line: str) -> Cmd:
    return Cmd(ns, tuple(shlex.split(line)))


# ---- sysctl baselines ---------------------------------------------------------------------------
COMMON_SYSCTLS = (
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
)
HOST_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.conf.all.rp_filter=0",  # anti-spoofing: an nft rule per port (lab-notes 10)
    "net.ipv4.conf.default.rp_filter=0",
)
GUEST_SYSCTLS = (  # a Debian/Ubuntu guest
    "net.ipv4.ip_forward=0",
    "net.ipv4.conf.all.rp_filter=2",
    "net.ipv4.conf.default.rp_filter=2",
    "net.ipv4.conf.all.accept_local=0",
    "net.ipv4.conf.default.accept_local=0",
)


def _sysctls(ns: str, settings: tuple[str, ...]) -> Iterator[Cmd]:
    for s in settings:
        yield Cmd(ns, ("sysctl", "-qw", s))


# ---- the plan -----------------------------------------------------------------------------------
NO_IPV6_SYSCTLS = (  # IPv4-only scenarios: no IPv6 at all (no MLD/NDP noise in the captures)
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
)


def uses_ipv6(scenario: Scenario) -> bool:
    return any(nic.address6 for vm in scenario.vms for nic in vm.nics)


def plan(scenario: Scenario, netns: Mapping[str, str]) -> tuple[Cmd, ...]:
    """Commands that build the topology; ``netns`` maps logical -> real namespace names."""
    if scenario.kube:  # a Kubernetes node instead of the cloud host model
        from pcapflow.lab import kube  # here: kube builds on this module

        return kube.plan(scenario, netns)
    cmds: list[Cmd] = []
    ipv6 = uses_ipv6(scenario)
    for ns in namespaces(scenario):
        cmds.append(_c(ns, "ip link set lo up"))
        cmds.extend(_sysctls(ns, COMMON_SYSCTLS if ipv6 else NO_IPV6_SYSCTLS))
        cmds.extend(_sysctls(ns, HOST_SYSCTLS if ns == HOST else GUEST_SYSCTLS))
    cmds.extend(_host_base(scenario))
    for port in ports(scenario):
        cmds.extend(_link(port, netns[port.vm]))
        cmds.extend(_host_port(port, ipv6))
        cmds.extend(_guest_nic(scenario.vm(port.vm), port.nic))
    for vm in scenario.vms:
        cmds.extend(guest_setup(vm))
    cmds.extend(floating_routes(scenario))
    return tuple(cmds)


def _host_base(scenario: Scenario) -> Iterator[Cmd]:
    yield _c(HOST, f"ip link add {PROBE_DEVICE} type veth peer name {PROBE_DEVICE}-sink")
    yield _c(HOST, f"ip link set {PROBE_DEVICE}-sink up")
    yield _c(HOST, f"ip link set {PROBE_DEVICE} up")
    yield _c(HOST, f"ip addr add {sc.PROBE_SOURCE}/32 dev lo")
    # a unicast route to the VIP lets proxy-ARP answer for it; DNAT rewrites before routing
    family = "-6" if ":" in scenario.lb.vip else "-4"
    plen = 128 if ":" in scenario.lb.vip else 32
    yield _c(HOST, f"ip {family} route add {scenario.lb.vip}/{plen} dev {PROBE_DEVICE}")


def _link(port: Port, guest_netns: str) -> Iterator[Cmd]:
    yield _c(
        HOST, f"ip link add {port.name} type veth peer name {port.nic.name} netns {guest_netns}"
    )


def _host_port(port: Port, ipv6: bool) -> Iterator[Cmd]:
    name, nic = port.name, port.nic
    gateway = sc.CLIENT_GATEWAY if port.vm == "client" else sc.GATEWAY
    yield _c(HOST, f"ip link set {name} address {sc.AZURE_HOST_MAC}")
    yield _c(HOST, f"sysctl -qw net.ipv4.conf.{name}.proxy_arp=1")
    yield _c(HOST, f"sysctl -qw net.ipv4.neigh.{name}.proxy_delay=0")
    yield _c(HOST, f"ip link set {name} up")
    yield _c(HOST, f"ip addr add {gateway}/32 dev {name}")
    if ipv6:
        yield _c(HOST, f"ip -6 addr add {sc.GATEWAY6}/64 dev {name} nodad")
    if nic.address:
        yield _c(HOST, f"ip route add {nic.address}/32 dev {name}")
    if nic.address6:
        yield _c(HOST, f"ip -6 route add {nic.address6}/128 dev {name}")


def _guest_nic(vm: Vm, nic: Nic) -> Iterator[Cmd]:
    client = vm.role == "client"
    gateway = sc.CLIENT_GATEWAY if client else sc.GATEWAY
    subnet = sc.CLIENT_SUBNET if client else sc.SUBNET
    yield _c(vm.name, f"ip link set {nic.name} up")
    if nic.address and nic.primary:
        yield _c(vm.name, f"ip addr add {nic.address}/24 dev {nic.name}")
        yield _c(vm.name, f"ip route add default via {gateway} dev {nic.name}")
    elif nic.address:  # a secondary NIC in the same subnet: connected route with a higher metric
        yield _c(vm.name, f"ip addr add {nic.address}/24 dev {nic.name} noprefixroute")
        yield _c(vm.name, f"ip route add {subnet} dev {nic.name} metric 200")
    if nic.address6:
        yield _c(vm.name, f"ip -6 addr add {nic.address6}/128 dev {nic.name} nodad")
        if not client:
            yield _c(vm.name, f"ip -6 route add {sc.SUBNET6} via {sc.GATEWAY6} dev {nic.name}")
        if nic.primary:
            yield _c(vm.name, f"ip -6 route add default via {sc.GATEWAY6} dev {nic.name}")


def guest_setup(vm: Vm) -> Iterator[Cmd]:
    """The scenario's own guest commands (routes, rules, sysctls); only ``ip`` and ``sysctl``."""
    for line in vm.setup:
        cmd = _c(vm.name, line)
        if not cmd.argv or cmd.argv[0] not in sc.GUEST_COMMANDS:
            raise InputError(f"VM {vm.name}: guest command not allowed: {line!r}")
        yield cmd


def member_marks(scenario: Scenario) -> dict[str, int]:
    """Member address -> conntrack mark the balancer uses for it (1, 2, ... in pool order)."""
    return {address: i + 1 for i, address in enumerate(scenario.lb.members)}


def floating_routes(scenario: Scenario) -> Iterator[Cmd]:
    """Floating IP: keep the destination, choose the VM by policy routing on the flow's mark."""
    if not scenario.floating_ip or ":" in scenario.lb.vip:
        return
    where = port_of(scenario)
    for member, mark in member_marks(scenario).items():
        table = FLOATING_TABLE_BASE + mark
        yield _c(HOST, f"ip rule add pref {table} fwmark {mark} lookup {table}")
        yield _c(
            HOST,
            f"ip route add {scenario.lb.vip}/32 via {member} dev {where[member]} table {table}",
        )
