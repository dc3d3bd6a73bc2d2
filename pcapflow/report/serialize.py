"""The JSON form of an :class:`AnalysisResult` (versioned: ``schema_version``).

Field lists are data: adding a field to the output is one line here, one in
``schema/result.schema.json`` and one in ``docs/output-schema.md``.  Non-finite floats become
``null`` so the output is strict JSON.
"""

from __future__ import annotations

import math
from typing import Any

from pcapflow.model.capture import Interface
from pcapflow.model.result import (
    AnalysisResult,
    CaptureSummary,
    Evidence,
    Finding,
    FlowResult,
    Leg,
    Remediation,
)
from pcapflow.report.facts import summarize, tool_version

# Flow fields copied as they are (Zeek conn.log names without the "id." prefix, then pcapflow's).
FLOW_FIELDS: tuple[str, ...] = (
    "uid", "ts", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "duration",
    "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history",
    "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
    "file_idx", "first_frame", "last_frame", "ifaces", "isn", "resp_isn", "syn_ip_id",
    "syn_ttl", "syn_tsval", "syn_retransmits", "duplicates", "last_ts", "packets_truncated",
)  # fmt: skip
FLOW_RESULT_FIELDS: tuple[str, ...] = (
    "capture",
    "role",
    "kind",
    "frontend",
    "rule",
    "reason",
    "note",
)
LEG_FIELDS: tuple[str, ...] = (
    "outbound_flow", "inbound_flows", "rule", "member", "matched_on", "delta_s",
)  # fmt: skip
EVIDENCE_FIELDS: tuple[str, ...] = ("file", "frame", "ts", "summary", "role")
FINDING_FIELDS: tuple[str, ...] = (
    "id", "label", "title", "explanation", "caller", "frontend", "rule", "flow_ids", "count",
    "first_ts", "last_ts", "attempts", "expected_rate", "observed_rate", "p_value",
    "confidence", "confidence_reason", "ambiguity", "kind",
)  # fmt: skip
REMEDIATION_FIELDS: tuple[str, ...] = (
    "id", "rank", "title", "summary", "applies_because", "commands", "tradeoffs", "os",
)  # fmt: skip
INTERFACE_FIELDS: tuple[str, ...] = ("index", "link_type", "name", "snaplen", "ts_resolution_ns")
CAPTURE_INFO_FIELDS: tuple[str, ...] = (
    "file_idx", "path", "format", "frames", "decoded", "duplicates", "first_ts_ns",
    "last_ts_ns", "warnings", "sha256",
)  # fmt: skip


def plain(value: Any) -> Any:
    """A JSON-ready copy: tuples become lists, enums their value, NaN/inf null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)  # StrEnum -> its value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def pick(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: plain(getattr(obj, name)) for name in names}


def flow_dict(fr: FlowResult) -> dict[str, Any]:
    out = {"id": fr.id, **pick(fr.flow, FLOW_FIELDS)}
    out["label"] = plain(fr.label) if fr.label is not None else None
    out["paired_with"] = list(fr.paired_with)
    out.update(pick(fr, FLOW_RESULT_FIELDS))
    return out


def leg_dict(leg: Leg) -> dict[str, Any]:
    return pick(leg, LEG_FIELDS)


def evidence_dict(ev: Evidence) -> dict[str, Any]:
    return pick(ev, EVIDENCE_FIELDS)


def remediation_dict(rem: Remediation) -> dict[str, Any]:
    out = pick(rem, REMEDIATION_FIELDS)
    out["files"] = [{"name": name, "content": content} for name, content in rem.files]
    return out


def finding_dict(finding: Finding) -> dict[str, Any]:
    out = pick(finding, FINDING_FIELDS)
    out["evidence"] = [evidence_dict(e) for e in finding.evidence]
    out["remediations"] = [remediation_dict(r) for r in finding.remediations]
    return out


def interface_dict(iface: Interface) -> dict[str, Any]:
    return pick(iface, INTERFACE_FIELDS)


def capture_dict(cap: CaptureSummary) -> dict[str, Any]:
    out = pick(cap.info, CAPTURE_INFO_FIELDS)
    out["interfaces"] = [interface_dict(i) for i in cap.info.interfaces]
    out["capture_point"] = cap.capture_point
    out["clock_offset_s"] = plain(cap.clock_offset_s)
    out["clock_offset_basis"] = cap.clock_offset_basis
    return out


def summary_dict(result: AnalysisResult) -> dict[str, Any]:
    summary = summarize(result)
    return {
        "verdict": summary.verdict,
        "counts": {label.value: n for label, n in summary.counts},
        "connections": summary.connections,
        "failed": summary.failed,
        "flows": summary.flows,
        "by_kind": {
            k.kind.value: {label.value: n for label, n in k.counts} for k in summary.by_kind
        },
    }


def to_dict(result: AnalysisResult) -> dict[str, Any]:
    """The JSON form of ``result`` (see ``docs/output-schema.md``)."""
    return {
        "schema_version": result.schema_version,
        "generator": {"name": "pcapflow", "version": tool_version()},
        "summary": summary_dict(result),
        "captures": [capture_dict(c) for c in result.captures],
        "flows": [flow_dict(f) for f in result.flows],
        "legs": [leg_dict(leg) for leg in result.legs],
        "findings": [finding_dict(f) for f in result.findings],
        "lb_sources": list(result.lb_sources),
        "os": result.os,
        "suggested_config": result.suggested_config,
        "notes": list(result.notes),
    }
