"""``refused``: nothing listens on the backend port (S5): the member answered the SYN with a RST,
or a UDP datagram with ICMP port unreachable."""

from __future__ import annotations

from pcapflow.diagnose.facts import Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label


def detect(f: Facts) -> Verdict | None:
    if f.caller_answered or not (f.caller_refused or f.member_refused):
        return None
    side = "the caller received" if f.caller_refused else "the member sent"
    if f.proto == "udp":
        return Verdict(
            Label.REFUSED,
            f"{side} an ICMP port unreachable in answer to the datagram: nothing listens on "
            "the backend port",
            confidence_reason="an ICMP port unreachable from the target to the caller was "
            "captured right after the datagram (matched by addresses and time: the quoted "
            "header is not kept)",
        )
    return Verdict(
        Label.REFUSED,
        f"{side} a RST in answer to the SYN: nothing listens on the backend port",
        confidence_reason="a RST answering the SYN (ack = ISN + 1) was captured",
    )
