"""Reading the balancer's decisions from ``conntrack -L`` output (pure parsing).

A line looks like (``-o extended`` adds the leading family columns)::

    ipv4 2 tcp 6 117 TIME_WAIT src=192.168.2.1 dst=10.2.1.100 sport=40001 dport=80
        src=10.2.1.6 dst=192.168.2.1 sport=80 dport=40001 [ASSURED] mark=2 use=1

The first ``src/dst/sport/dport`` group is the original direction, the second the reply direction:
with DNAT the reply source is the member the balancer chose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class CtEntry:
    proto: str
    orig_src: str
    orig_dst: str
    orig_sport: int
    orig_dport: int
    reply_src: str
    reply_sport: int
    mark: int
    state: str = ""

    @property
    def key(self) -> tuple[str, str, int, str, int]:
        return (self.proto, self.orig_src, self.orig_sport, self.orig_dst, self.orig_dport)


def _canon(address: str) -> str:
    return str(ipaddress.ip_address(address))


def parse_line(line: str) -> CtEntry | None:
    """One conntrack entry, or None for lines that are not TCP/UDP entries."""
    tokens = line.split()
    proto = next((t for t in tokens[:5] if t in PROTOCOLS), None)
    if proto is None:
        return None
    pairs = [t.split("=", 1) for t in tokens if "=" in t]
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    try:
        return CtEntry(
            proto=proto,
            orig_src=_canon(values["src"][0]),
            orig_dst=_canon(values["dst"][0]),
            orig_sport=int(values["sport"][0]),
            orig_dport=int(values["dport"][0]),
            reply_src=_canon(values["src"][1]),
            reply_sport=int(values["sport"][1]),
            mark=int(values.get("mark", ["0"])[0]),
            state=_state(tokens),
        )
    except (KeyError, IndexError, ValueError):
        return None


def _state(tokens: list[str]) -> str:
    """TCP state: the token just before the first ``key=value`` (absent for UDP)."""
    first = next(i for i, t in enumerate(tokens) if "=" in t)
    previous = tokens[first - 1] if first else ""
    return previous if previous.replace("_", "").isalpha() and previous.isupper() else ""


def parse(text: str) -> list[CtEntry]:
    return [e for e in map(parse_line, text.splitlines()) if e is not None]


def index(entries: Iterable[CtEntry]) -> dict[tuple[str, str, int, str, int], CtEntry]:
    return {e.key: e for e in entries}


def chosen_member(entry: CtEntry | None, marks: Mapping[str, int]) -> str | None:
    """The member the balancer chose: from the flow's mark, else from the DNAT'd reply source."""
    if entry is None:
        return None
    by_mark = {mark: member for member, mark in marks.items()}
    if entry.mark in by_mark:
        return _canon(by_mark[entry.mark])
    if entry.reply_src != entry.orig_dst:
        return entry.reply_src
    return None
