"""``probe_asymmetric_route``: the probe came in on one NIC, the reply left by another (S7)."""

from __future__ import annotations

from pcapflow.diagnose.facts import PROBE_KIND, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Confidence, Label


def detect(f: Facts) -> Verdict | None:
    if f.kind != PROBE_KIND or not f.reply_unacked:
        return None
    if f.reply_iface_differs:
        return Verdict(
            Label.PROBE_ASYMMETRIC_ROUTE,
            "the probe's SYN arrived on one interface and the SYN-ACK left by another; "
            "the SYN-ACK is retransmitted and never acknowledged",
            confidence_reason="both the arriving SYN and the departing SYN-ACK were captured",
        )
    if f.reply_without_request:
        return Verdict(
            Label.PROBE_ASYMMETRIC_ROUTE,
            "SYN-ACKs to the probe source leave this interface although the probe's SYN "
            "never arrived on it; they are never acknowledged",
            Confidence.MEDIUM,
            "the SYN itself was not captured (it arrived on another interface)",
            "a capture on the VM's other interfaces (tcpdump -i any) would show where the "
            "probe arrives",
        )
    return None
