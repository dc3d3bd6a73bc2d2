"""The part a connection plays (:class:`~pcapflow.model.result.FlowKind`), beside its label.

* a connection with a leg to a frontend (VIP:port of a rule) is a **frontend call**, every leg;
* one from the balancer's probe source is a **health probe**;
* a TCP or UDP connection to a pool member's own address is a **member leg** when its port is the
  backend port of a rule whose pool holds that member and the caller's host is in none of the
  given captures (its call to the VIP, if it made one, could not have been seen); otherwise a
  **direct call**;
* anything else (other hosts, ICMP) is **other**.

No judgement here: the label comes from the decisions in :mod:`pcapflow.diagnose.registry`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pcapflow.model.lb import LbConfig, RuleMatch
from pcapflow.model.result import FlowKind
from pcapflow.reconcile.connection import PROBE, Connection
from pcapflow.reconcile.lbindex import LbIndex


@dataclass(frozen=True, slots=True)
class Kinded:
    """A connection's kind, the rule a member leg matches, and a note for the reader."""

    kind: FlowKind
    rule: str | None = None  # "lb/rule": for a member leg, the (first) rule it matches
    note: str = ""


@dataclass(slots=True)
class BackendPorts:
    """:func:`backend_rules` asked once per (member, port, protocol) of an analysis."""

    cfg: LbConfig
    _seen: dict[tuple[str, int, str], tuple[RuleMatch, ...]] = field(default_factory=dict)

    def rules(self, member: str, port: int, proto: str) -> tuple[RuleMatch, ...]:
        key = (member, port, proto)
        if key not in self._seen:
            self._seen[key] = backend_rules(self.cfg, member, port, proto)
        return self._seen[key]


def classify(
    conn: Connection,
    lb: LbIndex,
    captured_hosts: frozenset[str],
    backends: BackendPorts | None = None,
) -> Kinded:
    """The kind of ``conn``; ``captured_hosts``: the addresses local to some given capture;
    ``backends``: a :class:`BackendPorts` shared by the connections of one analysis."""
    if conn.is_attempt:
        return Kinded(FlowKind.FRONTEND_CALL)
    if conn.legs[0].role == PROBE:
        return Kinded(FlowKind.HEALTH_PROBE)
    rep = conn.representative.flow
    if rep.proto not in ("tcp", "udp") or lb.member(_canon(rep.resp_h)) is None:
        return Kinded(FlowKind.OTHER)
    rules = (backends or BackendPorts(lb.lb)).rules(rep.resp_h, rep.resp_p, rep.proto)
    if not rules or _canon(rep.orig_h) in captured_hosts:
        return Kinded(FlowKind.DIRECT_CALL)
    return Kinded(FlowKind.MEMBER_LEG, rule_name(rules[0]), member_leg_note(rep.orig_h, rules))


def backend_rules(cfg: LbConfig, member: str, port: int, proto: str) -> tuple[RuleMatch, ...]:
    """Rules (floating IP off) that send ``proto`` traffic to ``member:port``: the member is in
    the rule's pool and ``port`` is its backend port (rules on every port: any port)."""
    address = _canon(member)
    found: list[RuleMatch] = []
    for bal in cfg.load_balancers:
        for rule in bal.rules:
            fe, pool = bal.frontend(rule.frontend), bal.pool(rule.pool)
            if fe is None or pool is None or rule.floating_ip:
                continue
            if not rule.protocol.matches(proto) or address not in map(_canon, pool.addresses):
                continue
            if rule.any_port or rule.backend_port_for(rule.frontend_port) == port:
                found.append(RuleMatch(bal, fe, rule, pool))
    return tuple(found)


def rule_name(match: RuleMatch) -> str:
    return f"{match.lb.name}/{match.rule.name}"


def member_leg_note(caller: str, rules: tuple[RuleMatch, ...]) -> str:
    """``"the caller's side (192.168.2.1) was not captured: ..."`` naming the matched rules."""
    which = ", ".join(f"{rule_name(m)} ({_mapping(m)})" for m in rules)
    rule_word = "rule" if len(rules) == 1 else "rules"
    return (
        f"the caller's side ({caller}) was not captured: the port is the backend port of "
        f"{rule_word} {which}, so this is the member's leg of a call to the frontend or a "
        "direct call to the member; a capture on the caller would tell"
    )


def _mapping(match: RuleMatch) -> str:
    """``"10.2.1.100:80 -> backend port 8080"``, or ``"10.2.1.100, HA ports"``."""
    rule, vip = match.rule, match.frontend.address
    if rule.ha_ports:
        return f"{vip}, HA ports"
    if rule.any_port:
        return f"{vip}, all {rule.protocol.value} ports"
    return f"{vip}:{rule.frontend_port} -> backend port {rule.backend_port_for(rule.frontend_port)}"


def _canon(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address
