"""``ok``: the connection was answered (S2 from outside the pool, S3 served locally); for a
health probe, a direct call or a member leg, by its own outcome.

Answered flows that are not connection attempts keep no label: ICMP, and a TCP connection
outside a frontend call whose opening SYN was not captured (it began before the capture)."""

from __future__ import annotations

from pcapflow.diagnose.facts import ATTEMPT, PROBE_KIND, Facts
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Label

NOT_A_CONNECTION = "ICMP: not a connection attempt, not judged"
NO_OPENING = (
    "the opening SYN was not captured (the connection began before the capture): not a "
    "connection attempt seen, not judged"
)


def detect(f: Facts) -> Verdict | None:
    if not f.answered:
        return None
    if f.kind == ATTEMPT:
        return _frontend_answered(f)
    if f.proto not in ("tcp", "udp"):
        return Verdict(None, NOT_A_CONNECTION)
    if f.proto == "tcp" and not f.syn_seen:
        return Verdict(None, NO_OPENING)
    if f.kind == PROBE_KIND:
        return Verdict(Label.OK, "the member answered the health probe")
    return Verdict(Label.OK, "the responder answered")


def _frontend_answered(f: Facts) -> Verdict:
    if f.caller_in_pool and f.self_call_works:
        picked = "the caller itself" if f.self_mapped else "another member"
        return Verdict(
            Label.OK,
            f"a member called its own frontend and was answered ({picked} was picked); no "
            f"hairpin risk: {f.self_call_works}",
        )
    return Verdict(Label.OK, "the frontend answered the caller")
