"""`pcapflow probe`: reproduce a hairpin on the spot and diagnose it.

Imperative shell: :func:`run_probe` captures, makes the attempts, stops the capture and calls the
engine.  Functional core: :func:`summarize` joins the attempts with the analysis and decides
what to say (how many failed, whether they carry the hairpin signature, whether the rate fits 1/N).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pcapflow.live.attempts import Attempt, bind_ports, port_block, run_attempts
from pcapflow.live.capture import (
    CaptureSession,
    CaptureTool,
    find_capture_tool,
    probe_filter,
    route_interfaces,
)
from pcapflow.live.hostos import HostOs, host_os
from pcapflow.live.target import Target
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, Finding, FlowResult, Label, Remediation

GRACE_S = 0.5  # after the last attempt, for late packets to reach the capture
RATE_ALPHA = 0.05  # below this p-value the failure rate does not fit 1/N


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    target: Target
    count: int = 12
    timeout_s: float = 3.0
    ifaces: tuple[str, ...] = ()  # () = the route's interface to the VIP, plus lo
    keep: Path | None = None
    lb: LbConfig | None = None
    tool: str | None = None  # "dumpcap" | "tcpdump"; None = whichever is installed


@dataclass(frozen=True, slots=True)
class AttemptView:
    """An attempt joined with what the analysis made of it."""

    attempt: Attempt
    flow_id: str | None
    label: Label | None
    member: str | None  # member the balancer chose, when the capture shows it

    @property
    def failed(self) -> bool:
        return not self.attempt.ok

    def to_dict(self) -> dict[str, object]:
        label = self.label.value if self.label else None
        return {
            **self.attempt.to_dict(),
            "flow_id": self.flow_id,
            "label": label,
            "member": self.member,
        }


@dataclass(frozen=True, slots=True)
class ProbeSummary:
    """What a probe found, ready to be printed or serialised."""

    target: Target
    host: HostOs
    attempts: tuple[AttemptView, ...]
    findings: tuple[Finding, ...]  # the findings about our attempts
    remediations: tuple[Remediation, ...]  # for this host's OS, best first
    captures: tuple[str, ...] = ()
    tool: str = ""
    ifaces: tuple[str, ...] = ()
    pool_declared: bool = True  # without a declared pool, 1/N is unknown (members are unseen)

    @property
    def failed(self) -> tuple[AttemptView, ...]:
        return tuple(a for a in self.attempts if a.failed)

    @property
    def hairpin_self(self) -> tuple[AttemptView, ...]:
        return tuple(a for a in self.attempts if a.label is Label.HAIRPIN_SELF)

    @property
    def hairpin_signature(self) -> bool:
        """Every failed attempt carries the hairpin-to-self signature."""
        return bool(self.failed) and all(a.label is Label.HAIRPIN_SELF for a in self.failed)

    @property
    def hairpin_finding(self) -> Finding | None:
        return next((f for f in self.findings if f.label is Label.HAIRPIN_SELF), None)

    @property
    def expected_rate(self) -> float | None:
        finding = self.hairpin_finding
        return finding.expected_rate if finding and self.pool_declared else None

    @property
    def observed_rate(self) -> float:
        return len(self.failed) / len(self.attempts) if self.attempts else 0.0

    @property
    def rate_fits(self) -> bool | None:
        """The failure rate is consistent with 1/N (None: nothing to compare with)."""
        finding = self.hairpin_finding
        if finding is None or finding.p_value is None or self.expected_rate is None:
            return None
        return finding.p_value >= RATE_ALPHA

    @property
    def mismatches(self) -> tuple[AttemptView, ...]:
        """Attempts where the socket and the capture disagree (failure vs success label)."""
        return tuple(
            a for a in self.attempts if a.label is not None and a.label.is_failure != a.failed
        )

    @property
    def failures_found(self) -> bool:
        return bool(self.failed) or any(f.label.is_failure for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        finding = self.hairpin_finding
        return {
            "target": str(self.target),
            "proto": self.target.proto,
            "host_os": {
                "family": self.host.family,
                "distro": self.host.distro,
                "version": self.host.version,
                "pretty": self.host.pretty,
            },
            "capture_tool": self.tool,
            "interfaces": list(self.ifaces),
            "captures": list(self.captures),
            "attempts": [a.to_dict() for a in self.attempts],
            "failed": len(self.failed),
            "hairpin_self": len(self.hairpin_self),
            "hairpin_signature": self.hairpin_signature,
            "observed_rate": round(self.observed_rate, 6),
            "expected_rate": self.expected_rate,
            "p_value": finding.p_value if finding and self.expected_rate is not None else None,
            "pool_declared": self.pool_declared,
            "rate_fits": self.rate_fits,
            "mismatches": [a.attempt.id for a in self.mismatches],
            "findings": [f.id for f in self.findings],
            "remediations": [r.id for r in self.remediations],
        }


# ---- functional core --------------------------------------------------------------------------
def _outbound_flows(result: AnalysisResult, target: Target) -> dict[tuple[str, int], FlowResult]:
    """Flows to the frontend, by (client address, client port); the first seen wins."""
    found: dict[tuple[str, int], FlowResult] = {}
    for fr in result.flows:
        flow = fr.flow
        if (flow.resp_h, flow.resp_p, flow.proto) == (target.address, target.port, target.proto):
            found.setdefault((flow.orig_h, flow.orig_p), fr)
    return found


def _by_port(flows: dict[tuple[str, int], FlowResult], attempt: Attempt) -> FlowResult | None:
    if attempt.client is not None:
        return flows.get((attempt.client, attempt.client_port))
    return next((fr for (_, p), fr in flows.items() if p == attempt.client_port), None)


def join_attempts(
    attempts: Sequence[Attempt], result: AnalysisResult, target: Target
) -> tuple[AttemptView, ...]:
    """Each attempt with its outbound flow, label and chosen member."""
    flows = _outbound_flows(result, target)
    members = {leg.outbound_flow: leg.member for leg in result.legs}
    views = []
    for attempt in attempts:
        fr = _by_port(flows, attempt)
        views.append(
            AttemptView(
                attempt,
                fr.id if fr else None,
                fr.label if fr else None,
                members.get(fr.id) if fr else None,
            )
        )
    return tuple(views)


def os_remediations(findings: Sequence[Finding], family: str) -> tuple[Remediation, ...]:
    """The remediations of ``findings`` that apply on ``family`` (or on any OS), best first."""
    seen: dict[str, Remediation] = {}
    for finding in findings:
        for rem in finding.remediations:
            if rem.os in (None, family):
                seen.setdefault(rem.id, rem)
    return tuple(sorted(seen.values(), key=lambda r: (r.rank, r.id)))


def summarize(
    attempts: Sequence[Attempt],
    result: AnalysisResult,
    target: Target,
    host: HostOs,
    pool_declared: bool = True,
) -> ProbeSummary:
    views = join_attempts(attempts, result, target)
    ours = {v.flow_id for v in views if v.flow_id}
    findings = tuple(f for f in result.findings if ours & set(f.flow_ids))
    remediations = os_remediations(findings, host.family)
    return ProbeSummary(target, host, views, findings, remediations, pool_declared=pool_declared)


# ---- imperative shell -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProbeRun:
    summary: ProbeSummary
    result: AnalysisResult


Notify = Callable[[str], None]


def _silent(_: str) -> None:
    return None


def run_probe(request: ProbeRequest, notify: Notify = _silent) -> ProbeRun:
    """Capture, attempt, analyse.  Raises PcapflowError subclasses for anything the user can fix."""
    tool = find_capture_tool(prefer=request.tool)
    host = host_os()
    if request.keep is not None:
        request.keep.mkdir(parents=True, exist_ok=True)
        return _run_in(request, tool, host, request.keep, notify)
    with tempfile.TemporaryDirectory(prefix="pcapflow-probe-") as tmp:
        return _run_in(request, tool, host, Path(tmp), notify)


def _run_in(
    request: ProbeRequest, tool: CaptureTool, host: HostOs, directory: Path, notify: Notify
) -> ProbeRun:
    from pcapflow.pipeline import analyze  # the engine: imported only when a probe runs

    target = request.target
    block = port_block(request.count)
    sockets = bind_ports(target, block, request.count)
    ifaces = request.ifaces or tuple(route_interfaces([target.address]))
    bound = request.count * request.timeout_s + 30
    session = CaptureSession(tool, ifaces, probe_filter(target, block), directory, bound)
    try:
        with session:
            notify(
                f"capturing on {', '.join(ifaces)} with {tool.name}; {request.count} "
                f"{target.proto} attempts on {target}..."
            )
            attempts = run_attempts(target, sockets, request.timeout_s)
            time.sleep(GRACE_S)
    finally:
        for sock in sockets:
            sock.close()
    files = session.files
    points = [_capture_point(tool, path, ifaces) for path in files]
    result = analyze(files, request.lb, os=host.analysis_os, capture_points=points)
    summary = dataclasses.replace(
        summarize(attempts, result, target, host, pool_declared=request.lb is not None),
        captures=tuple(str(f) for f in files),
        tool=tool.name,
        ifaces=ifaces,
    )
    if request.keep is not None:
        _keep(request.keep, summary, result)
    return ProbeRun(summary, result)


def _capture_point(tool: CaptureTool, path: Path, ifaces: Sequence[str]) -> str | None:
    if tool.multi_interface and len(ifaces) > 1:
        return None  # one pcapng; its interfaces carry the names
    iface = ifaces[0] if tool.multi_interface else path.stem.removeprefix("capture-")
    return f"{socket.gethostname()} {iface}"


def _keep(directory: Path, summary: ProbeSummary, result: AnalysisResult) -> None:
    from pcapflow.report import render

    (directory / "result.json").write_text(render(result, "json"), encoding="utf-8")
    probe = json.dumps(summary.to_dict(), indent=2, sort_keys=True)
    (directory / "probe.json").write_text(probe + "\n", encoding="utf-8")
