"""The remediation catalogue (``catalogue.yaml``): entries and the conditions they apply under."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from pcapflow.errors import ConfigError

CONDITION_KEYS = ("labels", "os", "protocols", "floating_ip", "http", "clouds", "second_nic")


@dataclass(frozen=True, slots=True)
class Situation:
    """What is known about a finding that the conditions of an entry are tested against."""

    label: str
    os: str | None  # None: unknown, every OS variant applies
    protocol: str
    floating_ip: bool | None
    http: bool
    cloud: str
    second_nic: bool = False  # the caller is a second address of a member's VM


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    rank: int
    title: str
    summary: str
    commands: tuple[str, ...]
    tradeoffs: tuple[str, ...]
    files: tuple[tuple[str, str], ...]
    conditions: tuple[tuple[str, Any], ...]
    verified_in_lab: str = ""  # the lab scenario that shows this fix applied (docs/lab.md)

    def applies(self, s: Situation) -> bool:
        return all(_holds(key, value, s) for key, value in self.conditions)

    def because(self, s: Situation) -> str:
        """Which conditions matched, in words."""
        parts = [f"label {s.label}"]
        for key, _value in self.conditions:
            if key == "os" and s.os:
                parts.append(f"{s.os} guest")
            elif key == "protocols":
                parts.append(s.protocol)
            elif key == "floating_ip":
                parts.append(f"floating IP {'on' if s.floating_ip else 'off'}")
            elif key == "http":
                parts.append("an HTTP service")
            elif key == "clouds":
                parts.append(s.cloud)
            elif key == "second_nic" and s.second_nic:
                parts.append("the caller uses a second NIC of a member VM")
        return "applies to " + ", ".join(parts)


def _holds(key: str, value: Any, s: Situation) -> bool:
    if key == "labels":
        return s.label in value
    if key == "os":
        return s.os is None or s.os in value
    if key == "protocols":
        return s.protocol in value
    if key == "floating_ip":
        return s.floating_ip is None or s.floating_ip == bool(value)
    if key == "http":
        return s.http == bool(value)
    if key == "clouds":
        return s.cloud in value
    if key == "second_nic":
        return s.second_nic == bool(value)
    raise ConfigError(f"remediation catalogue: unknown condition {key!r}")


@cache
def load_catalogue(name: str = "catalogue.yaml") -> tuple[Entry, ...]:
    """The entries of the packaged catalogue, in file order."""
    text = resources.files("pcapflow.remediation").joinpath(name).read_text()
    data = yaml.safe_load(text)
    return tuple(_entry(raw) for raw in data["entries"])


def _entry(raw: dict[str, Any]) -> Entry:
    known = {"id", "rank", "title", "summary", "commands", "tradeoffs", "files", "verified_in_lab"}
    unknown = set(raw) - known
    unknown -= {"<<"}
    unknown -= set(CONDITION_KEYS)
    if unknown:
        raise ConfigError(f"remediation {raw.get('id')}: unknown keys {sorted(unknown)}")
    return Entry(
        id=raw["id"],
        rank=int(raw.get("rank", 9)),
        title=raw["title"],
        summary=raw.get("summary", ""),
        commands=tuple(raw.get("commands") or ()),
        tradeoffs=tuple(raw.get("tradeoffs") or ()),
        files=tuple((f["name"], f["content"]) for f in raw.get("files") or ()),
        conditions=tuple((k, raw[k]) for k in CONDITION_KEYS if k in raw),
        verified_in_lab=str(raw.get("verified_in_lab") or ""),
    )
