"""Packet-level facts about a flow's evidence packets: who sent what, and the connection key.

A *connection key* names one connection wherever it was captured: the caller's address and port,
the protocol, and a discriminator that survives DNAT (the TCP initial sequence number, or for UDP
the hash of the first datagram's payload).  A flow seen only from its SYN-ACK (Zeek ``^``) gets
the ISN back from the SYN-ACK's acknowledgment number.
"""

from __future__ import annotations

from pcapflow.model.flow import Flow
from pcapflow.model.packet import ACK, RST, SYN, PacketRef

ConnKey = tuple[str, int, str, int]


def is_syn(pkt: PacketRef) -> bool:
    """A connection request: SYN without ACK."""
    return bool(pkt.tcp_flags & SYN) and not pkt.tcp_flags & ACK


def is_synack(pkt: PacketRef) -> bool:
    return bool(pkt.tcp_flags & SYN) and bool(pkt.tcp_flags & ACK)


def is_rst(pkt: PacketRef) -> bool:
    return bool(pkt.tcp_flags & RST)


def from_orig(flow: Flow, pkt: PacketRef) -> bool:
    """The packet travels originator -> responder."""
    return pkt.src == flow.orig_h and pkt.sport == flow.orig_p


def initiating_packets(flow: Flow) -> tuple[PacketRef, ...]:
    """The packets that open the connection: every SYN (retransmissions included), or for
    UDP every datagram from the originator."""
    if flow.proto == "tcp":
        return tuple(p for p in flow.packets if is_syn(p) and from_orig(flow, p))
    return tuple(p for p in flow.packets if from_orig(flow, p))


def reply_packets(flow: Flow) -> tuple[PacketRef, ...]:
    """Packets from the responder."""
    return tuple(p for p in flow.packets if not from_orig(flow, p))


def synacks(flow: Flow) -> tuple[PacketRef, ...]:
    return tuple(p for p in reply_packets(flow) if is_synack(p))


def resets_from_resp(flow: Flow) -> tuple[PacketRef, ...]:
    return tuple(p for p in reply_packets(flow) if is_rst(p))


def orig_isn(flow: Flow) -> int | None:
    """The originator's ISN: from its SYN, else from the responder's SYN-ACK (ack - 1)."""
    if flow.isn is not None:
        return flow.isn
    for pkt in synacks(flow):
        return (pkt.ack - 1) & 0xFFFFFFFF
    return None


def conn_key(flow: Flow) -> ConnKey | None:
    """The key that names this connection at every capture point, or None when unknown."""
    if flow.proto == "tcp":
        isn = orig_isn(flow)
        return None if isn is None else (flow.orig_h, flow.orig_p, "tcp", isn)
    if flow.proto == "udp":
        first = initiating_packets(flow)
        if not first:
            return None
        return (flow.orig_h, flow.orig_p, "udp", first[0].payload_hash)
    return None


def got_reply(flow: Flow) -> bool:
    """The responder answered (SYN-ACK, RST or, for UDP, any datagram back)."""
    return bool(reply_packets(flow)) or flow.resp_pkts > 0


def answered(flow: Flow) -> bool:
    """A TCP connection was accepted (SYN-ACK seen) or a UDP datagram came back."""
    if flow.proto == "tcp":
        return bool(synacks(flow)) or flow.established
    return flow.resp_pkts > 0


def refused(flow: Flow) -> bool:
    """The responder reset the connection attempt (Zeek REJ, or a RST before any SYN-ACK)."""
    if flow.proto != "tcp":
        return False
    return flow.conn_state == "REJ" or (bool(resets_from_resp(flow)) and not answered(flow))
