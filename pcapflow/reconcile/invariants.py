"""Is this captured packet the same packet as that one, before and after a DNAT?

An Azure-style load balancer rewrites only the destination (address and/or port).  Everything the
sender chose survives: source address and port, TCP sequence number, IP ID, TCP options (hashed),
the TCP timestamp value and the payload.  Two packets are paired when the source, the sequence
number and every *informative* invariant agree and they were captured within the pairing window.

Time windows (documented in docs/analysis.md):

* ``same_capture_s`` (default 50 ms): the outbound packet and its translated copy on one capture
  point.  Measured on Linux namespaces: 20-40 microseconds; on Azure a few milliseconds.
* ``cross_capture_s`` (default 500 ms): two capture points, after correcting each file's clock
  offset.  What remains is transit time and the error of the offset estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcapflow.model.packet import PacketRef


@dataclass(frozen=True, slots=True)
class PairingWindow:
    """How far apart in time two observations of one packet may be."""

    same_capture_s: float = 0.050
    cross_capture_s: float = 0.500

    def limit(self, same_capture: bool) -> float:
        return self.same_capture_s if same_capture else self.cross_capture_s


DEFAULT_WINDOW = PairingWindow()


def matched_invariants(
    a: PacketRef, b: PacketRef, *, source_translated: bool = False
) -> tuple[str, ...] | None:
    """The invariants ``a`` and ``b`` share, or None when one of them differs.

    Source address and port must be equal (unless ``source_translated``: a balancer that
    rewrites the source too, see ``RuleMatch.source_translated``); for TCP also the flags and
    sequence number.  IP ID (when not 0), TSval (when present on both), options hash and payload
    hash must agree.
    """
    if a.proto != b.proto:
        return None
    if not source_translated and (a.src, a.sport) != (b.src, b.sport):
        return None
    matched = [] if source_translated else ["src", "sport"]
    tcp = a.proto == 6
    checks: list[tuple[str, object, object, bool]] = [
        ("flags", a.tcp_flags, b.tcp_flags, a.proto == 6),
        ("seq", a.seq, b.seq, a.proto == 6),
        ("ip_id", a.ip_id, b.ip_id, a.ip_id != 0 or b.ip_id != 0),
        ("tsval", a.tsval, b.tsval, a.tsval is not None and b.tsval is not None),
        ("tcp_options", a.opts_hash, b.opts_hash, tcp and bool(a.opts_hash or b.opts_hash)),
        ("payload", a.payload_hash, b.payload_hash, a.payload_len > 0 or b.payload_len > 0),
    ]
    for name, left, right, informative in checks:
        if not informative:
            continue
        if left != right:
            return None
        matched.append(name)
    return tuple(matched)


def is_copy(a: PacketRef, b: PacketRef) -> bool:
    """Same packet, and at least one discriminating invariant beyond the source (not just a
    retransmission: a retransmitted SYN has the same seq but a new IP ID and TSval)."""
    matched = matched_invariants(a, b)
    return matched is not None and bool({"ip_id", "tsval", "payload"} & set(matched))
