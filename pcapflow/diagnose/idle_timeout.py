"""``idle_timeout``: an established flow died after a silence longer than the rule's idle
timeout (S9)."""

from __future__ import annotations

from pcapflow.diagnose.facts import Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label

TOLERANCE = 0.95  # a gap of 95 % of the idle timeout counts (clock and capture granularity)


def detect(f: Facts) -> Verdict | None:
    if f.proto != "tcp" or not f.caller_answered or not f.dies_after_gap:
        return None
    if f.idle_gap_s < f.idle_limit_s * TOLERANCE:
        return None
    end = "both ends got a RST" if f.tcp_reset else "data after it was never acknowledged"
    return Verdict(
        Label.IDLE_TIMEOUT,
        f"the connection was idle {f.idle_gap_s:.0f} s, longer than the idle timeout "
        f"({f.idle_limit_s / 60:.0f} min); {end}",
        confidence_reason="the silence and the failure right after it are both in the capture",
    )
