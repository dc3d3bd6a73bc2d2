"""ICMP port unreachable errors matched to the UDP datagrams they answer.

The packet rows keep only an ICMP message's type and code, not the original header it quotes, so
an error is matched by who sent it, to whom and when: a host with nothing listening on a UDP port
answers a datagram at once with ICMP port unreachable (type 3 code 3; ICMPv6 type 1 code 4), from
the datagram's destination to its source (behind a balancer the member's error is reverse-NATed
to come from the VIP).  An error captured in the same file as a UDP flow, sent by the flow's
responder to its originator within the pairing window after one of its datagrams, answers that
flow; when several flows qualify, the one whose datagram came last before the error wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from pcapflow.model.flow import Flow
from pcapflow.model.packet import PROTO_ICMP, PROTO_ICMP6, PacketRef
from pcapflow.reconcile.connection import flow_id
from pcapflow.reconcile.invariants import DEFAULT_WINDOW, PairingWindow
from pcapflow.reconcile.packets import initiating_packets

# (IP protocol, ICMP type, ICMP code) of "port unreachable"
PORT_UNREACHABLE = frozenset({(PROTO_ICMP, 3, 3), (PROTO_ICMP6, 1, 4)})


def is_port_unreachable(pkt: PacketRef) -> bool:
    """An ICMP / ICMPv6 port unreachable (type and code are kept in sport / dport)."""
    return (pkt.proto, pkt.sport, pkt.dport) in PORT_UNREACHABLE


def port_unreachables(
    captures: Iterable[Sequence[Flow]], window: PairingWindow = DEFAULT_WINDOW
) -> Mapping[str, tuple[PacketRef, ...]]:
    """Flow id of a UDP flow -> the ICMP port unreachable errors that answered it."""
    found: dict[str, list[PacketRef]] = defaultdict(list)
    for flows in captures:
        for fid, error in _match_capture(flows, window.limit(True)):
            found[fid].append(error)
    return {
        fid: tuple(sorted(errs, key=lambda p: (p.ts_ns, p.frame))) for fid, errs in found.items()
    }


def _match_capture(flows: Sequence[Flow], limit_s: float) -> Iterable[tuple[str, PacketRef]]:
    sent: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for f in flows:
        if f.proto == "udp":
            sent[(f.orig_h, f.resp_h)].extend((p.ts, flow_id(f)) for p in initiating_packets(f))
    if not sent:
        return
    for f in flows:
        if f.proto != "icmp":
            continue
        for error in f.packets:
            if not is_port_unreachable(error):
                continue
            candidates = [
                (ts, fid)
                for ts, fid in sent.get((error.dst, error.src), ())
                if ts <= error.ts <= ts + limit_s
            ]
            if candidates:
                yield max(candidates)[1], error
