"""Text for the live commands: the probe diagnosis and the watch view (presentation only).

Colour is decided once by :func:`use_colour` (a terminal, and NO_COLOR unset) and applied through
:class:`Style`; everything else is plain lines, so the same text goes to pipes and files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TextIO

import click

from pcapflow.live.probe import AttemptView, ProbeSummary
from pcapflow.live.target import endpoint
from pcapflow.live.watch import FrontendTally, WatchSession
from pcapflow.model.result import Evidence, Finding, Label, Remediation

MAX_EVIDENCE = 6
MAX_REMEDIATIONS = 3
COLOURS = {"bad": "red", "good": "green", "warn": "yellow", "head": "cyan"}
LABEL_TONE = {Label.OK: "good", Label.HAIRPIN_OTHER_BACKEND: "good", Label.HAIRPIN_SELF: "bad"}


def use_colour(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    env = os.environ if env is None else env
    stream = stream or sys.stdout
    return not env.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


@dataclass(frozen=True, slots=True)
class Style:
    colour: bool = False

    def __call__(self, text: str, tone: str) -> str:
        if not self.colour or tone not in COLOURS:
            return text
        return click.style(text, fg=COLOURS[tone], bold=tone in ("bad", "head"))

    def label(self, label: Label | None) -> str:
        if label is None:
            return "-"
        return self(label.value, LABEL_TONE.get(label, "bad" if label.is_failure else "warn"))


# ---- probe ------------------------------------------------------------------------------------
def probe_lines(s: ProbeSummary, style: Style) -> list[str]:
    lines = [
        style(f"pcapflow probe {s.target} ({s.target.proto}) on {s.host.label}", "head"),
        f"captured with {s.tool or '?'} on {', '.join(s.ifaces) or '?'}",
        "",
        _count_line(s, style),
    ]
    lines += [_attempt_line(a, style) for a in s.attempts]
    lines += ["", *diagnosis_lines(s, style)]
    lines += _evidence_lines(s)
    lines += remediation_lines(s.remediations, s.host.label)
    return lines


def _count_line(s: ProbeSummary, style: Style) -> str:
    failed = len(s.failed)
    tone = "bad" if failed else "good"
    pct = f"{100 * s.observed_rate:.0f}%"
    return style(f"{len(s.attempts)} attempts, {failed} failed ({pct})", tone)


def _attempt_line(a: AttemptView, style: Style) -> str:
    at = a.attempt
    elapsed = f"{at.elapsed_s * 1000:.1f} ms" if at.elapsed_s < 1 else f"{at.elapsed_s:.2f} s"
    member = f"  member {a.member}" if a.member else ""
    outcome = style(f"{at.outcome:<10}", "good" if at.ok else "bad")
    return (
        f"  #{at.id:<3} {endpoint(at.client, at.client_port):<21} {outcome} {elapsed:>9}  "
        f"{style.label(a.label)}{member}"
    )


def diagnosis_lines(s: ProbeSummary, style: Style) -> list[str]:
    """The verdict in one line, then the rate comparison."""
    failed = len(s.failed)
    if not failed:
        lines = [style(f"OK: all {len(s.attempts)} attempts to {s.target} worked.", "good")]
        others = sum(a.label is Label.HAIRPIN_OTHER_BACKEND for a in s.attempts)
        if others:
            lines.append(
                f"  This host is in the pool behind {s.target}: {others} attempts went to other "
                "members; any attempt mapped back to this host would fail (hairpin)."
            )
        return lines
    if s.hairpin_signature:
        head = (
            f"HAIRPIN: {failed} of {len(s.attempts)} attempts failed, every one sent back to this "
            "host by the load balancer (DNAT without SNAT)."
        )
    else:
        labels = sorted({a.label.value if a.label else "not captured" for a in s.failed})
        head = (
            f"FAILURES: {failed} of {len(s.attempts)} attempts failed; labels: {', '.join(labels)}."
        )
    lines = [style(head, "bad"), *_rate_lines(s)]
    if s.mismatches:
        ids = ", ".join(f"#{a.attempt.id}" for a in s.mismatches)
        lines.append(style(f"  Socket and capture disagree on attempts {ids}.", "warn"))
    return lines


def _rate_lines(s: ProbeSummary) -> Iterator[str]:
    observed = f"{len(s.failed)}/{len(s.attempts)} = {100 * s.observed_rate:.0f}%"
    expected = s.expected_rate
    if expected is None:
        if s.hairpin_signature:
            yield (
                f"  Failure rate {observed}; declare the backend pool (--lb or --backend) "
                "to compare it with the expected 1/N."
            )
        return
    members = round(1 / expected) if expected else 0
    finding = s.hairpin_finding
    p_value = f" (p = {finding.p_value:.2f})" if finding and finding.p_value is not None else ""
    fits = {True: "consistent", False: "NOT consistent", None: "not tested"}[s.rate_fits]
    yield (
        f"  Failure rate {observed}; expected 1/{members} = {100 * expected:.0f}% with "
        f"{members} pool member{'s' * (members != 1)}: {fits}{p_value}."
    )


def _evidence_lines(s: ProbeSummary) -> list[str]:
    finding = s.hairpin_finding or next(iter(s.findings), None)
    if finding is None or not finding.evidence:
        return []
    return ["", f"Evidence ({finding.id}: {finding.title}):", *evidence_lines(finding.evidence)]


def evidence_lines(evidence: Sequence[Evidence]) -> list[str]:
    lines = []
    for ev in evidence[:MAX_EVIDENCE]:
        role = f"  ({ev.role})" if ev.role else ""
        lines.append(f"  {PurePath(ev.file).name} frame {ev.frame}: {ev.summary}{role}")
    if len(evidence) > MAX_EVIDENCE:
        lines.append(f"  ... {len(evidence) - MAX_EVIDENCE} more in the JSON result")
    return lines


def remediation_lines(remediations: Sequence[Remediation], host: str) -> list[str]:
    if not remediations:
        return []
    lines = ["", f"Remediation for this host ({host}):"]
    for n, rem in enumerate(remediations[:MAX_REMEDIATIONS], 1):
        lines.append(f"  {n}. {rem.title}: {rem.summary}")
        lines += [f"     $ {cmd}" for cmd in rem.commands]
    return lines


# ---- watch ------------------------------------------------------------------------------------
def watch_lines(session: WatchSession, style: Style, final: bool = False) -> list[str]:
    state, window = session.state, session.window
    now = datetime.fromtimestamp(window.latest_ns / 1e9, UTC).strftime("%H:%M:%S")
    head = "final" if final else now
    lines = [
        style(f"pcapflow watch {session.source_label}  {head}", "head"),
        f"packets {session.packets}  window {len(window.records)}/{session.limits.window_packets}"
        f"  attempts {state.attempts}  failed {state.failed}",
    ]
    if not state.tallies:
        lines.append("  no attempt to a declared frontend yet")
    lines += [_tally_line(t, style) for t in sorted(state.tallies.values(), key=_tally_order)]
    if state.newest is not None:
        lines += _newest_lines(state.newest, style)
    return lines


def _tally_order(t: FrontendTally) -> tuple[int, str]:
    return (-t.attempts, t.frontend)


def _tally_line(t: FrontendTally, style: Style) -> str:
    rate = style(f"{100 * t.failure_rate:.0f}%", "bad" if t.failed else "good")
    expected = f" (expected {100 * t.expected_rate:.0f}%)" if t.expected_rate is not None else ""
    labels = ", ".join(f"{k} {v}" for k, v in sorted(t.labels.items()))
    return (
        f"  {t.frontend:<22} attempts {t.attempts:<5} failed {t.failed:<5} rate {rate}{expected}"
        f"  [{labels}]"
    )


def _newest_lines(finding: Finding, style: Style) -> list[str]:
    head = f"newest finding {finding.id} {finding.label.value}: {finding.title}"
    recent = sorted(finding.evidence, key=lambda ev: (ev.ts, ev.frame))[-3:]
    return [style(head, "bad"), *evidence_lines(recent)]


def status_line(session: WatchSession) -> str:
    """One plain line per refresh when the output is not a terminal."""
    state = session.state
    when = datetime.fromtimestamp(session.window.latest_ns / 1e9, UTC).strftime("%H:%M:%S")
    parts = [
        f"{t.frontend} {t.attempts} attempts {t.failed} failed ({100 * t.failure_rate:.0f}%)"
        for t in sorted(state.tallies.values(), key=_tally_order)
    ]
    newest = f"; newest {state.newest.id} {state.newest.label.value}" if state.newest else ""
    return (
        f"{when} packets={session.packets} attempts={state.attempts} failed={state.failed}"
        f"{'; ' if parts else ''}{'; '.join(parts)}{newest}"
    )


class LiveDisplay:
    """Refreshes the watch view: in place on a terminal (ANSI), one status line otherwise."""

    CLEAR_UP = "\x1b[{n}F\x1b[J"  # cursor to the start of the line n lines up, clear below

    def __init__(self, colour: bool, silent: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.style = Style(colour)
        self.silent = silent
        self._shown = 0
        self._last = ""

    def refresh(self, session: WatchSession) -> None:
        if self.silent:
            return
        if not self.terminal:
            line = status_line(session)
            if line != self._last:
                self.stream.write(line + "\n")
                self.stream.flush()
                self._last = line
            return
        lines = watch_lines(session, self.style)
        prefix = self.CLEAR_UP.format(n=self._shown) if self._shown else ""
        self.stream.write(prefix + "\n".join(lines) + "\n")
        self.stream.flush()
        self._shown = len(lines)

    def clear(self) -> None:
        """Remove the live view from a terminal (the final diagnosis takes its place)."""
        if self.terminal and self._shown and not self.silent:
            self.stream.write(self.CLEAR_UP.format(n=self._shown))
            self.stream.flush()
        self._shown = 0
