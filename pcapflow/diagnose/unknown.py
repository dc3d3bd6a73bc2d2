"""``unknown``: the captures do not say enough; the verdict says what is missing."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Confidence, Label


def detect(f: Facts) -> Verdict | None:
    if f.answered:
        return None
    if f.kind != ATTEMPT and not (f.proto == "tcp" and f.syn_seen):
        return Verdict(None, "no handshake to judge")
    if not f.syn_seen:
        missing = "the opening packet was not captured (the capture started mid-connection)"
    else:
        missing = (
            f"the capture ended {f.waited_s:.2f} s after the only request: too soon to tell a "
            "drop from a slow answer (capture for longer, or until the client gives up)"
        )
    return Verdict(Label.UNKNOWN, missing, Confidence.LOW, missing)
