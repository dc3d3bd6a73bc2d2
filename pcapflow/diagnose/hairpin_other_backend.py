"""``hairpin_other_backend``: a pool member called its own frontend and it worked, only because
the balancer picked another member (S2); the same call fails when it picks the caller."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Confidence, Label


def detect(f: Facts) -> Verdict | None:
    if f.kind != ATTEMPT or not f.caller_answered or not f.caller_in_pool or f.self_call_works:
        return None
    seen = f.translated_seen and not f.self_mapped
    expect = (
        f"expect failures at about 1/{max(f.pool_size, 1)}"
        if f.pool_known
        else "expect failures at about 1/N, N members; the pool was not declared"
    )
    if f.picks:
        expect += f"; {f.picks}"
    return Verdict(
        Label.HAIRPIN_OTHER_BACKEND,
        "a member of the pool called its own frontend; it worked because the balancer "
        f"picked another member ({expect})",
        Confidence.HIGH if seen else Confidence.MEDIUM,
        "the translated leg was captured at the other member"
        if seen
        else "the handshake completed; the member that answered was not captured",
    )
