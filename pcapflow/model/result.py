"""The result of one analysis: reconciled pairs, labelled flows, findings and remediations.

This is the single object every presentation (text, JSON, Markdown, HTML, CSV, web, batch)
renders.  Its JSON form is the versioned output schema (``SCHEMA_VERSION``), documented in
``docs/output-schema.md`` and shipped as ``pcapflow/report/schema/result.schema.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from pcapflow.model.capture import CaptureInfo
from pcapflow.model.flow import Flow

SCHEMA_VERSION = "1.1"


class Label(StrEnum):
    """Exactly one per TCP connection and UDP flow, by its own outcome (see ``FlowKind`` for
    what kind of call it was); none only for what is not a connection attempt."""

    OK = "ok"
    HAIRPIN_OTHER_BACKEND = "hairpin_other_backend"
    HAIRPIN_SELF = "hairpin_self"
    FLOATING_IP_GUEST_UNCONFIGURED = "floating_ip_guest_unconfigured"
    REFUSED = "refused"
    FILTERED = "filtered"
    PROBE_ASYMMETRIC_ROUTE = "probe_asymmetric_route"
    IDLE_TIMEOUT = "idle_timeout"
    SERVED_LOCALLY_REFUSED = "served_locally_refused"
    UNKNOWN = "unknown"

    @property
    def is_failure(self) -> bool:
        return self not in (Label.OK, Label.HAIRPIN_OTHER_BACKEND)


class FlowKind(StrEnum):
    """What part a connection plays, as its own field beside the label (the same for every leg
    of one connection).  Summaries count by kind, frontend calls first (this order)."""

    FRONTEND_CALL = "frontend_call"  # a call to a frontend (VIP:port of a rule), every leg of it
    MEMBER_LEG = "member_leg"  # caller -> member:backend port; the caller's side not captured
    HEALTH_PROBE = "health_probe"  # the balancer's probe source to a member
    DIRECT_CALL = "direct_call"  # a client or a member calling a member's own address
    OTHER = "other"  # anything else (traffic to other hosts, ICMP)


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One packet that proves a finding: capture file, frame number and a one-line summary."""

    file: str
    frame: int
    ts: float
    summary: str
    role: str = ""  # e.g. "outbound SYN to VIP", "DNAT'd SYN back to self"


@dataclass(frozen=True, slots=True)
class Leg:
    """A reconciled pair: the legs of one connection on either side of the load balancer."""

    outbound_flow: str  # flow id of the caller's leg (caller -> VIP:fp)
    inbound_flows: tuple[str, ...]  # flow ids of the translated legs (caller -> member:bp ...)
    rule: str | None  # "lb/rule" that explains the rewrite; None = undeclared translation
    member: str | None  # member address the balancer chose, when seen
    matched_on: tuple[str, ...]  # invariants that matched: "sport", "isn", "ip_id", "tsval", ...
    delta_s: float  # time from outbound leg to translated leg (after clock offset correction)


@dataclass(frozen=True, slots=True)
class FlowResult:
    """A flow with its diagnosis.  ``id`` is stable: ``<file_idx>:<uid>``."""

    id: str
    flow: Flow
    capture: str  # capture file path as given
    label: Label | None  # None only for what is not a connection attempt (ICMP, ...)
    paired_with: tuple[str, ...] = ()  # ids of the other legs of the same connection
    role: str = ""  # the leg: "outbound", "copy", "translated", "probe", "direct", ""
    frontend: str | None = None  # "VIP:port" when the flow is an attempt to a frontend
    rule: str | None = None  # "lb/rule" (a member leg: the rule whose backend port it matches)
    reason: str = ""  # one line: why this label
    kind: FlowKind = FlowKind.OTHER  # the connection's part: frontend call, member leg, ...
    note: str = ""  # what the reader needs besides the label (a member leg: caller not captured)


@dataclass(frozen=True, slots=True)
class Remediation:
    """One way to fix a finding, from the catalogue, rendered for this config and OS."""

    id: str
    title: str
    summary: str
    applies_because: str
    commands: tuple[str, ...] = ()
    tradeoffs: tuple[str, ...] = ()
    rank: int = 0
    files: tuple[tuple[str, str], ...] = ()  # (file name, content), e.g. a generated nginx.conf
    os: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """Flows grouped by cause and by (caller, frontend, rule), with the evidence and the fix."""

    id: str  # stable: "F1", "F2", ... in output order
    label: Label
    title: str
    explanation: str
    caller: str | None
    frontend: str | None  # "VIP:port"
    rule: str | None
    flow_ids: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    count: int
    first_ts: float
    last_ts: float
    attempts: int = 0  # attempts from this caller to this frontend (denominator)
    expected_rate: float | None = None  # 1/N for hairpin with N members
    observed_rate: float | None = None
    p_value: float | None = None  # two-sided binomial test of observed vs expected
    confidence: Confidence = Confidence.MEDIUM
    confidence_reason: str = ""
    ambiguity: str | None = None  # "cannot tell X from Y; a capture on Z would settle it"
    remediations: tuple[Remediation, ...] = ()
    kind: FlowKind = FlowKind.FRONTEND_CALL  # of its connections; else ``frontend`` is a target


@dataclass(frozen=True, slots=True)
class CaptureSummary:
    info: CaptureInfo
    capture_point: str | None = None  # e.g. "web01 eth0", inferred or given
    clock_offset_s: float = 0.0  # to add to this file's timestamps to align with the first file
    clock_offset_basis: int = 0  # number of matched packets the offset was estimated from


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    schema_version: str
    captures: tuple[CaptureSummary, ...]
    flows: Sequence[FlowResult]  # a tuple, or a lazy sequence (pcapflow.flows.table)
    legs: tuple[Leg, ...]
    findings: tuple[Finding, ...]
    lb_sources: tuple[str, ...] = ()
    os: str | None = None
    suggested_config: str | None = None  # pcapflow YAML, when no config was given
    notes: tuple[str, ...] = field(default=())

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.label.is_failure)

    @property
    def verdict(self) -> str:
        labels = {f.label for f in self.failures}
        if not labels:
            return "healthy"
        if Label.HAIRPIN_SELF in labels:
            return "hairpin failure"
        return "failures found"

    def with_capture_names(self, name: Callable[[str], str]) -> AnalysisResult:
        """The same result with every capture path ``p`` shown as ``name(p)``: in the captures,
        the flows (also those kept in tables) and the evidence."""
        renamed: Callable[[Callable[[str], str]], Sequence[FlowResult]] | None = getattr(
            self.flows, "renamed", None
        )
        flows = (
            renamed(name)
            if renamed is not None
            else tuple(replace(f, capture=name(f.capture)) for f in self.flows)
        )
        return replace(
            self,
            captures=tuple(
                replace(c, info=replace(c.info, path=name(c.info.path))) for c in self.captures
            ),
            flows=flows,
            findings=tuple(
                replace(f, evidence=tuple(replace(e, file=name(e.file)) for e in f.evidence))
                for f in self.findings
            ),
        )
