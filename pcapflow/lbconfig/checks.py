"""Semantic checks of a loaded configuration: what Azure would reject, or what defeats analysis.

Each check is a function ``(ctx) -> Iterator[Problem]`` listed in :data:`CHECKS`; each states its
source (domain-hairpin.md section) in its docstring.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pcapflow.lbconfig.draft import Loaded
from pcapflow.lbconfig.problems import Origin, Problem, Severity
from pcapflow.lbconfig.vocab import (
    BACKEND_PORT_RANGE,
    FRONTEND_PORT_RANGE,
    HTTP_PROBE_FORBIDDEN_PORTS,
    IDLE_TIMEOUT_RANGE_MIN,
    NAT_BACKEND_PORT_RANGE,
    NAT_FRONTEND_PORT_RANGE,
    PROBE_PORT_RANGE,
)
from pcapflow.model.lb import LoadBalancer, ProbeProtocol, Protocol

MIN_PROBE_INTERVAL_S = 5
# Azure's limits (idle timeout range, probe rules) hold for Azure and for configurations that
# name no platform; AWS, Google Cloud and Kubernetes have their own.
AZURE_RULES_APPLY = frozenset({"azure", "generic"})

# model element kind -> (YAML list key, origin key kind) for locations of in-memory configs
_LISTS = {
    "frontend": "frontends",
    "pool": "pools",
    "rule": "rules",
    "probe": "probes",
    "nat": "inbound_nat_rules",
    "outbound": "outbound_rules",
}


@dataclass(frozen=True)
class Ctx:
    loaded: Loaded

    @property
    def lbs(self) -> tuple[LoadBalancer, ...]:
        return self.loaded.config.load_balancers

    def where(self, *key: Any) -> Origin:
        if self.loaded.origins:
            return self.loaded.origin(*key)
        pointer = f"/load_balancers/{key[1]}"
        if key[0] == "member":
            pointer += f"/pools/{key[2]}/members/{key[3]}"
        elif key[0] in _LISTS:
            pointer += f"/{_LISTS[key[0]]}/{key[2]}"
            if len(key) > 3:
                pointer += f"/{key[3]}"
        return Origin("<config>", pointer)

    def problem(self, message: str, *key: Any, severity: Severity = Severity.ERROR) -> Problem:
        return Problem.at(self.where(*key), message, severity)


Check = Callable[[Ctx], Iterator[Problem]]


def _in(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _family(address: str) -> int | None:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return None


def _network(cidr: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False) if cidr else None
    except ValueError:
        return None  # reported by the loader


# ---- the checks ------------------------------------------------------------------------------


def duplicate_names(ctx: Ctx) -> Iterator[Problem]:
    """Names are unique per balancer and per kind (ARM rejects duplicates); balancers too."""
    names = Counter(lb.name.casefold() for lb in ctx.lbs)
    for i, lb in enumerate(ctx.lbs):
        if names[lb.name.casefold()] > 1:
            yield ctx.problem(f"load balancer name {lb.name!r} appears more than once", "lb", i)
        groups: dict[str, list[str]] = {
            "frontend": [f.name for f in lb.frontends],
            "pool": [p.name for p in lb.pools],
            "rule": [r.name for r in lb.rules],
            "probe": [p.name for p in lb.probes],
            "nat": [n.name for n in lb.inbound_nat_rules],
        }
        for kind, items in groups.items():
            seen: set[str] = set()
            for j, name in enumerate(items):
                if name.casefold() in seen:
                    yield ctx.problem(f"duplicate {kind} name {name!r}", kind, i, j, "name")
                seen.add(name.casefold())


def duplicate_frontends(ctx: Ctx) -> Iterator[Problem]:
    """One VIP, one frontend: a second frontend with the same address makes rules ambiguous."""
    first: dict[str, tuple[str, str]] = {}
    for i, lb in enumerate(ctx.lbs):
        for j, fe in enumerate(lb.frontends):
            owner = first.get(fe.address)
            if owner is not None:
                yield ctx.problem(
                    f"duplicate frontend: {fe.address} ({lb.name}/{fe.name}) is already "
                    f"frontend {owner[0]}/{owner[1]}",
                    "frontend",
                    i,
                    j,
                    "address",
                )
            else:
                first[fe.address] = (lb.name, fe.name)


def rule_references(ctx: Ctx) -> Iterator[Problem]:
    """A rule names an existing frontend, backend pool and (optional) probe."""
    for i, lb in enumerate(ctx.lbs):
        for j, rule in enumerate(lb.rules):
            if lb.frontend(rule.frontend) is None:
                yield ctx.problem(
                    f"rule {rule.name!r} names missing frontend {rule.frontend!r}",
                    "rule", i, j, "frontend",
                )  # fmt: skip
            if lb.pool(rule.pool) is None:
                yield ctx.problem(
                    f"rule {rule.name!r} names missing backend pool {rule.pool!r}",
                    "rule", i, j, "pool",
                )  # fmt: skip
            if rule.probe is not None and lb.probe(rule.probe) is None:
                yield ctx.problem(
                    f"rule {rule.name!r} names missing probe {rule.probe!r}",
                    "rule", i, j, "probe",
                )  # fmt: skip
        for j, nat in enumerate(lb.inbound_nat_rules):
            if lb.frontend(nat.frontend) is None:
                yield ctx.problem(
                    f"inbound NAT rule {nat.name!r} names missing frontend {nat.frontend!r}",
                    "nat", i, j, "frontend",
                )  # fmt: skip
        for j, out in enumerate(lb.outbound_rules):
            for fe_name in out.frontends:
                if lb.frontend(fe_name) is None:
                    yield ctx.problem(
                        f"outbound rule {out.name!r} names missing frontend {fe_name!r}",
                        "outbound", i, j, "frontends",
                    )  # fmt: skip
            if lb.pool(out.pool) is None:
                yield ctx.problem(
                    f"outbound rule {out.name!r} names missing backend pool {out.pool!r}",
                    "outbound", i, j, "pool",
                )  # fmt: skip


def port_ranges(ctx: Ctx) -> Iterator[Problem]:
    """REST ranges: rule frontend 0-65534, backend 0-65535; probe 1-65535; NAT 1-65534/1-65535."""
    for i, lb in enumerate(ctx.lbs):
        for j, rule in enumerate(lb.rules):
            if not _in(rule.frontend_port, FRONTEND_PORT_RANGE):
                yield ctx.problem(
                    f"rule {rule.name!r}: frontend port {rule.frontend_port} is out of range "
                    "0-65534", "rule", i, j, "frontend_port",
                )  # fmt: skip
            if not _in(rule.backend_port, BACKEND_PORT_RANGE):
                yield ctx.problem(
                    f"rule {rule.name!r}: backend port {rule.backend_port} is out of range "
                    "0-65535", "rule", i, j, "backend_port",
                )  # fmt: skip
        for j, probe in enumerate(lb.probes):
            if not _in(probe.port, PROBE_PORT_RANGE):
                yield ctx.problem(
                    f"probe {probe.name!r}: port {probe.port} is out of range 1-65535",
                    "probe", i, j, "port",
                )  # fmt: skip
        for j, nat in enumerate(lb.inbound_nat_rules):
            if not _in(nat.frontend_port, NAT_FRONTEND_PORT_RANGE):
                yield ctx.problem(
                    f"inbound NAT rule {nat.name!r}: frontend port {nat.frontend_port} is out "
                    "of range 1-65534", "nat", i, j, "frontend_port",
                )  # fmt: skip
            if not _in(nat.backend_port, NAT_BACKEND_PORT_RANGE):
                yield ctx.problem(
                    f"inbound NAT rule {nat.name!r}: backend port {nat.backend_port} is out of "
                    "range 1-65535", "nat", i, j, "backend_port",
                )  # fmt: skip


def duplicate_rules(ctx: Ctx) -> Iterator[Problem]:
    """Two rules may not claim the same frontend, protocol and frontend port."""
    for i, lb in enumerate(ctx.lbs):
        seen: dict[tuple[str, str, int], str] = {}
        for j, rule in enumerate(lb.rules):
            key = (rule.frontend.casefold(), rule.protocol.value, rule.frontend_port)
            if key in seen:
                yield ctx.problem(
                    f"rule {rule.name!r} claims {rule.protocol.value}/{rule.frontend_port} on "
                    f"frontend {rule.frontend!r}, already taken by rule {seen[key]!r}",
                    "rule", i, j,
                )  # fmt: skip
            else:
                seen[key] = rule.name


def ha_ports(ctx: Ctx) -> Iterator[Problem]:
    """HA ports (1.4): protocol All with ports 0, internal Standard balancers only; a frontend has a
    single HA-ports rule (DSR or not); no TCP reset is sent on them."""
    for i, lb in enumerate(ctx.lbs):
        per_frontend: dict[str, str] = {}
        for j, rule in enumerate(lb.rules):
            all_proto = rule.protocol is Protocol.ALL
            if all_proto and (rule.frontend_port != 0 or rule.backend_port != 0):
                yield ctx.problem(
                    f"rule {rule.name!r}: protocol all is HA ports and needs frontend and "
                    f"backend port 0 (got {rule.frontend_port}/{rule.backend_port})",
                    "rule", i, j, "protocol",
                )  # fmt: skip
                continue
            if not all_proto and rule.frontend_port == 0 and lb.cloud in AZURE_RULES_APPLY:
                yield ctx.problem(
                    f"rule {rule.name!r}: frontend port 0 (any port) needs protocol all "
                    "(HA ports)", "rule", i, j, "frontend_port",
                )  # fmt: skip
            if not rule.ha_ports:
                continue
            if not lb.internal:
                yield ctx.problem(
                    f"rule {rule.name!r}: HA ports exist only on internal load balancers",
                    "rule", i, j,
                )  # fmt: skip
            if lb.sku.casefold() == "basic":
                yield ctx.problem(
                    f"rule {rule.name!r}: HA ports need the Standard SKU (this is Basic)",
                    "rule", i, j,
                )  # fmt: skip
            if rule.tcp_reset:
                yield ctx.problem(
                    f"rule {rule.name!r}: TCP reset is not sent on idle timeout for HA-ports "
                    "rules of internal balancers", "rule", i, j, "tcp_reset",
                    severity=Severity.WARNING,
                )  # fmt: skip
            other = per_frontend.setdefault(rule.frontend.casefold(), rule.name)
            if other != rule.name:
                yield ctx.problem(
                    f"rule {rule.name!r}: frontend {rule.frontend!r} already has the HA-ports "
                    f"rule {other!r}; a frontend takes a single HA-ports rule (floating IP or not)",
                    "rule", i, j,
                )  # fmt: skip


def floating_ip_ipv6(ctx: Ctx) -> Iterator[Problem]:
    """1.3: "Floating IP for IPv6 does not work for Internal Load Balancers"."""
    for i, lb in enumerate(ctx.lbs):
        for j, rule in enumerate(lb.rules):
            fe = lb.frontend(rule.frontend)
            if rule.floating_ip and fe is not None and fe.private and _family(fe.address) == 6:
                yield ctx.problem(
                    f"rule {rule.name!r}: floating IP does not work with the IPv6 frontend "
                    f"{fe.address} of an internal load balancer",
                    "rule", i, j, "floating_ip",
                )  # fmt: skip


def members_in_subnet(ctx: Ctx) -> Iterator[Problem]:
    """Members reached through a private frontend sit in the frontend's subnet (when known), and
    always in its address family."""
    for i, lb in enumerate(ctx.lbs):
        reported: set[tuple[int, int]] = set()
        for rule in lb.rules:
            fe, pool = lb.frontend(rule.frontend), lb.pool(rule.pool)
            if fe is None or pool is None:
                continue
            j = lb.pools.index(pool)
            net = _network(fe.subnet)
            for k, member in enumerate(pool.members):
                if (j, k) in reported:
                    continue
                try:
                    addr = ipaddress.ip_address(member.address)
                except ValueError:
                    continue
                if addr.version != _family(fe.address):
                    reported.add((j, k))
                    yield ctx.problem(
                        f"member {member.address} of pool {pool.name!r} is IPv{addr.version} "
                        f"but frontend {fe.name!r} ({fe.address}) is not",
                        "member", i, j, k,
                    )  # fmt: skip
                elif fe.private and net is not None and addr not in net:
                    reported.add((j, k))
                    yield ctx.problem(
                        f"member {member.address} of pool {pool.name!r} is outside frontend "
                        f"{fe.name!r}'s subnet {fe.subnet}",
                        "member", i, j, k,
                    )  # fmt: skip


def pool_members(ctx: Ctx) -> Iterator[Problem]:
    """A member appears once per pool; a rule's pool has members to balance to."""
    for i, lb in enumerate(ctx.lbs):
        for j, pool in enumerate(lb.pools):
            seen: set[str] = set()
            for k, member in enumerate(pool.members):
                if member.address in seen:
                    yield ctx.problem(
                        f"member {member.address} is listed twice in pool {pool.name!r}",
                        "member", i, j, k,
                    )  # fmt: skip
                seen.add(member.address)
        for j, rule in enumerate(lb.rules):
            pool_obj = lb.pool(rule.pool)
            if pool_obj is not None and not pool_obj.members:
                yield ctx.problem(
                    f"rule {rule.name!r}: backend pool {rule.pool!r} has no members",
                    "rule", i, j, "pool", severity=Severity.WARNING,
                )  # fmt: skip


def timeouts_and_probes(ctx: Ctx) -> Iterator[Problem]:
    """1.8 idle timeout 4-100 min; 1.5 HTTP(S) probes need a path and avoid some ports; probe
    interval at least 5 s."""
    low, high = IDLE_TIMEOUT_RANGE_MIN
    for i, lb in enumerate(ctx.lbs):
        if lb.cloud not in AZURE_RULES_APPLY:
            continue  # other platforms have their own timeouts and probe rules
        for j, rule in enumerate(lb.rules):
            if not low <= rule.idle_timeout_min <= high:
                # Shorter than Azure allows is only a warning: the kernel lab and other clouds
                # time flows out sooner, and the analysis uses whatever value is declared.
                too_short = 0 < rule.idle_timeout_min < low
                yield ctx.problem(
                    f"rule {rule.name!r}: idle timeout {rule.idle_timeout_min} min is outside "
                    f"{low}-{high}" + (" (Azure refuses it; analysed as declared)" if too_short
                                       else ""),
                    "rule", i, j, "idle_timeout",
                    severity=Severity.WARNING if too_short else Severity.ERROR,
                )  # fmt: skip
        for j, probe in enumerate(lb.probes):
            http = probe.protocol in (ProbeProtocol.HTTP, ProbeProtocol.HTTPS)
            if http and not probe.path:
                yield ctx.problem(
                    f"probe {probe.name!r}: an {probe.protocol.value} probe needs a path",
                    "probe", i, j,
                )  # fmt: skip
            if http and probe.port in HTTP_PROBE_FORBIDDEN_PORTS:
                yield ctx.problem(
                    f"probe {probe.name!r}: HTTP(S) probes cannot use port {probe.port}",
                    "probe", i, j, "port",
                )  # fmt: skip
            if probe.interval_s < MIN_PROBE_INTERVAL_S:
                yield ctx.problem(
                    f"probe {probe.name!r}: interval {probe.interval_s} s is below the "
                    f"minimum of {MIN_PROBE_INTERVAL_S} s", "probe", i, j, "interval",
                )  # fmt: skip


def outbound_on_internal(ctx: Ctx) -> Iterator[Problem]:
    """1.7: internal balancers have no outbound rules (no SNAT for flows to an ILB frontend)."""
    for i, lb in enumerate(ctx.lbs):
        if lb.internal:
            for j, out in enumerate(lb.outbound_rules):
                yield ctx.problem(
                    f"outbound rule {out.name!r} on an internal load balancer", "outbound", i, j
                )
        if lb.sku.casefold() == "basic":
            yield ctx.problem(
                "Basic SKU load balancers were retired on 30 Sep 2025", "lb", i,
                severity=Severity.WARNING,
            )  # fmt: skip


CHECKS: tuple[Check, ...] = (
    duplicate_names,
    duplicate_frontends,
    rule_references,
    port_ranges,
    duplicate_rules,
    ha_ports,
    floating_ip_ipv6,
    members_in_subnet,
    pool_members,
    timeouts_and_probes,
    outbound_on_internal,
)


def check_loaded(loaded: Loaded) -> list[Problem]:
    """Every semantic problem of a loaded configuration, check by check."""
    ctx = Ctx(loaded)
    return [problem for check in CHECKS for problem in check(ctx)]
