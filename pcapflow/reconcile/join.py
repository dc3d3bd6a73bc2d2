"""Join the flows of every capture into connections, and pair their packets across the DNAT.

All flows with the same connection key (caller, caller port, protocol, ISN) belong to one
connection, whichever capture point saw them.  Within a connection:

* the flow addressed to a frontend (``caller -> VIP:fp``) is the outbound leg; when several
  capture points saw it, the one captured on the caller's own host stands for the attempt and
  the others are copies (or, with floating IP, the copy that reached a member is translated);
* a flow to ``member:bp`` that a declared rule explains is the translated leg; one no rule
  explains is an undeclared translation;
* each outbound packet (every SYN retransmission separately) is paired with its translated copy by
  the invariants of :mod:`pcapflow.reconcile.invariants` within the pairing window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pcapflow.model.flow import Flow
from pcapflow.model.lb import LbConfig, RuleMatch, rewrites_source
from pcapflow.reconcile.connection import (
    COPY,
    DIRECT,
    OUTBOUND,
    PROBE,
    TRANSLATED,
    Connection,
    LegFlow,
    PacketPair,
)
from pcapflow.reconcile.hosts import balancer_side, point_vm
from pcapflow.reconcile.invariants import DEFAULT_WINDOW, PairingWindow, matched_invariants
from pcapflow.reconcile.lbindex import LbIndex
from pcapflow.reconcile.packets import ConnKey, conn_key, initiating_packets


@dataclass(frozen=True, slots=True)
class CaptureView:
    """One capture file's flows and what is known about where it was taken."""

    file_idx: int
    path: str
    point: str | None
    flows: tuple[Flow, ...]
    local: frozenset[str] = frozenset()
    offset_s: float = 0.0


@dataclass(frozen=True, slots=True)
class _Ctx:
    lb: LbIndex
    views: dict[int, CaptureView]
    window: PairingWindow

    def local(self, flow: Flow) -> frozenset[str]:
        return self.views[flow.file_idx].local

    def ts(self, flow: Flow, raw: float) -> float:
        return raw + self.views[flow.file_idx].offset_s


def join_connections(
    views: Sequence[CaptureView], lb: LbConfig, window: PairingWindow = DEFAULT_WINDOW
) -> tuple[Connection, ...]:
    """Every flow of every capture, grouped into connections (ordered by first time)."""
    ctx = _Ctx(LbIndex(lb), {v.file_idx: v for v in views}, window)
    groups: dict[ConnKey | tuple[str], list[Flow]] = defaultdict(list)
    for view in views:
        for flow in view.flows:
            key = conn_key(flow)
            groups[key if key is not None else (f"{flow.file_idx}:{flow.uid}",)].append(flow)
    groups = merge_source_translated(ctx.lb, groups)
    conns = [_connection(ctx, key, flows) for key, flows in groups.items()]
    return tuple(sorted(conns, key=lambda c: _order(ctx, c)))


def merge_source_translated(
    lb: LbIndex, groups: dict[ConnKey | tuple[str], list[Flow]]
) -> dict[ConnKey | tuple[str], list[Flow]]:
    """Join legs whose source the balancer rewrote to the connection they belong to.

    A TCP group with no flow to a frontend joins the one group with the same ISN whose flow to a
    frontend is explained by a rule that rewrites sources (``RuleMatch.source_translated``: AWS
    NLB without client IP preservation, kube-proxy's masquerade of a hairpin) and that rule
    explains the group's destination.  Without such a rule nothing is merged.
    """
    if not any(rewrites_source(b, r) for b in lb.lb.load_balancers for r in b.rules):
        return groups  # e.g. every Azure config: nothing to do
    outbound: dict[int, list[ConnKey | tuple[str]]] = defaultdict(list)
    for key, flows in groups.items():
        if len(key) == 4 and key[2] == "tcp" and any(_rewrites_source(lb, f) for f in flows):
            outbound[int(key[3])].append(key)
    if not outbound:
        return groups
    merged = dict(groups)
    for key, flows in groups.items():
        if len(key) != 4 or key[2] != "tcp" or key in outbound.get(int(key[3]), ()):
            continue
        if any(lb.rules_for(f.resp_h, f.resp_p, f.proto) for f in flows):
            continue
        owners = [k for k in outbound.get(int(key[3]), []) if _explains(lb, groups[k], flows)]
        if len(owners) == 1:
            merged[owners[0]] = [*merged[owners[0]], *flows]
            del merged[key]
    return merged


def _rewrites_source(lb: LbIndex, flow: Flow) -> bool:
    return any(m.source_translated for m in lb.rules_for(flow.resp_h, flow.resp_p, flow.proto))


def _explains(lb: LbIndex, outbound: list[Flow], legs: list[Flow]) -> bool:
    fronts = [f for f in outbound if _rewrites_source(lb, f)]
    return all(
        any(
            (m := lb.explain(o.resp_h, o.resp_p, f.resp_h, f.resp_p, f.proto)) is not None
            and m.source_translated
            for o in fronts
        )
        for f in legs
    )


def _order(ctx: _Ctx, conn: Connection) -> tuple[float, int, str]:
    rep = conn.representative.flow
    return (ctx.ts(rep, rep.ts), rep.file_idx, rep.uid)


def _connection(ctx: _Ctx, key: ConnKey | tuple[str], flows: list[Flow]) -> Connection:
    ckey: ConnKey | None = key if len(key) == 4 else None
    to_frontend = [f for f in flows if ctx.lb.rules_for(f.resp_h, f.resp_p, f.proto)]
    if not to_frontend:
        role = PROBE if ctx.lb.is_probe_source(flows[0].orig_h) else DIRECT
        return Connection(ckey, tuple(LegFlow(f, role) for f in _by_time(ctx, flows)))
    rep = min(to_frontend, key=lambda f: _rep_rank(ctx, f))
    legs = [LegFlow(rep, OUTBOUND)]
    legs += [_classify(ctx, rep, f) for f in _by_time(ctx, flows) if f is not rep]
    return _complete(ctx, ckey, rep, tuple(legs))


def _by_time(ctx: _Ctx, flows: list[Flow]) -> list[Flow]:
    return sorted(flows, key=lambda f: (ctx.ts(f, f.ts), f.file_idx, f.uid))


def _rep_rank(ctx: _Ctx, flow: Flow) -> tuple[bool, bool, int, float, int, str]:
    """Prefer the flow captured on the caller's own host (the VM's own capture before the
    balancer's side of its port, then the first such file given), then the earliest."""
    local = flow.orig_h in ctx.local(flow)
    far_side = local and balancer_side(ctx.views[flow.file_idx].point)
    first_file = flow.file_idx if local else 0
    return (not local, far_side, first_file, ctx.ts(flow, flow.ts), flow.file_idx, flow.uid)


def _classify(ctx: _Ctx, rep: Flow, flow: Flow) -> LegFlow:
    if (flow.resp_h, flow.resp_p) == (rep.resp_h, rep.resp_p):
        member = _receiving_member(ctx, rep, flow)
        return LegFlow(flow, TRANSLATED, member) if member else LegFlow(flow, COPY)
    return LegFlow(flow, TRANSLATED, flow.resp_h)


def _receiving_member(ctx: _Ctx, rep: Flow, flow: Flow) -> str | None:
    """With floating IP the translated leg keeps the VIP: the member is the capture's host.
    A flow whose source is the frontend itself was opened on a host holding the frontend
    address (a loopback VIP, a local route): no balancer delivered it."""
    local = ctx.local(flow)
    if flow.orig_h in local or flow.orig_h == rep.resp_h:
        return None
    members = sorted(
        m.address
        for match in ctx.lb.rules_for(rep.resp_h, rep.resp_p, rep.proto)
        if match.rule.floating_ip
        for m in match.members
        if m.address in local
    )
    return members[0] if members else None


def _complete(ctx: _Ctx, key: ConnKey | None, rep: Flow, legs: tuple[LegFlow, ...]) -> Connection:
    vip, port = rep.resp_h, rep.resp_p
    rule, undeclared = _explaining_rule(ctx.lb, rep, legs)
    echoes = _echo_pairs(ctx, rep)
    pairs = echoes + _leg_pairs(ctx, rep, legs)
    translated_members = [leg.member for leg in legs if leg.role == TRANSLATED and leg.member]
    self_mapped = bool(echoes) or any(
        _is_caller(ctx, rep, leg) or _same_vm(ctx, rep, leg)
        for leg in legs
        if leg.role == TRANSLATED and leg.member
    )
    member = rep.orig_h if echoes else (translated_members[0] if translated_members else None)
    if self_mapped and echoes:
        member = _self_member(ctx, rep) or rep.orig_h
    rep_member = _receiving_member(ctx, rep, rep)
    notes: tuple[str, ...] = ()
    if undeclared:
        dsts = sorted(
            {f"{leg.flow.resp_h}:{leg.flow.resp_p}" for leg in legs if leg.role == TRANSLATED}
        )
        notes = (
            f"undeclared translation: {vip}:{port} was rewritten to {', '.join(dsts)}, "
            "which no declared rule explains",
        )
    return Connection(
        key=key,
        legs=legs,
        frontend=(vip, port),
        rule=rule,
        member=member or rep_member,
        self_mapped=self_mapped,
        undeclared=undeclared,
        pairs=pairs,
        caller_local=rep.orig_h in ctx.local(rep),
        rep_member=rep_member,
        notes=notes,
    )


def _explaining_rule(
    lb: LbIndex, rep: Flow, legs: tuple[LegFlow, ...]
) -> tuple[RuleMatch | None, bool]:
    """The rule that explains the translated legs (or the only candidate), and whether some
    translated leg is explained by no rule."""
    candidates = lb.rules_for(rep.resp_h, rep.resp_p, rep.proto)
    explained: RuleMatch | None = None
    undeclared = False
    for leg in legs:
        if leg.role != TRANSLATED:
            continue
        f = leg.flow
        match = lb.explain(rep.resp_h, rep.resp_p, f.resp_h, f.resp_p, f.proto)
        if match is None:
            undeclared = True
        explained = explained or match
    return explained or (candidates[0] if candidates else None), undeclared


def _is_caller(ctx: _Ctx, rep: Flow, leg: LegFlow) -> bool:
    """The member the balancer chose is the caller's own machine: the same address, a copy
    that arrived on the capture the caller sent from (a host capture only sees what arrives
    for it), or the same VM by the config."""
    member = leg.member or ""
    if member == rep.orig_h:
        return True
    if leg.flow.file_idx == rep.file_idx and member in ctx.local(rep):
        return True
    caller = ctx.lb.member(rep.orig_h)
    chosen = ctx.lb.member(member)
    caller_vm = (caller.vm if caller and caller.vm else None) or (
        point_vm(ctx.views[rep.file_idx].point) if rep.orig_h in ctx.local(rep) else None
    )
    return bool(chosen and chosen.vm and caller_vm and chosen.vm.lower() == caller_vm.lower())


def _same_vm(ctx: _Ctx, rep: Flow, leg: LegFlow) -> bool:
    """The copy arrived, at an address of that capture's host, on another NIC of the caller's
    VM (both capture points name the same VM, e.g. ``web01 eth1`` and ``web01 eth0``)."""
    vm = point_vm(ctx.views[rep.file_idx].point)
    other = point_vm(ctx.views[leg.flow.file_idx].point)
    return bool(vm) and vm == other and leg.member in ctx.local(leg.flow)


def _self_member(ctx: _Ctx, rep: Flow) -> str | None:
    local = ctx.local(rep)
    pool = [
        m.address
        for match in ctx.lb.rules_for(rep.resp_h, rep.resp_p, rep.proto)
        for m in match.members
        if m.address in local
    ]
    return sorted(pool)[0] if pool else None


def _echo_pairs(ctx: _Ctx, flow: Flow) -> tuple[PacketPair, ...]:
    """Copies of the flow's own packets in the same flow, on the same interface, within the
    window: the translated copy when floating IP keeps the 5-tuple."""
    pkts = initiating_packets(flow)
    pairs: list[PacketPair] = []
    used: set[int] = set()
    for i, first in enumerate(pkts):
        if i in used:
            continue
        for j in range(i + 1, len(pkts)):
            second = pkts[j]
            delta = second.ts - first.ts
            if delta > ctx.window.same_capture_s:
                break
            matched = matched_invariants(first, second)
            if j in used or second.iface != first.iface or matched is None:
                continue
            if {"ip_id", "tsval", "payload"} & set(matched):
                pairs.append(PacketPair(first, second, matched, delta))
                used.update((i, j))
                break
    return tuple(pairs)


def _leg_pairs(ctx: _Ctx, rep: Flow, legs: tuple[LegFlow, ...]) -> tuple[PacketPair, ...]:
    """Each outbound packet with its nearest translated copy (greedy, within the window)."""
    out = initiating_packets(rep)
    pairs: list[PacketPair] = []
    for leg in legs:
        if leg.role != TRANSLATED:
            continue
        limit = ctx.window.limit(leg.flow.file_idx == rep.file_idx)
        free = list(initiating_packets(leg.flow))
        for pkt in out:
            best = None
            rewritten = (leg.flow.orig_h, leg.flow.orig_p) != (rep.orig_h, rep.orig_p)
            for cand in free:
                matched = matched_invariants(pkt, cand, source_translated=rewritten)
                delta = ctx.ts(leg.flow, cand.ts) - ctx.ts(rep, pkt.ts)
                if matched is None or abs(delta) > limit:
                    continue
                if best is None or abs(delta) < abs(best[2]):
                    best = (cand, matched, delta)
            if best is not None:
                free.remove(best[0])
                pairs.append(PacketPair(pkt, best[0], best[1], best[2]))
    return tuple(pairs)
