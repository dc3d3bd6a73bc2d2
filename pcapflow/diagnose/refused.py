"""``refused``: the member answered the SYN with a RST (no listener on the port) (S5)."""

from __future__ import annotations

from pcapflow.diagnose.facts import Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label


def detect(f: Facts) -> Verdict | None:
    if f.caller_answered or not (f.caller_refused or f.member_refused):
        return None
    side = "the caller received" if f.caller_refused else "the member sent"
    return Verdict(
        Label.REFUSED,
        f"{side} a RST in answer to the SYN: nothing listens on the backend port",
        confidence_reason="a RST answering the SYN (ack = ISN + 1) was captured",
    )
