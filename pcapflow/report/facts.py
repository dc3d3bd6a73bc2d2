"""Facts every renderer shows, derived once from an :class:`AnalysisResult` (no formatting here).

Counting rule: one count per *connection*, not per flow.  The legs of one connection (a flow and
the flows in its ``paired_with``) count once, under the label of the leg that is the attempt to a
frontend (or the first labelled leg).  Summaries count by kind (``FlowKind``), frontend calls
first, so health probes and direct calls that worked do not blur the frontend story.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pcapflow.model.result import (
    AnalysisResult,
    Finding,
    FlowKind,
    FlowResult,
    Label,
    Remediation,
)

LABEL_ORDER: tuple[Label, ...] = tuple(Label)
KIND_ORDER: tuple[FlowKind, ...] = tuple(FlowKind)

# Plain words for each kind of connection, as a heading over its counts.
KIND_WORDS: dict[FlowKind, str] = {
    FlowKind.FRONTEND_CALL: "calls to a load-balancer frontend",
    FlowKind.MEMBER_LEG: "member legs (the caller's side was not captured)",
    FlowKind.HEALTH_PROBE: "health probes",
    FlowKind.DIRECT_CALL: "direct calls to a member's own address",
    FlowKind.OTHER: "other connections",
}

# Plain words for each label, for readers who do not know the vocabulary.
LABEL_WORDS: dict[Label, str] = {
    Label.OK: "worked",
    Label.HAIRPIN_OTHER_BACKEND: "worked (balancer chose another member)",
    Label.HAIRPIN_SELF: "failed: sent back to the caller itself",
    Label.FLOATING_IP_GUEST_UNCONFIGURED: "failed: Floating IP on, VIP not configured in the guest",
    Label.REFUSED: "failed: refused (RST)",
    Label.FILTERED: "failed: no answer (filtered)",
    Label.PROBE_ASYMMETRIC_ROUTE: "failed: health-probe reply took another route",
    Label.IDLE_TIMEOUT: "failed: idle connection dropped by the balancer",
    Label.SERVED_LOCALLY_REFUSED: "failed: served locally by the caller, nothing listens",
    Label.UNKNOWN: "failed: cause not identified",
}

VERDICT_WORDS: dict[str, str] = {
    "healthy": "No failed connection to a load-balancer frontend was found.",
    "hairpin failure": "Some connections fail because the load balancer sends them back to "
    "the machine that made them (hairpin).",
    "failures found": "Some connections to the load balancer fail.",
    "no traffic": "The capture holds no TCP, UDP or ICMP flow: check the capture filter, the "
    "interface and the time window.",
}
NO_TRAFFIC = "no traffic"


@dataclass(frozen=True, slots=True)
class Summary:
    verdict: str
    verdict_words: str
    counts: tuple[tuple[Label, int], ...]  # labels with a non-zero count, in Label order
    connections: int  # labelled connections
    failed: int
    flows: int
    warnings: tuple[str, ...]  # "<capture>: <problem>" for captures read only in part, etc.
    by_kind: tuple[KindCounts, ...] = ()  # kinds with a labelled connection, in FlowKind order

    def of_kind(self, kind: FlowKind) -> KindCounts:
        return next((k for k in self.by_kind if k.kind is kind), KindCounts(kind, ()))


@dataclass(frozen=True, slots=True)
class KindCounts:
    """The labelled connections of one kind, per label (non-zero, in Label order)."""

    kind: FlowKind
    counts: tuple[tuple[Label, int], ...]

    @property
    def connections(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def failed(self) -> int:
        return sum(n for label, n in self.counts if label.is_failure)

    @property
    def words(self) -> str:
        return KIND_WORDS[self.kind]


def tool_version() -> str:
    """pcapflow's version, read when called (``pcapflow/__init__`` imports this package)."""
    import pcapflow

    return str(pcapflow.__version__)


def connection_heads(flows: Iterable[FlowResult]) -> list[FlowResult]:
    """One labelled flow per connection, in input order (attempt legs preferred)."""
    flows = list(flows)
    by_id = {f.id: f for f in flows}
    seen: set[str] = set()
    heads: list[FlowResult] = []
    for flow in sorted(flows, key=_head_priority):
        if flow.label is None or flow.id in seen:
            continue
        group = {flow.id, *flow.paired_with}
        group |= {p for g in list(group) if g in by_id for p in by_id[g].paired_with}
        seen |= group
        heads.append(flow)
    order = {f.id: i for i, f in enumerate(flows)}
    return sorted(heads, key=lambda f: order[f.id])


def _head_priority(flow: FlowResult) -> tuple[int, float, str]:
    return (0 if flow.frontend is not None else 1, flow.flow.ts, flow.id)


def label_counts(flows: Iterable[FlowResult]) -> tuple[tuple[Label, int], ...]:
    counts = dict.fromkeys(LABEL_ORDER, 0)
    for head in connection_heads(flows):
        assert head.label is not None
        counts[head.label] += 1
    return tuple((label, n) for label, n in counts.items() if n)


def kind_counts(flows: Iterable[FlowResult]) -> tuple[KindCounts, ...]:
    """Labelled connections per kind and label, kinds in :data:`KIND_ORDER`."""
    table = {kind: dict.fromkeys(LABEL_ORDER, 0) for kind in KIND_ORDER}
    for head in connection_heads(flows):
        assert head.label is not None
        table[head.kind][head.label] += 1
    found = (
        KindCounts(kind, tuple((label, n) for label, n in per.items() if n))
        for kind, per in table.items()
    )
    return tuple(k for k in found if k.counts)


def total_and_failed(counts: dict[str, int]) -> tuple[int, int]:
    """(connections, failed) from label name -> count (a batch row's counts of one kind)."""
    return sum(counts.values()), sum(n for lbl, n in counts.items() if Label(lbl).is_failure)


def summarize(result: AnalysisResult) -> Summary:
    counts = label_counts(result.flows)
    verdict = NO_TRAFFIC if not result.flows and not result.findings else result.verdict
    return Summary(
        verdict=verdict,
        verdict_words=VERDICT_WORDS.get(verdict, verdict),
        counts=counts,
        connections=sum(n for _, n in counts),
        failed=sum(n for label, n in counts if label.is_failure),
        flows=len(result.flows),
        warnings=capture_warnings(result),
        by_kind=kind_counts(result.flows),
    )


def capture_warnings(result: AnalysisResult) -> tuple[str, ...]:
    """Problems met reading the captures, each prefixed with its capture's path."""
    return tuple(f"{c.info.path}: {w}" for c in result.captures for w in c.info.warnings)


def flow_index(result: AnalysisResult) -> dict[str, FlowResult]:
    return {f.id: f for f in result.flows}


def rate_text(finding: Finding, *, p_value: bool = True) -> str:
    """``"3 of 8 attempts failed (38%); expected about 50% (1 in 2), p = 0.73"``.

    For a finding of connections that worked (``ok``, ``hairpin_other_backend``) it says how many
    of the attempts worked that way, not the frontend's failure rate."""
    if not finding.label.is_failure:
        words = LABEL_WORDS[finding.label]
        if not finding.attempts:
            return f"{finding.count} connection(s) {words}"
        share = finding.count / finding.attempts
        return f"{finding.count} of {finding.attempts} attempts {words} ({share:.0%})"
    parts: list[str] = []
    if finding.attempts:
        observed = finding.observed_rate
        pct = f" ({observed:.0%})" if observed is not None else ""
        parts.append(f"{finding.count} of {finding.attempts} attempts failed{pct}")
    else:
        parts.append(f"{finding.count} failed connection(s)")
    if finding.expected_rate:
        one_in = round(1 / finding.expected_rate)
        parts.append(f"expected about {finding.expected_rate:.0%} (1 in {one_in})")
    if p_value and finding.p_value is not None:
        parts.append(f"p = {finding.p_value:.2g}")
    return "; ".join(parts)


def label_phrase(label: Label) -> str:
    """``"sent back to the caller itself"``: the label's words without the verdict prefix."""
    return LABEL_WORDS[label].removeprefix("failed: ")


def lb_and_rule(finding: Finding) -> tuple[str | None, str | None]:
    """``"lb/rule"`` split into (load balancer, rule)."""
    if not finding.rule:
        return None, None
    lb, _, rule = finding.rule.partition("/")
    return (lb, rule) if rule else (None, lb)


def ranked(finding: Finding) -> list[tuple[int, Remediation]]:
    """Remediations best first (rank, then catalogue order), numbered from 1."""
    order = sorted(enumerate(finding.remediations), key=lambda ir: (ir[1].rank or 1_000, ir[0]))
    return [(n, r) for n, (_, r) in enumerate(order, start=1)]
