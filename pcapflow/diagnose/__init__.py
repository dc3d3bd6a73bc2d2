"""Diagnosis: one label per TCP connection and UDP flow by its own outcome, its kind (frontend
call, member leg, health probe, direct call, other), and the evidence that proves it, grouped
into findings (failures of every kind; what worked, for frontend calls only).

One small module per label (``hairpin_self.py``, ``refused.py`` ...), asked in the order of
:data:`pcapflow.diagnose.registry.DETECTORS`; facts (:mod:`.facts`) are kept apart from the
judgements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pcapflow.diagnose.facts import Facts, facts_for
from pcapflow.diagnose.findings import Decided, build_findings
from pcapflow.diagnose.kind import BackendPorts, Kinded, classify
from pcapflow.diagnose.registry import DETECTORS, decide
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.lb import LbConfig
from pcapflow.model.packet import PacketRef
from pcapflow.model.result import Finding, FlowResult
from pcapflow.reconcile.connection import Connection
from pcapflow.reconcile.lbindex import LbIndex

__all__ = [
    "DETECTORS",
    "Decided",
    "Facts",
    "Kinded",
    "Verdict",
    "classify",
    "decide",
    "diagnose",
    "facts_for",
]


def diagnose(
    conns: Sequence[Connection],
    lb: LbConfig,
    *,
    paths: Mapping[int, str],
    capture_end: Mapping[int, float],
    captured_members: frozenset[str],
    loopback: frozenset[tuple[int, int]] = frozenset(),
    unreachable: Mapping[str, tuple[PacketRef, ...]] | None = None,
    captured_hosts: frozenset[str] = frozenset(),
) -> tuple[tuple[FlowResult, ...], tuple[Finding, ...]]:
    """Label every connection; return one :class:`FlowResult` per flow and the findings.

    ``loopback``: the (file index, interface) pairs captured on a host's loopback;
    ``unreachable``: ICMP port unreachable errors answering UDP flows, by flow id;
    ``captured_hosts``: the addresses local to some capture (a call from one of them to a
    member's address is a direct call, not a member leg whose caller was not captured)."""
    index = LbIndex(lb)
    seen = _Seen(captured_members, loopback, unreachable or {}, captured_hosts, BackendPorts(lb))
    decided = [_decide(c, index, capture_end, seen) for c in conns]
    results = [r for d in decided for r in _flow_results(d, paths)]
    results.sort(key=lambda r: (r.flow.file_idx, r.flow.ts, r.flow.uid))
    return tuple(results), build_findings(decided, paths)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the captures show beyond each connection's own flows."""

    captured_members: frozenset[str]
    loopback: frozenset[tuple[int, int]]
    unreachable: Mapping[str, tuple[PacketRef, ...]]
    captured_hosts: frozenset[str]
    backends: BackendPorts


def _decide(
    conn: Connection,
    lb: LbIndex,
    capture_end: Mapping[int, float],
    seen: _Seen,
) -> Decided:
    facts = facts_for(
        conn,
        lb,
        capture_end=dict(capture_end),
        captured_members=seen.captured_members,
        loopback=seen.loopback,
        unreachable=seen.unreachable,
    )
    rep = conn.representative
    frontend = f"{_host(conn.frontend[0])}:{conn.frontend[1]}" if conn.frontend else None
    if not conn.is_attempt:  # probes and direct flows: grouped by the address they target
        frontend = f"{_host(rep.flow.resp_h)}:{rep.flow.resp_p}"
    kinded = classify(conn, lb, seen.captured_hosts, seen.backends)
    return Decided(
        conn=conn,
        facts=facts,
        verdict=decide(facts),
        flow_id=rep.id,
        caller=rep.flow.orig_h,
        frontend=frontend,
        rule=conn.rule_name or kinded.rule,
        kinded=kinded,
    )


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _flow_results(d: Decided, paths: Mapping[int, str]) -> list[FlowResult]:
    ids = [leg.id for leg in d.conn.legs]
    return [
        FlowResult(
            id=leg.id,
            flow=leg.flow,
            capture=paths.get(leg.flow.file_idx, str(leg.flow.file_idx)),
            label=d.verdict.label,
            paired_with=tuple(i for i in ids if i != leg.id),
            role=leg.role,
            frontend=d.frontend if d.conn.is_attempt else None,
            rule=d.rule,
            reason=d.verdict.reason,
            kind=d.kinded.kind,
            note=d.kinded.note,
        )
        for leg in d.conn.legs
    ]
