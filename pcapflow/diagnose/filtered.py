"""``filtered``: SYNs go out, nothing comes back (S6): an NSG, a guest firewall or a route."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, PROBE_KIND, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Confidence, Label

MIN_WAIT_S = 1.0  # without a retransmission, wait at least this long before calling it a drop


def detect(f: Facts) -> Verdict | None:
    if f.answered or f.caller_refused or f.member_refused or not f.syn_seen:
        return None
    if f.kind != ATTEMPT and f.proto != "tcp":
        return None  # one-way UDP outside a frontend is normal (syslog, DNS to a dead resolver)
    if f.requests < 2 and f.waited_s < MIN_WAIT_S:
        return None
    if f.kind == PROBE_KIND:
        return _probe(f)
    if f.kind == ATTEMPT and f.translated_seen and not f.self_mapped:
        return Verdict(
            Label.FILTERED,
            "the translated SYN reached the member, which never answered "
            "(guest firewall, or no route back)",
            confidence_reason="the SYN was captured arriving at the member and nothing answered it",
        )
    return _unseen(f)


def _unseen(f: Facts) -> Verdict:
    reason = f"{f.requests} SYN(s) went out and nothing came back"
    if f.kind != ATTEMPT:
        return Verdict(
            Label.FILTERED,
            reason,
            Confidence.MEDIUM,
            "only the sender's side was captured",
            "cannot tell a filter on the way (NSG, firewall) from a receiver that silently "
            "dropped the SYN; a capture on the receiver would settle it",
        )
    if f.members_captured:
        return Verdict(
            Label.FILTERED,
            reason + ", and no capture on a pool member saw the translated SYN",
            Confidence.HIGH,
            "captures on pool members show the SYN never reached them",
        )
    alt = (
        "a member without the VIP (floating IP) silently dropping it"
        if f.floating_ip
        else "a member that silently dropped it"
    )
    where = ", ".join(f.other_members) if f.other_members else "the pool members"
    return Verdict(
        Label.FILTERED,
        reason + " and no translated copy was seen",
        Confidence.MEDIUM,
        "only the caller's side was captured",
        f"cannot tell a filter (NSG, firewall) from {alt}; a capture on the NIC of {where} "
        "would settle it",
    )


def _probe(f: Facts) -> Verdict:
    return Verdict(
        Label.FILTERED,
        "health-probe SYNs arrive and no SYN-ACK leaves on this interface",
        Confidence.MEDIUM,
        "only the interface the probe arrives on was captured",
        "cannot tell a dropped probe from an asymmetric reply leaving by another NIC; a "
        "capture on the VM's other interfaces (tcpdump -i any) would settle it",
    )
