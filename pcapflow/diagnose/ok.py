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
    return Verdict(Label.OK, "the frontend answered the caller")
