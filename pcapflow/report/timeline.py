"""Timeline of every attempt to one frontend, coloured by label (inline SVG)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from pcapflow.model.result import AnalysisResult, FlowResult
from pcapflow.report.facts import connection_heads, labelled_candidates

WIDTH, HEIGHT, LEFT, RIGHT, BASE = 900, 96, 24, 36, 52
TICKS = 6


def attempts_to(result: AnalysisResult, frontend: str | None) -> list[FlowResult]:
    """One labelled flow per connection to ``frontend`` (all labelled ones if None)."""
    heads = connection_heads(labelled_candidates(result))
    if frontend is None:
        return heads
    return [f for f in heads if f.frontend == frontend]


def utc(ts: float) -> str:
    """``2025-11-28 06:45:47.500000 UTC`` (microseconds, rounded)."""
    seconds, micros = divmod(round(ts * 1_000_000), 1_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{micros:06d} UTC"


def _x(ts: float, start: float, span: float) -> float:
    return LEFT + (ts - start) / span * (WIDTH - LEFT - RIGHT) if span > 0 else WIDTH / 2


def timeline_svg(attempts: Sequence[FlowResult], title: str) -> str:
    if not attempts:
        return ""
    start = min(a.flow.ts for a in attempts)
    span = max(a.flow.ts for a in attempts) - start
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{BASE}" x2="{WIDTH - RIGHT}" y2="{BASE}"/>',
    ]
    for n in range(TICKS + 1):
        t = span * n / TICKS
        x = _x(start + t, start, span) if span > 0 else LEFT + n * (WIDTH - LEFT - RIGHT) / TICKS
        out.append(f'<line class="tick" x1="{x:.1f}" y1="{BASE}" x2="{x:.1f}" y2="{BASE + 5}"/>')
        out.append(f'<text class="ticklabel" x="{x:.1f}" y="{BASE + 18}">+{t:.3g} s</text>')
    for a in attempts:
        x = _x(a.flow.ts, start, span)
        failed = a.label is not None and a.label.is_failure
        y, h = (BASE - 34, 30) if failed else (BASE - 18, 14)
        tip = escape(f"{a.id} {a.label} +{a.flow.ts - start:.6f} s {a.flow.orig_h}:{a.flow.orig_p}")
        out.append(
            f'<rect class="mark label-{a.label}" x="{x - 2:.1f}" y="{y}" width="4" height="{h}">'
            f"<title>{tip}</title></rect>"
        )
    out.append(f'<text class="ticklabel start" x="{LEFT}" y="{HEIGHT - 4}">{utc(start)}</text>')
    out.append("</svg>")
    return "\n".join(out)
