"""A Kubernetes node in namespaces: a Linux bridge, pod namespaces and kube-proxy's iptables rules.

Pure text and command generation (nothing is run here).  The node is the lab's "host" namespace
(its conntrack table holds kube-proxy's decisions); each pod is a namespace whose ``eth0`` is a
veth to a port of the bridge ``cni0`` (10.244.1.1/24), as the CNI ``bridge`` plugin builds it.
``bridge-nf-call-iptables`` is on, as kube-proxy requires, so bridged frames pass iptables.

The Service's rules have the shape kube-proxy (iptables mode) writes: ``KUBE-SERVICES`` jumps to
``KUBE-SVC-<hash>``, which picks an endpoint with ``-m statistic --mode random --probability
1/k``; each ``KUBE-SEP-<hash>`` marks traffic *from the endpoint itself* for masquerade
(``-s <podIP> -j KUBE-MARK-MASQ``) and DNATs to the pod; ``KUBE-POSTROUTING`` masquerades marked
packets.  The bridge ports' ``hairpin_mode`` follows the scenario (kubelet ``--hairpin-mode``).

A lab-only witness (``table bridge pfl_witness``, not part of the model) records every SYN after
kube-proxy's DNAT: a SYN sent back to its own pod never gets a confirmed conntrack entry, so
conntrack alone cannot say which endpoint such an attempt was given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pcapflow.lab.conntrack import CtEntry
from pcapflow.lab.scenarios import Scenario, Vm
from pcapflow.lab.topology import GUEST_SYSCTLS, HOST, NO_IPV6_SYSCTLS, Cmd, _c

BRIDGE = "cni0"
NODE_ADDRESS = "10.244.1.1"
POD_PREFIX = 24
MASQ_MARK = "0x4000"
# kubelet --hairpin-mode values that make the bridge send a frame back out of its ingress port
REFLECTING_MODES = frozenset({"hairpin-veth", "promiscuous-bridge"})
WITNESS_TABLE = "pfl_witness"
WITNESS_SET = "picked"
NODE_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
)


def veth(pod: str) -> str:
    return f"veth-{pod}"


def hairpin_on(scenario: Scenario) -> bool:
    return scenario.lb.hairpin_mode in REFLECTING_MODES


def plan(scenario: Scenario, netns: Mapping[str, str]) -> tuple[Cmd, ...]:
    """Commands that build the node, its bridge and the pods; ``netns``: logical -> real."""
    return tuple(_plan(scenario, netns))


def _plan(scenario: Scenario, netns: Mapping[str, str]) -> Iterator[Cmd]:
    for ns in (HOST, *(vm.name for vm in scenario.vms)):
        yield _c(ns, "ip link set lo up")
        for setting in (*NO_IPV6_SYSCTLS, *(NODE_SYSCTLS if ns == HOST else GUEST_SYSCTLS)):
            yield Cmd(ns, ("sysctl", "-qw", setting))
    yield _c(HOST, f"ip link add {BRIDGE} type bridge")
    yield _c(HOST, f"ip addr add {NODE_ADDRESS}/{POD_PREFIX} dev {BRIDGE}")
    yield _c(HOST, f"ip link set {BRIDGE} up")
    yield _c(HOST, "sysctl -qw net.bridge.bridge-nf-call-iptables=1")
    hairpin = "on" if hairpin_on(scenario) else "off"
    for vm in scenario.vms:
        yield from _pod(vm, netns[vm.name], hairpin)


def _pod(vm: Vm, pod_netns: str, hairpin: str) -> Iterator[Cmd]:
    port = veth(vm.name)
    address = vm.nics[0].address
    yield _c(HOST, f"ip link add {port} type veth peer name eth0 netns {pod_netns}")
    yield _c(HOST, f"ip link set {port} master {BRIDGE}")
    # echo 0|1 > /sys/class/net/cni0/brif/<veth>/hairpin_mode, as kubelet / the CNI plugin do
    yield _c(HOST, f"ip link set {port} type bridge_slave hairpin {hairpin}")
    yield _c(HOST, f"ip link set {port} up")
    yield _c(vm.name, "ip link set eth0 up")
    yield _c(vm.name, f"ip addr add {address}/{POD_PREFIX} dev eth0")
    yield _c(vm.name, f"ip route add default via {NODE_ADDRESS} dev eth0")


def _hash(*parts: str) -> str:
    """kube-proxy names chains by a hash of the service port (and endpoint): 16 characters."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest().upper()
    return digest[:16]


def iptables_rules(scenario: Scenario, service: str = "default/web:http") -> str:
    """The nat table as ``iptables-save`` prints it after kube-proxy synced the Service."""
    lb = scenario.lb
    svc_chains: list[str] = []
    rules: list[str] = []
    seps: list[str] = []
    for rule in lb.rules:
        svc = f"KUBE-SVC-{_hash(service, rule.protocol)}"
        svc_chains.append(svc)
        comment = f'-m comment --comment "{service} cluster IP"'
        rules.append(
            f"-A KUBE-SERVICES -d {lb.vip}/32 -p {rule.protocol} {comment} "
            f"-m {rule.protocol} --dport {rule.frontend_port} -j {svc}"
        )
        count = len(lb.members)
        for i, member in enumerate(lb.members):
            sep = f"KUBE-SEP-{_hash(service, rule.protocol, member)}"
            seps.append(sep)
            to = f"{member}:{rule.backend_port}"
            pick = f'-A {svc} -m comment --comment "{service} -> {to}"'
            if i < count - 1:  # kube-proxy: 1/(remaining endpoints), the last one takes the rest
                pick += f" -m statistic --mode random --probability {1 / (count - i):.11f}"
            rules.append(f"{pick} -j {sep}")
            mark = f'-A {sep} -s {member}/32 -m comment --comment "{service}"'
            rules.append(f"{mark} -j KUBE-MARK-MASQ")
            rules.append(
                f'-A {sep} -p {rule.protocol} -m comment --comment "{service}" '
                f"-m {rule.protocol} -j DNAT --to-destination {to}"
            )
    chains = ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", *svc_chains, *seps]
    lines = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        *(f":{chain} - [0:0]" for chain in chains),
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}/{MASQ_MARK}",
        f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --set-xmark {MASQ_MARK}/0x0",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
        *rules,
        "COMMIT",
    ]
    return "\n".join(lines) + "\n"


def witness_ruleset() -> str:
    """A bridge-family table that records (source, source port, DNAT'd destination) of every
    SYN after kube-proxy's DNAT (it runs after br_netfilter's PREROUTING)."""
    return (
        f"table bridge {WITNESS_TABLE} {{\n"
        f"    set {WITNESS_SET} {{\n"
        "        type ipv4_addr . inet_service . ipv4_addr\n"
        "        flags dynamic,timeout\n"
        "        timeout 30m\n"
        "    }\n"
        "    chain dnatted {\n"
        "        type filter hook prerouting priority 1; policy accept;\n"
        f"        tcp flags & (syn | ack) == syn add @{WITNESS_SET} "
        "{ ip saddr . tcp sport . ip daddr }\n"
        "    }\n"
        "}\n"
    )


def witness_entries(text: str, scenario: Scenario) -> list[CtEntry]:
    """``nft -j list set bridge pfl_witness picked`` as decisions: one entry per attempt, the
    caller itself when any of its SYNs was sent back to it (retransmissions of a SYN that never
    got a confirmed conntrack entry are balanced again)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return []
    rule = scenario.lb.rules[0]
    picks: dict[tuple[str, int], list[str]] = {}
    for src, sport, dst in _elements(doc):
        picks.setdefault((src, sport), []).append(dst)
    entries = []
    for (src, sport), dsts in sorted(picks.items()):
        chosen = src if src in dsts else sorted(dsts)[0]
        if chosen == scenario.lb.vip:
            continue  # a SYN the balancer did not translate
        entries.append(
            CtEntry(rule.protocol, src, scenario.lb.vip, sport, rule.frontend_port, chosen,
                    rule.backend_port, 0, "WITNESS")
        )  # fmt: skip
    return entries


def _elements(doc: Any) -> Iterator[tuple[str, int, str]]:
    for item in doc.get("nftables", []) if isinstance(doc, dict) else []:
        for elem in (item.get("set") or {}).get("elem", []):
            value = elem.get("elem", {}).get("val", elem) if isinstance(elem, dict) else elem
            parts = value.get("concat") if isinstance(value, dict) else None
            if isinstance(parts, list) and len(parts) == 3:
                yield str(parts[0]), int(parts[1]), str(parts[2])
