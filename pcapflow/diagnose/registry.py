"""The label decisions, in the order they are asked: the first that answers decides.

Order matters only where two signatures overlap: a probe's unacknowledged SYN-ACK before
anything else; the hairpin copy before "filtered"; a RST before "filtered"; an idle death before
"ok".  ``unknown`` is last and always answers for an attempt.
"""

from __future__ import annotations

from collections.abc import Callable

from pcapflow.diagnose import (
    filtered,
    floating_ip,
    hairpin_other_backend,
    hairpin_self,
    idle_timeout,
    ok,
    probe_asymmetric,
    refused,
    served_locally,
    served_locally_refused,
    unknown,
)
from pcapflow.diagnose.facts import Facts
from pcapflow.diagnose.verdict import Verdict

Detector = Callable[[Facts], Verdict | None]

DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("probe_asymmetric_route", probe_asymmetric.detect),
    ("hairpin_self", hairpin_self.detect),
    ("served_locally_refused", served_locally_refused.detect),
    ("floating_ip_guest_unconfigured", floating_ip.detect),
    ("refused", refused.detect),
    ("idle_timeout", idle_timeout.detect),
    ("served_locally", served_locally.detect),
    ("hairpin_other_backend", hairpin_other_backend.detect),
    ("ok", ok.detect),
    ("filtered", filtered.detect),
    ("unknown", unknown.detect),
)

NO_LABEL = Verdict(None, "")


def decide(facts: Facts) -> Verdict:
    """The verdict of the first detector that recognises the facts."""
    for _name, detect in DETECTORS:
        verdict = detect(facts)
        if verdict is not None:
            return verdict
    return NO_LABEL
