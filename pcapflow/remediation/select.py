"""Choose the catalogue entries that fit a finding and fill them in with real names."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2

from pcapflow.model.lb import LbConfig, ProbeProtocol, RuleMatch
from pcapflow.model.result import Finding, Remediation
from pcapflow.reconcile.lbindex import LbIndex
from pcapflow.remediation.catalogue import Entry, Situation, load_catalogue

HTTP_PORTS = frozenset({80, 443, 8080, 8443})
_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


@dataclass(frozen=True, slots=True)
class Target:
    """The resources a finding is about, as far as the config names them."""

    label: str
    caller: str
    vip: str
    fp: int
    proto: str = "tcp"
    match: RuleMatch | None = None
    member: str | None = None  # probe findings: the member probed
    probe_port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    platform: str = "azure"  # the config's platform when no rule matches (see config_cloud)


def target_for(
    finding: Finding,
    lb: LbConfig,
    proto: str = "tcp",
    index: LbIndex | None = None,
    extra: dict[str, Any] | None = None,
) -> Target:
    host, _, port = (finding.frontend or ":0").rpartition(":")
    vip = host.strip("[]")
    fp = int(port or 0)
    match = _rule_match(finding, index or LbIndex(lb), vip, fp, proto)
    member = vip if finding.label.value == "probe_asymmetric_route" else None
    return Target(
        finding.label.value,
        finding.caller or "",
        vip,
        fp,
        proto,
        match,
        member,
        fp or None,
        dict(extra or {}),
        config_cloud(lb),
    )


def config_cloud(lb: LbConfig) -> str:
    """The platform of the config's balancers when they share one, else Azure (the default of
    a finding no rule explains)."""
    clouds = {bal.cloud for bal in lb.load_balancers}
    return clouds.pop() if len(clouds) == 1 else "azure"


def _rule_match(finding: Finding, lb: LbIndex, vip: str, fp: int, proto: str) -> RuleMatch | None:
    if finding.label.value == "probe_asymmetric_route":
        return _rule_of_member(lb.lb, vip)
    matches = lb.rules_for(vip, fp, proto) if vip else ()
    named = [m for m in matches if f"{m.lb.name}/{m.rule.name}" == finding.rule]
    found = named or list(matches)
    return found[0] if found else None


def _rule_of_member(lb: LbConfig, member: str) -> RuleMatch | None:
    """A rule whose pool holds ``member`` (probe findings are about a member, not a VIP)."""
    for bal in lb.load_balancers:
        for rule in bal.rules:
            fe, pool = bal.frontend(rule.frontend), bal.pool(rule.pool)
            if fe and pool and member in pool.addresses:
                return RuleMatch(bal, fe, rule, pool)
    return None


def situation(t: Target, os: str | None) -> Situation:
    rule = t.match.rule if t.match else None
    probe = t.match.lb.probe(rule.probe) if t.match and rule else None
    http = (t.fp in HTTP_PORTS) or bool(
        probe and probe.protocol in (ProbeProtocol.HTTP, ProbeProtocol.HTTPS)
    )
    return Situation(
        label=t.label,
        os=os,
        protocol=t.proto,
        floating_ip=rule.floating_ip if rule else None,
        http=http,
        cloud=t.match.lb.cloud if t.match else t.platform,
        second_nic="nic2" in t.extra,
    )


def template_context(t: Target) -> dict[str, Any]:
    m = t.match
    members = list(m.pool.addresses) if m else []
    bp = m.rule.backend_port_for(t.fp) if m else t.fp
    return {
        "lb": m.lb.name if m else "<LB-NAME>",
        "rg": (m.lb.resource_group if m else None) or "<RESOURCE-GROUP>",
        "region": (m.lb.location if m else None) or "<REGION>",
        "rule": m.rule.name if m else "<RULE>",
        "frontend": m.frontend.name if m else "<FRONTEND>",
        "pool": m.pool.name if m else "<POOL>",
        "vip": t.vip,
        "fp": t.fp,
        "bp": bp,
        "proto": t.proto,
        "members": members or ["<MEMBER-IP>"],
        "caller": t.caller or "<CALLER-IP>",
        "gateway": _gateway(m),
        "nic2": t.extra.get("nic2", "<NIC2-IP>"),
        "primary": t.extra.get("primary", t.caller or "<CALLER-IP>"),
        "idle_min": m.rule.idle_timeout_min if m else 4,
        "probe_port": t.probe_port or bp,
        "member": t.member or (members[0] if members else "<MEMBER-IP>"),
    }


def _gateway(m: RuleMatch | None) -> str:
    """Azure's gateway is the first address of the subnet."""
    if m and m.frontend.subnet:
        try:
            return str(ipaddress.ip_network(m.frontend.subnet, strict=False).network_address + 1)
        except ValueError:
            pass
    return "<SUBNET-GATEWAY>"


def remediations_for(
    finding: Finding,
    lb: LbConfig,
    os: str | None,
    proto: str = "tcp",
    index: LbIndex | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Remediation, ...]:
    """The catalogue entries that fit the finding, ranked, with real resource names.

    ``extra`` carries what the captures showed beyond the config, e.g. ``nic2`` and ``primary``
    when the caller is a second address of a member VM whose calls came back to it.
    """
    t = target_for(finding, lb, proto, index, extra)
    s = situation(t, os)
    ctx = template_context(t)
    entries = sorted((e for e in load_catalogue() if e.applies(s)), key=lambda e: e.rank)
    return tuple(_render(e, s, ctx, i) for i, e in enumerate(entries, start=1))


def _verified(e: Entry) -> str:
    if not e.verified_in_lab:
        return ""
    return f" Verified in the kernel lab: `pcapflow lab run {e.verified_in_lab}`."


@lru_cache(maxsize=512)
def _template(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


def _render(e: Entry, s: Situation, ctx: dict[str, Any], rank: int) -> Remediation:
    def fill(text: str) -> str:
        return _template(text).render(**ctx).strip()

    os_cond = dict(e.conditions).get("os")
    return Remediation(
        id=e.id,
        title=fill(e.title),
        summary=fill(e.summary) + _verified(e),
        applies_because=e.because(s),
        commands=tuple(fill(c) for c in e.commands),
        tradeoffs=tuple(fill(t) for t in e.tradeoffs),
        rank=rank,
        files=tuple((fill(name), fill(body) + "\n") for name, body in e.files),
        os=os_cond[0] if isinstance(os_cond, list) and len(os_cond) == 1 else None,
    )
