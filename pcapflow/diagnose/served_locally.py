"""``ok``, served locally: the caller holds the VIP itself (floating IP with the VIP on lo, a
local route to the frontend) and its call never reached the balancer (S3)."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.served_locally_refused import BY_DESIGN
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label


def detect(f: Facts) -> Verdict | None:
    if f.kind != ATTEMPT or not f.served_locally or not f.caller_answered:
        return None
    return Verdict(
        Label.OK,
        "served locally over the loopback by the caller itself (it holds the VIP): the call "
        "never reached the load balancer, so it is not load-balanced and is answered even when "
        "the caller's own health probe fails" + (BY_DESIGN if f.frontend_local else ""),
        confidence_reason="the whole connection was captured on the caller's loopback and no "
        "translated leg was seen",
    )
