"""``hairpin_self``: the balancer sent the caller's own connection back to the caller (S1)."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label


def detect(f: Facts) -> Verdict | None:
    if f.kind != ATTEMPT or not f.self_mapped or f.caller_answered or f.floating_ip:
        return None
    reason = (
        "the DNAT'd copy of the caller's SYN came back to the caller itself (no SNAT): "
        "the two legs do not match, so the guest cannot answer"
    )
    if f.member_answered or f.member_refused:
        reason += "; its local reply never passed the balancer's reverse NAT"
    else:
        reason += " (Linux drops it as a martian source: no SYN-ACK, no RST)"
    return Verdict(
        Label.HAIRPIN_SELF,
        reason,
        confidence_reason="the translated copy (same ISN, IP ID, TSval) was captured "
        "arriving back at the caller and nothing answered the caller",
    )
