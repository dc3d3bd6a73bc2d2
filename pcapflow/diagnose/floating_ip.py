"""``floating_ip_guest_unconfigured``: floating IP is on, the guest does not hold the VIP (S4)."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label


def detect(f: Facts) -> Verdict | None:
    if f.kind != ATTEMPT or not f.floating_ip or f.caller_answered:
        return None
    if f.member_answered or f.member_refused:
        return None
    if f.self_mapped:
        where = "came back to the caller itself with the VIP as destination"
    elif f.at_member or f.translated_seen:
        where = "reached the member with the VIP as destination"
    else:
        return None
    return Verdict(
        Label.FLOATING_IP_GUEST_UNCONFIGURED,
        f"floating IP keeps the VIP as destination; the SYN {where} and the guest, which "
        "does not hold the VIP, dropped it",
        confidence_reason="the translated SYN to the VIP was captured at the member and "
        "nothing answered it",
    )
