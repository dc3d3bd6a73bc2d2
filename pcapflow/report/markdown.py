"""The ``markdown`` format: a report to paste into a ticket (GitHub/GitLab/Azure DevOps flavour)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pcapflow.model.result import AnalysisResult, Finding, FlowKind, FlowResult, Remediation
from pcapflow.report.facts import (
    KIND_WORDS,
    LABEL_WORDS,
    flow_index,
    lb_and_rule,
    ranked,
    rate_text,
    summarize,
)
from pcapflow.report.registry import RenderOptions, register

MAX_EVIDENCE_ROWS = 20
MAX_FLOW_ROWS = 50  # per finding: a ticket should stay readable
FILE_LANGUAGES = {".conf": "nginx", ".yaml": "yaml", ".yml": "yaml", ".ps1": "powershell"}


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join("---" for _ in header) + "|"
    for row in rows:
        yield "| " + " | ".join(cell(v) for v in row) + " |"


def fence(body: str, language: str = "") -> Iterator[str]:
    ticks = "````" if "```" in body else "```"
    yield f"{ticks}{language}"
    yield from body.rstrip("\n").splitlines()
    yield ticks


def _summary(result: AnalysisResult) -> Iterator[str]:
    summary = summarize(result)
    yield f"# pcapflow: {summary.verdict}"
    yield ""
    yield f"**{summary.verdict_words}**"
    yield ""
    for warning in summary.warnings:
        yield f"> **Warning:** {warning}"
        yield ""
    yield f"{summary.connections} connection(s), {summary.failed} failed."
    yield ""
    rows = [
        (kind.words, f"`{label.value}`", n, LABEL_WORDS[label])
        for kind in summary.by_kind  # frontend calls first
        for label, n in kind.counts
    ]
    if rows:
        yield from table(("kind", "label", "connections", "meaning"), rows)


def _finding(finding: Finding, flows: dict[str, FlowResult]) -> Iterator[str]:
    lb, rule = lb_and_rule(finding)
    yield ""
    yield f"## {finding.id} `{finding.label.value}`: {finding.title}"
    yield ""
    call = finding.kind is FlowKind.FRONTEND_CALL
    facts = [
        ("kind", None if call else KIND_WORDS[finding.kind]),
        ("caller", finding.caller),
        ("frontend" if call else "target", finding.frontend),
        ("load balancer", lb),
        ("rule", rule),
        ("failure rate", rate_text(finding)),
        ("confidence", f"{finding.confidence.value} {finding.confidence_reason}".strip()),
    ]
    yield from table(("", ""), [(k, v) for k, v in facts if v])
    yield ""
    yield finding.explanation
    if finding.ambiguity:
        yield ""
        yield f"> **Ambiguity:** {finding.ambiguity}"
    yield from _evidence(finding)
    yield from _flows(finding, flows)
    yield from _remediations(finding)


def _evidence(finding: Finding) -> Iterator[str]:
    if not finding.evidence:
        return
    yield ""
    yield "### Evidence"
    yield ""
    shown = finding.evidence[:MAX_EVIDENCE_ROWS]
    rows = [(e.file, e.frame, f"{e.ts:.6f}", f"`{e.summary}`", e.role) for e in shown]
    yield from table(("capture", "frame", "time", "packet", "what it shows"), rows)
    if len(finding.evidence) > len(shown):
        yield ""
        yield f"... {len(finding.evidence) - len(shown)} more frames in `--format json`."


def _flows(finding: Finding, flows: dict[str, FlowResult]) -> Iterator[str]:
    shown = [flows[i] for i in finding.flow_ids if i in flows][:MAX_FLOW_ROWS]
    if not shown:
        return
    yield ""
    yield f"### Flows ({len(finding.flow_ids)})"
    yield ""
    rows = [_flow_row(f) for f in shown]
    yield from table(("flow", "leg", "orig", "resp", "state", "history", "frames"), rows)
    if len(finding.flow_ids) > len(shown):
        yield ""
        yield f"... {len(finding.flow_ids) - len(shown)} more in `--format csv`."


def _flow_row(fr: FlowResult) -> tuple[str, ...]:
    f = fr.flow
    return (f"`{fr.id}`", fr.role, f"{f.orig_h}:{f.orig_p}", f"{f.resp_h}:{f.resp_p}",
            f.conn_state, f.history, f"{f.first_frame}-{f.last_frame}")  # fmt: skip


def _remediations(finding: Finding) -> Iterator[str]:
    if not finding.remediations:
        return
    yield ""
    yield "### Fixes, best first"
    for n, rem in ranked(finding):
        yield from _remediation(n, rem)


def _remediation(n: int, rem: Remediation) -> Iterator[str]:
    yield ""
    yield f"{n}. **{rem.title}**" + (f" ({rem.os})" if rem.os else "")
    yield ""
    yield f"   {rem.summary}" + (
        f" Applies because {rem.applies_because}." if rem.applies_because else ""
    )
    if rem.commands:
        yield ""
        yield from ("   " + line for line in fence("\n".join(rem.commands), "bash"))
    for name, content in rem.files:
        yield ""
        yield f"   `{name}`:"
        yield ""
        language = next((v for k, v in FILE_LANGUAGES.items() if name.endswith(k)), "")
        yield from ("   " + line if line else "" for line in fence(content, language))
    for tradeoff in rem.tradeoffs:
        yield ""
        yield f"   Trade-off: {tradeoff}"


def _captures(result: AnalysisResult) -> Iterator[str]:
    yield ""
    yield "## Captures"
    yield ""
    rows = [
        (c.info.path, c.capture_point or "", c.info.format, c.info.frames, c.info.duplicates,
         f"{c.clock_offset_s:+.6f}")
        for c in result.captures
    ]  # fmt: skip
    yield from table(
        ("file", "capture point", "format", "frames", "duplicates", "clock offset s"), rows
    )
    if result.lb_sources:
        yield ""
        yield "Load-balancer config: " + ", ".join(f"`{s}`" for s in result.lb_sources)
    for note in result.notes:
        yield ""
        yield f"Note: {note}"


@register("markdown", extension="md", media_type="text/markdown", description="for tickets")
def render_markdown(result: AnalysisResult, options: RenderOptions) -> str:
    flows = flow_index(result)
    lines = list(_summary(result))
    for finding in result.findings:
        lines.extend(_finding(finding, flows))
    if result.suggested_config:
        lines += ["", "## Inferred load-balancer config", ""]
        lines.extend(fence(result.suggested_config, "yaml"))
    lines.extend(_captures(result))
    return "\n".join(line.rstrip() for line in lines) + "\n"
