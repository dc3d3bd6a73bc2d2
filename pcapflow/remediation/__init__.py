"""Remediation: a catalogue kept as data (``catalogue.yaml``) and a small selector that filters
it by the conditions of a finding (label, guest OS, protocol, floating IP, HTTP, cloud) and fills
the commands with the config's real names."""

from __future__ import annotations

from pcapflow.remediation.catalogue import Entry, Situation, load_catalogue
from pcapflow.remediation.select import remediations_for

__all__ = ["Entry", "Situation", "load_catalogue", "remediations_for"]
