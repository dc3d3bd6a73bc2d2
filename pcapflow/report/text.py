"""The ``text`` format: the terminal diagnosis (verdict, counts, findings, evidence, fixes)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator

import click

from pcapflow.model.result import AnalysisResult, Finding, FlowKind, Remediation
from pcapflow.report.facts import (
    LABEL_WORDS,
    lb_and_rule,
    ranked,
    rate_text,
    summarize,
)
from pcapflow.report.registry import RenderOptions, register

WIDTH = 100
MAX_EVIDENCE = 8  # evidence lines per finding; the rest are counted
Style = Callable[..., str]

VERDICT_COLOURS = {
    "healthy": "green",
    "hairpin failure": "red",
    "failures found": "yellow",
    "no traffic": "yellow",
}


def _styler(options: RenderOptions) -> Style:
    if options.color:
        return click.style

    def plain(text: str, **_: object) -> str:
        return text

    return plain


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent]


def _head(result: AnalysisResult, style: Style) -> Iterator[str]:
    summary = summarize(result)
    colour = VERDICT_COLOURS.get(summary.verdict, "yellow")
    yield style(f"Verdict: {summary.verdict.upper()}", fg=colour, bold=True)
    yield from _wrap(summary.verdict_words, "  ")
    files = ", ".join(c.info.path for c in result.captures) or "(none)"
    yield f"  captures: {files}"
    for warning in summary.warnings:
        yield style(f"  warning: {warning}", fg="yellow")
    yield f"  {summary.connections} connection(s), {summary.failed} failed, {summary.flows} flow(s)"
    for kind in summary.by_kind:  # frontend calls first
        failed = f", {kind.failed} failed" if kind.failed else ""
        yield f"  {kind.words}: {kind.connections}{failed}"
        for label, n in kind.counts:
            mark = style("x", fg="red") if label.is_failure else style("ok", fg="green")
            yield f"    {n:>5}  {label.value:<31} {mark} {LABEL_WORDS[label]}"


def _finding(finding: Finding, style: Style) -> Iterator[str]:
    yield ""
    head = f"[{finding.id}] {finding.label.value}: {finding.title}"
    yield style(head, fg="red" if finding.label.is_failure else None, bold=True)
    lb, rule = lb_and_rule(finding)
    call = finding.kind is FlowKind.FRONTEND_CALL
    where = ["" if call else f"{finding.kind.value.replace('_', ' ')}:"]
    where.append(f"caller {finding.caller}" if finding.caller else "")
    target = "frontend" if call else "target"
    where.append(f"{target} {finding.frontend}" if finding.frontend else "")
    where.append(f"load balancer {lb}" if lb else "")
    where.append(f"rule {rule}" if rule else "")
    yield "  " + ", ".join(w for w in where if w).replace(":, ", ": ")
    yield f"  {rate_text(finding)}"
    confidence = f"  confidence: {finding.confidence.value}"
    yield confidence + (f" ({finding.confidence_reason})" if finding.confidence_reason else "")
    yield from _wrap(finding.explanation, "  ")
    if finding.ambiguity:
        yield from _wrap(f"Note: {finding.ambiguity}", "  ")
    if finding.evidence:
        yield "  Evidence:"
    for ev in finding.evidence[:MAX_EVIDENCE]:
        yield f"    {ev.file} frame {ev.frame}: {ev.summary}" + (
            f"  ({ev.role})" if ev.role else ""
        )
    if len(finding.evidence) > MAX_EVIDENCE:
        more = len(finding.evidence) - MAX_EVIDENCE
        yield f"    ... {more} more evidence frames (--format html, markdown or json)"
    if finding.remediations:
        yield "  Fixes, best first:"
    for n, rem in ranked(finding):
        yield from _remediation(n, rem, style)


def _remediation(n: int, rem: Remediation, style: Style) -> Iterator[str]:
    os_note = f" [{rem.os}]" if rem.os else ""
    yield style(f"    {n}. {rem.title}{os_note}", bold=True)
    yield from _wrap(rem.summary, "       ")
    if rem.applies_because:
        yield from _wrap(f"why here: {rem.applies_because}", "       ")
    for command in rem.commands:
        yield style(f"       $ {command}", fg="cyan")
    for name, content in rem.files:
        lines = content.count("\n") + (0 if content.endswith("\n") else 1)
        yield f"       file {name} ({lines} lines; full text in --format markdown/html/json)"
    for tradeoff in rem.tradeoffs:
        yield from _wrap(f"trade-off: {tradeoff}", "       ")


def _tail(result: AnalysisResult) -> Iterator[str]:
    if result.suggested_config:
        yield ""
        yield "No load-balancer config was given; this one was inferred (pcapflow YAML):"
        yield from ("  " + line for line in result.suggested_config.splitlines())
    if result.notes:
        yield ""
    for note in result.notes:
        yield from _wrap(f"note: {note}", "")


@register("text", extension="txt", media_type="text/plain", description="terminal diagnosis")
def render_text(result: AnalysisResult, options: RenderOptions) -> str:
    style = _styler(options)
    lines = list(_head(result, style))
    for finding in result.findings:
        lines.extend(_finding(finding, style))
    lines.extend(_tail(result))
    return "\n".join(line.rstrip() for line in lines) + "\n"
