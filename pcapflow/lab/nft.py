"""nftables rulesets of the lab's host namespace (pure text generation, nothing is run here).

The load balancer picks a member per flow at random among the healthy members and records the
choice in the conntrack mark, only while the mark is unset: a retransmitted SYN of a flow that is
not yet established still matches ``ct state new`` and must not pick again (lab-notes item 9).
DNAT maps the mark to the member (no SNAT); with Floating IP no NAT happens and the mark selects
a policy routing table instead.  The health-probe loop rewrites the ``pick`` chain and the
``healthy`` set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pcapflow.lab.scenarios import LbRule, Scenario
from pcapflow.lab.topology import member_marks, port_of, ports

TABLE = "pfl_lab"
FAMILY = "inet"
PICK_CHAIN = "pick"
HEALTHY_SET = "healthy"


def _is6(address: str) -> bool:
    return ":" in address


def _ipf(address: str) -> str:
    return "ip6" if _is6(address) else "ip"


def _set(items: Sequence[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def _match(scenario: Scenario, rule: LbRule) -> str:
    vip = scenario.lb.vip
    return f"{_ipf(vip)} daddr {vip} {rule.protocol} dport {rule.frontend_port}"


def pick_rule(scenario: Scenario, healthy: Sequence[str]) -> str:
    """The ``pick`` chain's rule: a random healthy member's mark, or drop when none is healthy."""
    marks = member_marks(scenario)
    chosen = [marks[m] for m in scenario.lb.members if m in healthy]
    if not chosen:
        return "drop"
    if len(chosen) == 1:
        return f"ct mark set {chosen[0]}"
    pairs = ", ".join(f"{i} : {mark}" for i, mark in enumerate(chosen))
    return f"ct mark set numgen random mod {len(chosen)} map {{ {pairs} }}"


def _healthy_elements(scenario: Scenario, healthy: Sequence[str]) -> list[str]:
    return [m for m in scenario.lb.members if m in healthy and not _is6(m)]


def health_update(scenario: Scenario, healthy: Sequence[str]) -> str:
    """An atomic ``nft -f`` script that puts exactly ``healthy`` members in rotation."""
    lines = [
        f"flush chain {FAMILY} {TABLE} {PICK_CHAIN}",
        f"add rule {FAMILY} {TABLE} {PICK_CHAIN} {pick_rule(scenario, healthy)}",
    ]
    if _has_v4_members(scenario):
        lines.append(f"flush set {FAMILY} {TABLE} {HEALTHY_SET}")
        elements = _healthy_elements(scenario, healthy)
        if elements:
            lines.append(f"add element {FAMILY} {TABLE} {HEALTHY_SET} {_set(elements)}")
    return "\n".join(lines) + "\n"


def _has_v4_members(scenario: Scenario) -> bool:
    return any(not _is6(m) for m in scenario.lb.members)


def ruleset(scenario: Scenario, healthy: Sequence[str] | None = None) -> str:
    """The whole ruleset of the host namespace; ``healthy`` defaults to every member."""
    healthy = scenario.lb.members if healthy is None else healthy
    snat = _snat(scenario)
    body = [
        *_healthy_set(scenario, healthy),
        *_chain("antispoof", "filter hook prerouting priority raw", _antispoof(scenario)),
        *_chain("select", "filter hook prerouting priority mangle", _select(scenario)),
        *_chain(PICK_CHAIN, None, [pick_rule(scenario, healthy)]),
        *_chain("lb_dnat", "nat hook prerouting priority dstnat", _dnat(scenario)),
        *(_chain("lb_snat", "nat hook postrouting priority srcnat", snat) if snat else ()),
        *_chain("nsg", "filter hook forward priority filter", _nsg(scenario)),
    ]
    return f"table {FAMILY} {TABLE} {{\n" + "".join(f"    {line}\n" for line in body) + "}\n"


def _healthy_set(scenario: Scenario, healthy: Sequence[str]) -> Iterator[str]:
    if not _has_v4_members(scenario):
        return
    elements = _healthy_elements(scenario, healthy)
    yield f"set {HEALTHY_SET} {{"
    yield "    type ipv4_addr"
    if elements:
        yield f"    elements = {_set(elements)}"
    yield "}"


def _chain(name: str, hook: str | None, rules: Sequence[str]) -> Iterator[str]:
    yield f"chain {name} {{"
    if hook:
        yield f"    type {hook}; policy accept;"
    for rule in rules:
        yield f"    {rule}"
    yield "}"


def _antispoof(scenario: Scenario) -> list[str]:
    """Each port accepts only the sources its NIC owns (plus IPv6 link-local for NDP).

    With Floating IP a member answers from the VIP (direct server return): its port allows it.
    """
    rules: list[str] = []
    for port in ports(scenario):
        owned = [a for a in (port.nic.address, port.nic.address6) if a]
        if scenario.floating_ip and any(a in scenario.lb.members for a in owned):
            owned.append(scenario.lb.vip)
        v4 = [a for a in owned if not _is6(a)]
        v6 = [a for a in owned if _is6(a)]
        iif = f'iifname "{port.name}"'
        rules.append(
            f"{iif} ip saddr != {_set(v4)} drop" if v4 else f"{iif} meta nfproto ipv4 drop"
        )
        rules.append(f"{iif} ip6 saddr != {_set([*v6, 'fe80::/10'])} drop")
    return rules


def _select(scenario: Scenario) -> list[str]:
    """A TCP packet to a frontend that opens no flow and belongs to none (e.g. data after the
    flow idled out) is dropped silently, as Azure does without TCP reset; new flows pick a
    member."""
    orphans = [
        f"ct state new {_match(scenario, r)} tcp flags & (syn | ack) != syn drop"
        for r in scenario.lb.rules
        if r.protocol == "tcp"
    ]
    rules = [
        f"ct state new ct mark 0 {_match(scenario, r)} jump {PICK_CHAIN}" for r in scenario.lb.rules
    ]
    return [*orphans, *rules, "meta mark set ct mark"]


def conntrack_sysctls(scenario: Scenario) -> list[str]:
    """The host namespace's conntrack settings: an established flow is forgotten after the
    rules' idle timeout (the shortest one: the setting is per namespace, not per rule)."""
    idle_min = min((r.idle_timeout_min for r in scenario.lb.rules), default=4)
    return [f"net.netfilter.nf_conntrack_tcp_timeout_established={idle_min * 60}"]


def _dnat(scenario: Scenario) -> list[str]:
    rules: list[str] = []
    for rule in scenario.lb.rules:
        if rule.floating_ip:
            continue
        for member, mark in member_marks(scenario).items():
            to = f"[{member}]" if _is6(member) else member
            rules.append(
                f"ct mark {mark} {_match(scenario, rule)} "
                f"dnat {_ipf(member)} to {to}:{rule.backend_port}"
            )
    return rules


def _snat(scenario: Scenario) -> list[str]:
    """Rules that do not preserve the client's address (AWS NLB ``preserve_client_ip=false``):
    the balancer puts its own address (the frontend) as source; conntrack reverses it."""
    vip = scenario.lb.vip
    marks = ", ".join(str(m) for m in member_marks(scenario).values())
    return [
        f"ct mark {{ {marks} }} ct original {_ipf(vip)} daddr {vip} "
        f"meta l4proto {rule.protocol} ct original proto-dst {rule.frontend_port} "
        f"snat {_ipf(vip)} to {vip}"
        for rule in scenario.lb.rules
        if not rule.preserve_client_ip and not rule.floating_ip
    ]


def _nsg(scenario: Scenario) -> list[str]:
    where = port_of(scenario)
    rules: list[str] = []
    for deny in scenario.lb.nsg:
        for member in scenario.lb.members:
            rules.append(
                f'oifname "{where[member]}" {_ipf(deny.source)} saddr {deny.source} '
                f"{deny.protocol} dport {deny.port} drop"
            )
    return rules
