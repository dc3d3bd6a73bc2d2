"""``unknown``: the captures do not say enough; the verdict says what is missing.

Outside a frontend call, what is not a connection attempt keeps no label: ICMP, a TCP flow
whose opening SYN was not captured, and one-way UDP (no reply and no ICMP error)."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.ok import NO_OPENING, NOT_A_CONNECTION
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Confidence, Label

ONE_WAY_UDP = (
    "one-way UDP outside a frontend call: no reply and no ICMP error, and many UDP services "
    "send none (syslog, NetFlow); not judged"
)


def detect(f: Facts) -> Verdict | None:
    if f.answered:
        return None
    if f.kind != ATTEMPT and not (f.proto == "tcp" and f.syn_seen):
        reason = ONE_WAY_UDP if f.proto == "udp" else NO_OPENING if f.proto == "tcp" else ""
        return Verdict(None, reason or NOT_A_CONNECTION)
    if not f.syn_seen:
        missing = "the opening packet was not captured (the capture started mid-connection)"
    else:
        missing = (
            f"the capture ended {f.waited_s:.2f} s after the only request: too soon to tell a "
            "drop from a slow answer (capture for longer, or until the client gives up)"
        )
    return Verdict(Label.UNKNOWN, missing, Confidence.LOW, missing)
