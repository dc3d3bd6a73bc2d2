"""``ok``: the connection was answered (S2 from outside the pool, S3 served locally)."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label


def detect(f: Facts) -> Verdict | None:
    if not f.answered:
        return None
    if f.kind != ATTEMPT:
        return Verdict(None, "answered")
    if f.caller_in_pool and f.self_call_works:
        picked = "the caller itself" if f.self_mapped else "another member"
        return Verdict(
            Label.OK,
            f"a member called its own frontend and was answered ({picked} was picked); no "
            f"hairpin risk: {f.self_call_works}",
        )
    return Verdict(Label.OK, "the frontend answered the caller")
