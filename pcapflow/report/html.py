"""The ``html`` format: one self-contained page (inline CSS, JS and SVG; nothing fetched).

The page is rendered from Jinja2 templates shipped as package data
(``pcapflow/report/templates``).  This module only prepares what the templates show; all the
diagram geometry lives in :mod:`pcapflow.report.ladder` and :mod:`pcapflow.report.timeline`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pcapflow.model.result import (
    AnalysisResult,
    Finding,
    FlowKind,
    FlowResult,
    Label,
    Remediation,
)
from pcapflow.report.facts import (
    KIND_WORDS,
    LABEL_WORDS,
    Summary,
    connection_heads,
    label_phrase,
    labelled_candidates,
    lb_and_rule,
    ranked,
    rate_text,
    summarize,
    tool_version,
)
from pcapflow.report.ladder import ladder, ladder_svg, pick_failing, pick_healthy
from pcapflow.report.registry import RenderOptions, register
from pcapflow.report.timeline import attempts_to, timeline_svg, utc

# Label colours (knowledge as data; the stylesheet is generated from it).
LABEL_COLOURS: dict[Label, str] = {
    Label.OK: "#2e7d32",
    Label.HAIRPIN_OTHER_BACKEND: "#00897b",
    Label.HAIRPIN_SELF: "#c62828",
    Label.FLOATING_IP_GUEST_UNCONFIGURED: "#ef6c00",
    Label.REFUSED: "#6a1b9a",
    Label.FILTERED: "#8d6e63",
    Label.PROBE_ASYMMETRIC_ROUTE: "#ad1457",
    Label.IDLE_TIMEOUT: "#1565c0",
    Label.SERVED_LOCALLY_REFUSED: "#4e342e",
    Label.UNKNOWN: "#616161",
}
VERDICT_CLASSES = {"healthy": "healthy", "no traffic": "neutral"}
MAX_FLOW_ROWS = 5000  # rows of the flow table; the rest are in --format csv
EVIDENCE_SHOWN = 12  # evidence rows shown before "show more"
LABEL_ORDER_KEY = {label.value: n for n, label in enumerate(Label)}
LINK_TYPES = {0: "NULL", 1: "Ethernet", 101: "raw IP", 113: "Linux SLL", 276: "Linux SLL2"}


@dataclass(frozen=True, slots=True)
class Diagram:
    title: str
    svg: Markup
    outcome: str
    start: str
    omitted: int
    clocks: tuple[str, ...] = ()  # the clock offset between captures that saw the same packets


@dataclass(frozen=True, slots=True)
class FindingView:
    finding: Finding
    lb: str | None
    rule: str | None
    rate: str
    failing: Diagram | None
    healthy: Diagram | None
    timeline: Markup
    timeline_labels: list[str]
    attempts: int
    remediations: list[tuple[int, Remediation]]
    story: list[str]


def _diagram(result: AnalysisResult, head: FlowResult | None, title: str) -> Diagram | None:
    if head is None:
        return None
    drawn = ladder(result, head, title)
    return Diagram(title, Markup(ladder_svg(drawn)), drawn.outcome, utc(drawn.start_ts),
                   drawn.omitted, drawn.clocks)  # fmt: skip


def _story_function() -> Callable[[AnalysisResult, str], list[str]] | None:
    """The "live" helper's plain-words narrative, when that module is installed."""
    try:
        module = importlib.import_module("pcapflow.report.story")
    except ImportError:
        return None
    return cast(Callable[[AnalysisResult, str], list[str]] | None, getattr(module, "story", None))


def _story(result: AnalysisResult, head: FlowResult | None) -> list[str]:
    tell = _story_function()
    if tell is None or head is None:
        return []
    try:
        return list(tell(result, head.id))
    except Exception:  # a narrative is a bonus: never let it break the report
        return []


def finding_view(result: AnalysisResult, finding: Finding) -> FindingView:
    lb, rule = lb_and_rule(finding)
    failed = finding.label.is_failure
    sample = pick_failing(result, finding.flow_ids)
    healthy = pick_healthy(result, finding.frontend) if failed else None
    attempts = attempts_to(result, finding.frontend)
    where = finding.frontend or "the frontend"
    kind = "a failing connection" if failed else "one connection"
    return FindingView(
        finding=finding,
        lb=lb,
        rule=rule,
        rate=rate_text(finding),
        failing=_diagram(result, sample, f"{finding.id}: {kind} ({sample and sample.id})"),
        healthy=_diagram(
            result, healthy, f"{finding.id}: a connection that worked ({healthy and healthy.id})"
        ),
        timeline=Markup(timeline_svg(attempts, f"every attempt to {where}, by label")),
        timeline_labels=sorted({str(a.label) for a in attempts}, key=LABEL_ORDER_KEY.__getitem__),
        attempts=len(attempts),
        remediations=ranked(finding),
        story=_story(result, sample),
    )


def shown_flows(result: AnalysisResult, limit: int = MAX_FLOW_ROWS) -> list[FlowResult]:
    """The flow table's rows, capped, in capture order: flows of findings, failures and calls
    to a frontend first, then the other labelled connections (healthy probes, direct calls,
    background), then flows without a label."""
    in_findings = {fid for f in result.findings for fid in f.flow_ids}
    tiers: tuple[list[tuple[int, FlowResult]], ...] = ([], [], [])
    for n, f in enumerate(result.flows):  # one pass; at most 3 x limit rows kept
        tier = tiers[_tier(f, in_findings)]
        if len(tier) < limit:
            tier.append((n, f))
    keep: list[tuple[int, FlowResult]] = []
    for tier in tiers:
        keep += tier[: limit - len(keep)]
    return [f for _n, f in sorted(keep, key=lambda nf: nf[0])]


def _tier(flow: FlowResult, in_findings: set[str]) -> int:
    if flow.id in in_findings or flow.kind is FlowKind.FRONTEND_CALL:
        return 0
    if flow.label is None:
        return 2
    return 0 if flow.label.is_failure else 1


def headline(summary: Summary, result: AnalysisResult) -> str:
    """The one sentence a non-specialist reads first."""
    failures = result.failures
    if not result.flows:
        return "Nothing to diagnose."
    if not failures:
        calls = summary.of_kind(FlowKind.FRONTEND_CALL).connections
        others = summary.connections - calls
        if not calls:
            worked = f"; the {others} other connection(s) worked" if others else ""
            return f"No call to a load-balancer frontend was captured{worked}."
        also = f" (and {others} other connection(s))" if others else ""
        return f"All {calls} connection(s) seen to load-balancer frontends worked{also}."
    top = failures[0]
    lb, rule = lb_and_rule(top)
    via = ", ".join(
        x for x in (f"load balancer {lb}" if lb else "", f"rule {rule}" if rule else "") if x
    )
    who = f"Calls from {top.caller}" if top.caller else "Calls"
    to = f" to {top.frontend}" if top.frontend else ""
    via = f" ({via})" if via else ""
    return f"{who}{to}{via}: {label_phrase(top.label)}. {rate_text(top, p_value=False)}."


@functools.cache
def environment() -> Environment:
    """The Jinja environment of the report templates (built once per process)."""
    env = Environment(
        loader=PackageLoader("pcapflow.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["utc"] = utc
    return env


def context(result: AnalysisResult) -> dict[str, object]:
    summary = summarize(result)
    heads = {f.id for f in connection_heads(labelled_candidates(result))}
    return {
        "result": result,
        "summary": summary,
        "headline": headline(summary, result),
        "verdict_class": VERDICT_CLASSES.get(summary.verdict, "failing"),
        "label_words": {label.value: words for label, words in LABEL_WORDS.items()},
        "kind_words": {kind.value: words for kind, words in KIND_WORDS.items()},
        "label_colours": {label.value: colour for label, colour in LABEL_COLOURS.items()},
        "findings": [finding_view(result, f) for f in result.findings],
        "flows": shown_flows(result),
        "all_flows": len(result.flows),
        "heads": heads,
        "labels": [label.value for label in Label],
        "link_types": LINK_TYPES,
        "version": tool_version(),
        "evidence_shown": EVIDENCE_SHOWN,
    }


@register(
    "html",
    extension="html",
    media_type="text/html",
    description="one self-contained page with diagrams, fixes and the flow table",
)
def render_html(result: AnalysisResult, options: RenderOptions) -> str:
    return environment().get_template("report.html.j2").render(context(result))
