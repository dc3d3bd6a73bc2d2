"""A decision about one connection: its label, why, and how sure."""

from __future__ import annotations

from dataclasses import dataclass

from pcapflow.model.result import Confidence, Label


@dataclass(frozen=True, slots=True)
class Verdict:
    """``label`` None means: not a connection attempt (ICMP; outside a frontend call, a TCP flow
    whose opening SYN was not captured, or one-way UDP): no label."""

    label: Label | None
    reason: str
    confidence: Confidence = Confidence.HIGH
    confidence_reason: str = ""
    ambiguity: str | None = None  # "cannot tell X from Y; a capture on Z would settle it"
