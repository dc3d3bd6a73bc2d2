"""Evidence: the packets that prove a verdict, each with file, frame and a one-line summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pcapflow.diagnose.facts import Facts
from pcapflow.model.packet import PacketRef
from pcapflow.model.result import Evidence, Label
from pcapflow.reconcile.connection import Connection, LegFlow
from pcapflow.reconcile.packets import from_orig, is_rst, is_syn, is_synack

PACKETS_PER_LEG = 6


def packet_role(leg: LegFlow, pkt: PacketRef) -> str:
    """A few words on what this packet is in the story of the connection."""
    outbound = from_orig(leg.flow, pkt)
    kind = (
        "SYN"
        if is_syn(pkt)
        else "SYN-ACK"
        if is_synack(pkt)
        else "RST"
        if is_rst(pkt)
        else ("datagram" if pkt.proto == 17 else "packet")
    )
    if leg.role == "probe":
        return f"probe {kind} {'from the prober' if outbound else 'from the member'}"
    if leg.role == "translated":
        return f"translated {kind} {'in (after DNAT)' if outbound else 'back from member'}"
    side = {"outbound": "caller", "copy": "caller (other capture)"}
    return f"{side.get(leg.role, leg.role)} {kind} {'out' if outbound else 'back'}"


def extra_evidence(facts: Facts, label: Label | None) -> tuple[tuple[PacketRef, str], ...]:
    """Packets that prove a verdict beyond the first packets of each leg: the ICMP errors that
    answered a UDP attempt, and for an idle death the silence and what followed it."""
    found = [(p, "ICMP port unreachable back to the caller") for p in facts.unreachable]
    if label is Label.IDLE_TIMEOUT and facts.idle_edges:
        before, *after = facts.idle_edges
        found.append((before, f"last packet before {facts.idle_gap_s:.0f} s of silence"))
        found.extend((p, "after the silence") for p in after)
    return tuple(found[: 2 * PACKETS_PER_LEG])


def connection_evidence(
    conn: Connection,
    paths: Mapping[int, str],
    extra: Sequence[tuple[PacketRef, str]] = (),
) -> tuple[Evidence, ...]:
    """The first packets of every leg (opening packets, replies, resets), and ``extra``
    (packet, role) pairs (see :func:`extra_evidence`), in time order, each frame once."""
    items: list[tuple[int, int, int, Evidence]] = []
    seen: set[tuple[int, int]] = set()
    for pkt, role in extra:
        seen.add((pkt.file_idx, pkt.frame))
        ev = Evidence(
            file=paths.get(pkt.file_idx, str(pkt.file_idx)),
            frame=pkt.frame,
            ts=pkt.ts,
            summary=pkt.summary(),
            role=role,
        )
        items.append((pkt.ts_ns, pkt.file_idx, pkt.frame, ev))
    for leg in conn.legs:
        for pkt in leg.flow.packets[:PACKETS_PER_LEG]:
            if (pkt.file_idx, pkt.frame) in seen:
                continue
            ev = Evidence(
                file=paths.get(pkt.file_idx, str(pkt.file_idx)),
                frame=pkt.frame,
                ts=pkt.ts,
                summary=pkt.summary(),
                role=packet_role(leg, pkt),
            )
            items.append((pkt.ts_ns, pkt.file_idx, pkt.frame, ev))
    return tuple(ev for *_key, ev in sorted(items, key=lambda t: t[:3]))
