"""Plain-text presentation of a configuration and of validation problems."""

from __future__ import annotations

from collections.abc import Iterable

from pcapflow.lbconfig.problems import Problem, Severity
from pcapflow.model.lb import LbConfig, LoadBalancer, Member, Probe, Rule


def _endpoint(address: str, port: int | str) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _member(m: Member) -> str:
    extra = [
        f"vm {m.vm}" if m.vm else "",
        f"node {m.node}" if m.node else "",
        f"nic {m.nic}" if m.nic else "",
        f"mac {m.mac}" if m.mac else "",
        m.os or "",
    ]
    return "  ".join([m.address, *[e for e in extra if e]])


def _probe_sources(p: Probe) -> str:
    sources = ([p.source] if p.source else []) + list(p.source_ranges)
    return ", ".join(sources) if sources else "addresses not told apart from client traffic"


def _rule(lb: LoadBalancer, r: Rule) -> str:
    fe = lb.frontend(r.frontend)
    vip = fe.address if fe else f"<missing frontend {r.frontend}>"
    if r.ha_ports:
        match = f"{vip} all ports (HA ports)"
        target = f"{r.pool} same port"
    elif r.any_port:  # every port of one protocol (a Google Cloud allPorts rule)
        match = f"{vip} all {r.protocol.value} ports"
        target = f"{r.pool} same port"
    else:
        match = f"{_endpoint(vip, r.frontend_port)}/{r.protocol.value}"
        target = f"{r.pool}:{r.backend_port_for(r.frontend_port)}"
    pool = lb.pool(r.pool)
    n = f" ({len(pool.members)} member(s))" if pool is not None else " (missing pool)"
    flags = [
        f"probe {r.probe}" if r.probe else "no probe",
        "floating IP on" if r.floating_ip else "floating IP off",
        f"idle {r.idle_timeout_min} min",
        f"distribution {r.distribution.value}",
    ]
    if r.tcp_reset:
        flags.append("TCP reset")
    if r.disable_outbound_snat:
        flags.append("outbound SNAT disabled")
    if not r.preserve_client_ip:
        flags.append("client IP not preserved")
    return f"rule {r.name}: {match} -> {target}{n}; " + ", ".join(flags)


def render_text(cfg: LbConfig) -> str:
    """A readable summary: one block per balancer, one line per element."""
    lines: list[str] = []
    for lb in cfg.load_balancers:
        scope = "internal" if lb.internal else "public"
        where = ", ".join(x for x in (lb.resource_group, lb.location) if x)
        lines.append(f"{lb.name} ({lb.cloud}, {lb.sku}, {scope})" + (f"  {where}" if where else ""))
        if lb.hairpin_mode:
            lines.append(f"  kubelet hairpin mode: {lb.hairpin_mode}")
        for fe in lb.frontends:
            subnet = f"  subnet {fe.subnet}" if fe.subnet else ""
            kind = "private" if fe.private else "public"
            local = "  local on every member" if fe.local_on_members else ""
            lines.append(f"  frontend {fe.name}: {fe.address} {kind}{subnet}{local}")
        for pool in lb.pools:
            lines.append(f"  pool {pool.name}: {len(pool.members)} member(s)")
            lines.extend(f"    {_member(m)}" for m in pool.members)
        for p in lb.probes:
            path = f" {p.path}" if p.path else ""
            lines.append(
                f"  probe {p.name}: {p.protocol.value}:{p.port}{path} every {p.interval_s} s, "
                f"threshold {p.count}, from {_probe_sources(p)}"
            )
        lines.extend(f"  {_rule(lb, r)}" for r in lb.rules)
        for n in lb.inbound_nat_rules:
            nat_fe = lb.frontend(n.frontend)
            vip = nat_fe.address if nat_fe else f"<missing frontend {n.frontend}>"
            target = n.target or "?"
            lines.append(
                f"  inbound NAT {n.name}: {_endpoint(vip, n.frontend_port)}/{n.protocol.value} "
                f"-> {_endpoint(target, n.backend_port)}"
            )
        for o in lb.outbound_rules:
            lines.append(f"  outbound {o.name}: pool {o.pool} via {', '.join(o.frontends)}")
    if cfg.sources:
        lines.append("sources: " + "; ".join(cfg.sources))
    return "\n".join(lines) + "\n"


def render_problems(problems: Iterable[Problem]) -> str:
    problems = list(problems)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    warnings = len(problems) - errors
    lines = [str(p) for p in problems]
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines) + "\n"
