"""Group labelled connections into findings: by cause and by (caller, frontend, rule).

Every failure makes a finding, whatever its kind (frontend call, member leg, health probe,
direct call, other); what worked makes one only for frontend calls (a probe or a direct call that
worked needs no finding: its label in the flow table says it).

Order (deterministic, ids F1, F2, ... follow it): failures first, those of calls to a frontend
before those of other kinds, each by label in :data:`LABEL_ORDER`, then caller, frontend and
rule; non-failures last in the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from pcapflow.diagnose.evidence import connection_evidence, extra_evidence
from pcapflow.diagnose.facts import Facts
from pcapflow.diagnose.kind import Kinded
from pcapflow.diagnose.stats import RateCheck, check_rate, unknown_pool_rate
from pcapflow.diagnose.verdict import Verdict
from pcapflow.model.result import Confidence, Evidence, Finding, FlowKind, Label
from pcapflow.reconcile.connection import Connection

LABEL_ORDER: tuple[Label, ...] = (
    Label.HAIRPIN_SELF,
    Label.FLOATING_IP_GUEST_UNCONFIGURED,
    Label.REFUSED,
    Label.FILTERED,
    Label.PROBE_ASYMMETRIC_ROUTE,
    Label.IDLE_TIMEOUT,
    Label.SERVED_LOCALLY_REFUSED,
    Label.UNKNOWN,
    Label.HAIRPIN_OTHER_BACKEND,
    Label.OK,
)
HAIRPIN_LABELS = frozenset({Label.HAIRPIN_SELF, Label.HAIRPIN_OTHER_BACKEND})
MAX_EVIDENCE = 60  # evidence packets kept per finding (every flow id is listed regardless)
CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}

GroupKey = tuple[Label, str, str, str]
FRONTEND_CALL = Kinded(FlowKind.FRONTEND_CALL)


@dataclass(frozen=True, slots=True)
class Decided:
    """One connection with its verdict: the unit findings are made of."""

    conn: Connection
    facts: Facts
    verdict: Verdict
    flow_id: str
    caller: str
    frontend: str | None
    rule: str | None
    kinded: Kinded = FRONTEND_CALL


@cache
def label_texts() -> dict[str, dict[str, str]]:
    text = resources.files("pcapflow.diagnose").joinpath("labels.yaml").read_text()
    data: dict[str, dict[str, str]] = yaml.safe_load(text)
    return data


def build_findings(decided: Sequence[Decided], paths: Mapping[int, str]) -> tuple[Finding, ...]:
    groups: dict[GroupKey, list[Decided]] = defaultdict(list)
    attempts: dict[tuple[str, str, str], list[Decided]] = defaultdict(list)
    for d in decided:
        if d.verdict.label is None or not (d.verdict.label.is_failure or d.conn.is_attempt):
            continue
        groups[(d.verdict.label, d.caller, d.frontend or "", d.rule or "")].append(d)
        if d.frontend is not None:
            attempts[(d.caller, d.frontend, d.rule or "")].append(d)
    keys = sorted(groups, key=lambda key: _order(key, groups[key][0].kinded.kind))
    return tuple(
        _finding(f"F{i}", key, groups[key], attempts.get(key[1:], []), paths)
        for i, key in enumerate(keys, start=1)
    )


def _order(key: GroupKey, kind: FlowKind) -> tuple[bool, bool, int, str, str, str]:
    label = key[0]
    other = kind is not FlowKind.FRONTEND_CALL
    return (not label.is_failure, other, LABEL_ORDER.index(label), key[1], key[2], key[3])


def _finding(
    fid: str,
    key: GroupKey,
    members: list[Decided],
    pair_attempts: list[Decided],
    paths: Mapping[int, str],
) -> Finding:
    label, caller, frontend, rule = key
    first = members[0]
    rate = _rate(label, first, pair_attempts)
    confidence, reason = _confidence(members, rate)
    texts = label_texts()[label.value]
    title = texts["title"].format(
        caller=caller, frontend=frontend or "-", rule=rule or "-", count=len(members)
    )
    return Finding(
        id=fid,
        label=label,
        title=title,
        explanation=texts["explanation"],
        caller=caller,
        frontend=frontend or None,
        rule=rule or None,
        flow_ids=tuple(d.flow_id for d in members),
        evidence=_evidence(members, paths),
        count=len(members),
        first_ts=min(d.conn.representative.flow.ts for d in members),
        last_ts=max(d.conn.representative.flow.last_ts for d in members),
        attempts=len(pair_attempts),
        expected_rate=rate.expected_rate if rate else None,
        observed_rate=rate.observed_rate if rate else None,
        p_value=rate.p_value if rate else None,
        confidence=confidence,
        confidence_reason=reason,
        ambiguity=next((d.verdict.ambiguity for d in members if d.verdict.ambiguity), None)
        or next((d.kinded.note for d in members if d.kinded.note), None),
        kind=first.kinded.kind,
    )


def _rate(label: Label, first: Decided, pair_attempts: list[Decided]) -> RateCheck | None:
    """Failure rate of this caller -> frontend against 1/N, for the hairpin labels."""
    if label not in HAIRPIN_LABELS or not pair_attempts:
        return None
    failures = sum(1 for d in pair_attempts if d.verdict.label is Label.HAIRPIN_SELF)
    if not first.facts.pool_known:
        return unknown_pool_rate(failures, len(pair_attempts))
    return check_rate(failures, len(pair_attempts), first.facts.pool_size, first.facts.distribution)


def _confidence(members: list[Decided], rate: RateCheck | None) -> tuple[Confidence, str]:
    weakest = min(members, key=lambda d: CONFIDENCE_RANK[d.verdict.confidence])
    confidence = weakest.verdict.confidence
    reason = weakest.verdict.confidence_reason or weakest.verdict.reason
    if rate is None or rate.observed_rate is None:
        return confidence, reason
    if rate.consistent is None:
        return confidence, f"{reason}; {rate.reason}"
    if not rate.consistent and confidence is Confidence.HIGH:
        confidence = Confidence.MEDIUM
        reason += (
            f"; but {rate.reason}: fewer healthy members than declared (probes), "
            "or a distribution other than the declared one"
        )
    else:
        reason += f"; {rate.reason}"
    return confidence, reason


def _evidence(members: list[Decided], paths: Mapping[int, str]) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    for d in members:
        out.extend(connection_evidence(d.conn, paths, extra_evidence(d.facts, d.verdict.label)))
        if len(out) >= MAX_EVIDENCE:
            break
    return tuple(out[:MAX_EVIDENCE])
