"""``served_locally_refused``: the caller holds the frontend address itself (a local route or a
loopback address: Google Cloud's guest environment installs every forwarding rule's address on
its backends), so its call was answered by its own stack, where nothing listens."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label

BY_DESIGN = (
    "; by design of the platform: the guest environment installs the frontend's (forwarding "
    "rule's) address as a local route on every backend, so a backend's call to it is never "
    "load-balanced and always lands on the caller"
)


def detect(f: Facts) -> Verdict | None:
    if f.kind != ATTEMPT or not f.served_locally or not f.caller_refused or f.caller_answered:
        return None
    reason = (
        "served locally: the caller holds the frontend address itself, so its call never "
        "reached the load balancer and its own stack refused it (nothing listens on the port "
        "on the caller), whatever the health of the other members"
    )
    return Verdict(
        Label.SERVED_LOCALLY_REFUSED,
        reason + (BY_DESIGN if f.frontend_local else ""),
        confidence_reason="the whole connection, with its reset, was captured on the caller's "
        "loopback and no translated leg was seen",
    )
