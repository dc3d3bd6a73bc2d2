"""Reconciliation: the legs of one connection on both sides of a load balancer.

Within a capture, an outbound leg (``B:p -> VIP:fp``) is paired with the translated leg the
balancer produced (``B:p -> member:bp``, or ``B:p -> VIP:bp`` with floating IP) by invariants that
survive DNAT; across captures each file's clock offset is estimated from packets seen at two
points and the legs of one connection are joined; without a config, translations are discovered
and a config is suggested.
"""

from __future__ import annotations

from pcapflow.model.result import Leg
from pcapflow.reconcile.clock import ClockOffset, estimate_offsets
from pcapflow.reconcile.connection import (
    COPY,
    DIRECT,
    OUTBOUND,
    PROBE,
    TRANSLATED,
    Connection,
    LegFlow,
    PacketPair,
    flow_id,
)
from pcapflow.reconcile.discover import Translation, discover_translations, suggest_config
from pcapflow.reconcile.hosts import local_addresses
from pcapflow.reconcile.invariants import DEFAULT_WINDOW, PairingWindow, matched_invariants
from pcapflow.reconcile.join import CaptureView, join_connections

__all__ = [
    "COPY",
    "DEFAULT_WINDOW",
    "DIRECT",
    "OUTBOUND",
    "PROBE",
    "TRANSLATED",
    "CaptureView",
    "ClockOffset",
    "Connection",
    "LegFlow",
    "PacketPair",
    "PairingWindow",
    "Translation",
    "discover_translations",
    "estimate_offsets",
    "flow_id",
    "join_connections",
    "local_addresses",
    "matched_invariants",
    "suggest_config",
    "to_leg",
]


def to_leg(conn: Connection) -> Leg | None:
    """The result-model :class:`Leg` of a connection that was translated (None otherwise)."""
    if not conn.is_attempt or not (conn.translated or conn.pairs):
        return None
    rep = conn.representative
    inbound = tuple(leg.id for leg in conn.translated) or (rep.id,)
    matched = sorted({name for pair in conn.pairs for name in pair.matched_on})
    return Leg(
        outbound_flow=rep.id,
        inbound_flows=inbound,
        rule=None if conn.undeclared else conn.rule_name,
        member=conn.member,
        matched_on=tuple(matched),
        delta_s=conn.pairs[0].delta_s if conn.pairs else 0.0,
    )
