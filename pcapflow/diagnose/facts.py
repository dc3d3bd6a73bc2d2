"""The facts about one connection that the label decisions read (no judgement here)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from pcapflow.model.flow import Flow
from pcapflow.model.lb import Distribution, LbConfig, platform
from pcapflow.model.packet import ACK, SYN, PacketRef
from pcapflow.reconcile.connection import (
    COPY,
    OUTBOUND,
    PROBE,
    TRANSLATED,
    Connection,
    flow_id,
)
from pcapflow.reconcile.discover import DISCOVERED_LB
from pcapflow.reconcile.lbindex import LbIndex
from pcapflow.reconcile.packets import (
    answered,
    from_orig,
    initiating_packets,
    refused,
    synacks,
)

DEFAULT_IDLE_TIMEOUT_MIN = 4

ATTEMPT = "attempt"  # a connection to a frontend
PROBE_KIND = "probe"  # a health probe from the load balancer
DIRECT_KIND = "direct"  # anything else


@dataclass(frozen=True, slots=True)
class Facts:
    """What the captures show about one connection, reduced to what decisions need."""

    kind: str
    proto: str
    caller: str
    floating_ip: bool = False
    caller_in_pool: bool = False
    pool_size: int = 0
    pool_known: bool = True  # False: the config was discovered, N members is unknown
    distribution: str = Distribution.DEFAULT.value
    self_mapped: bool = False
    translated_seen: bool = False  # a translated leg (or copy) was captured
    caller_answered: bool = False  # SYN-ACK (UDP: a reply) reached the caller's side
    caller_refused: bool = False  # RST from the responder on the caller's side
    member_answered: bool = False  # the member replied on a translated leg
    member_refused: bool = False
    served_locally: bool = False  # captured on the caller's loopback, no translation seen
    at_member: bool = False  # the representative was captured on a member (floating IP view)
    members_captured: bool = False  # some capture in the analysis was taken on a pool member
    syn_seen: bool = True  # the opening packet was captured
    requests: int = 0  # opening packets sent (SYNs incl. retransmissions; UDP datagrams)
    waited_s: float = 0.0  # capture time after the last opening packet
    idle_gap_s: float = 0.0  # longest silence inside an established connection
    idle_limit_s: float = DEFAULT_IDLE_TIMEOUT_MIN * 60.0
    dies_after_gap: bool = False  # after that silence: resets, or data nobody acknowledges
    idle_edges: tuple[PacketRef, ...] = ()  # the packet before that silence, the ones after
    tcp_reset: bool = False
    unreachable: tuple[PacketRef, ...] = ()  # ICMP port unreachable answering a UDP attempt
    reply_iface_differs: bool = False  # probe: SYN-ACK left on another interface / capture
    reply_unacked: bool = False  # probe: SYN-ACK(s) sent, never acknowledged
    reply_without_request: bool = False  # probe: SYN-ACK captured where the SYN was not
    other_members: tuple[str, ...] = ()  # the pool members besides the caller, as "vm (ip)"
    frontend_local: bool = False  # the config says members hold the frontend address locally
    self_call_works: str = ""  # why a call sent back to the caller is answered by design, if so
    picks: str = ""  # how the platform picks a member (with the 1/N rate), when it says
    notes: tuple[str, ...] = field(default=())

    @property
    def answered(self) -> bool:
        return self.caller_answered or (self.member_answered and self.kind != ATTEMPT)


def facts_for(
    conn: Connection,
    lb: LbConfig | LbIndex,
    *,
    capture_end: dict[int, float],
    captured_members: frozenset[str] = frozenset(),
    loopback: frozenset[tuple[int, int]] = frozenset(),
    unreachable: Mapping[str, tuple[PacketRef, ...]] | None = None,
) -> Facts:
    """Reduce a reconciled connection to :class:`Facts`; ``loopback`` lists the (file index,
    interface) pairs that are a host's loopback; ``unreachable`` the ICMP port unreachable
    errors answering each UDP flow, by flow id (:func:`pcapflow.reconcile.icmp.port_unreachables`).
    """
    rep = conn.representative.flow
    caller_side = [leg.flow for leg in conn.legs if leg.role in (OUTBOUND, COPY, PROBE, "direct")]
    translated = [leg.flow for leg in conn.legs if leg.role == TRANSLATED]
    errors = unreachable or {}
    caller_errors = [p for f in caller_side for p in errors.get(flow_id(f), ())]
    member_errors = [p for f in translated for p in errors.get(flow_id(f), ())]
    match = conn.rule
    members = match.members if match else ()
    addresses = [m.address for m in members]
    opening = initiating_packets(rep)
    idle = idle_gap(caller_side + translated)
    differs, unacked, orphan = probe_reply_facts(conn)
    kind = ATTEMPT if conn.is_attempt else PROBE_KIND if conn.legs[0].role == PROBE else DIRECT_KIND
    return Facts(
        kind=kind,
        proto=rep.proto,
        caller=rep.orig_h,
        floating_ip=bool(match and match.rule.floating_ip),
        caller_in_pool=_caller_in_pool(conn, lb),
        pool_size=len(members),
        pool_known=match is not None and match.lb.name != DISCOVERED_LB,
        distribution=match.rule.distribution.value if match else Distribution.DEFAULT.value,
        self_mapped=conn.self_mapped,
        translated_seen=bool(translated or conn.pairs),
        caller_answered=any(answered(f) for f in caller_side),
        caller_refused=any(refused(f) for f in caller_side) or bool(caller_errors),
        member_answered=any(answered(f) for f in translated),
        member_refused=any(refused(f) for f in translated) or bool(member_errors),
        served_locally=not (translated or conn.pairs or conn.member) and on_loopback(rep, loopback),
        at_member=conn.rep_member is not None,
        members_captured=bool(captured_members & (set(addresses) - {rep.orig_h})),
        syn_seen=bool(opening),
        requests=len(opening),
        waited_s=(capture_end.get(rep.file_idx, rep.last_ts) - opening[-1].ts) if opening else 0.0,
        idle_gap_s=idle.seconds,
        idle_limit_s=(match.rule.idle_timeout_min if match else DEFAULT_IDLE_TIMEOUT_MIN) * 60.0,
        dies_after_gap=idle.dies,
        idle_edges=idle.edges,
        tcp_reset=bool(match and match.rule.tcp_reset),
        unreachable=tuple(
            sorted(caller_errors + member_errors, key=lambda p: (p.ts_ns, p.file_idx))
        ),
        reply_iface_differs=differs,
        reply_unacked=unacked,
        reply_without_request=orphan,
        frontend_local=bool(match and match.frontend.local_on_members),
        self_call_works=match.self_call_works if match else "",
        picks=platform(match.lb.cloud).picks if match else "",
        other_members=tuple(
            f"{m.vm} ({m.address})" if m.vm else m.address
            for m in members
            if m.address != rep.orig_h
        ),
    )


def _time_order(pkt: PacketRef) -> tuple[int, int, int]:
    return (pkt.ts_ns, pkt.file_idx, pkt.frame)


def on_loopback(flow: Flow, loopback: frozenset[tuple[int, int]]) -> bool:
    """Every captured packet of the flow went over a loopback interface."""
    return bool(flow.packets) and all((p.file_idx, p.iface) in loopback for p in flow.packets)


def _caller_in_pool(conn: Connection, lb: LbConfig | LbIndex) -> bool:
    if conn.rule is None:
        return False
    rep = conn.representative.flow
    addresses = set(conn.rule.pool.addresses)
    if rep.orig_h in addresses:
        return True
    caller = lb.member(rep.orig_h)
    vms = {m.vm for m in conn.rule.members if m.vm}
    return bool(caller and caller.vm in vms)


@dataclass(frozen=True, slots=True)
class IdleGap:
    """The longest silence inside an established connection and what followed it."""

    seconds: float = 0.0
    dies: bool = False  # after it: resets, or data retransmitted with nothing coming back
    edges: tuple[PacketRef, ...] = ()  # the last packet before it, then the first ones after

    EDGE_PACKETS: ClassVar[int] = 6


def idle_gap(flows: list[Flow]) -> IdleGap:
    """The longest silence between packets of an established connection (in the packets the
    flows keep, ``Flow.packets``), and whether the connection died after it (a reset, or data
    retransmitted with nothing coming back)."""
    packets = sorted((p for f in flows for p in f.packets), key=lambda p: (p.ts_ns, p.frame))
    established = [p for p in packets if not p.tcp_flags & SYN]
    if len(established) < 2:
        return IdleGap()
    gaps = [(b.ts - a.ts, i + 1) for i, (a, b) in enumerate(itertools.pairwise(established))]
    gap, after = max(gaps)
    tail = established[after:]
    reset = any(p.tcp_flags & 0x04 for p in tail)
    senders = {(p.src, p.sport) for p in tail}
    unanswered_data = len(senders) == 1 and any(p.payload_len > 0 for p in tail)
    edges = (established[after - 1], *tail[: IdleGap.EDGE_PACKETS - 1])
    return IdleGap(gap, reset or unanswered_data, edges)


def probe_reply_facts(conn: Connection) -> tuple[bool, bool, bool]:
    """Where the probe's SYN came in and where the member's SYN-ACK went out: (the reply left
    on another interface or capture, it was never acknowledged, no SYN was captured with it)."""
    flows = [leg.flow for leg in conn.legs]
    syn_at = {(p.file_idx, p.iface) for f in flows for p in initiating_packets(f)}
    replies: list[PacketRef] = [p for f in flows for p in synacks(f)]
    acked = any(
        from_orig(f, p) and p.tcp_flags & ACK and not p.tcp_flags & SYN
        for f in flows
        for p in f.packets
    )
    reply_at = {(p.file_idx, p.iface) for p in replies}
    return (
        bool(syn_at and reply_at and not reply_at & syn_at),
        bool(replies) and not acked,
        bool(replies) and not syn_at,
    )
