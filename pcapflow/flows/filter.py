"""A small BPF-like filter language over flows, parsed by recursive descent.

Grammar (keywords case-insensitive; ``src``/``dst`` mean the originator/responder side)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := not_expr (["and"] not_expr)*          # juxtaposition means "and"
    not_expr  := ("not" | "!") not_expr | "(" expr ")" | primitive
    primitive := "tcp" | "udp" | "icmp"
               | ["src" | "dst"] "host" ADDRESS
               | ["src" | "dst"] "net" CIDR
               | ["src" | "dst"] "port" NUMBER
               | ("conn_state" | "state") STATE
               | "history" LETTERS                      # history contains LETTERS

``&&`` and ``||`` are accepted for ``and`` / ``or``.  Examples: ``host 10.2.1.4 and port 80``,
``net 10.2.0.0/16``, ``not port 53``, ``conn_state S0``, ``tcp and (dst port 80 or dst port 443)``.
A filter evaluates to a boolean mask over a flow DataFrame (:func:`parse` then ``.mask(frame)``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcapflow.errors import InputError
from pcapflow.flows.layout import CONN_STATES

if TYPE_CHECKING:  # pandas is imported where it is used (the csv path never needs it)
    import pandas as pd

_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||!|[^\s()!]+)")
_SIDES = {"src": ("id.orig_h", "id.orig_p"), "dst": ("id.resp_h", "id.resp_p")}


def _nothing(frame: pd.DataFrame) -> pd.Series:
    """An all-False mask for the rows of ``frame``."""
    import pandas as pd

    return pd.Series(False, index=frame.index)


class Node:
    """A parsed filter expression."""

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        raise NotImplementedError


@dataclass(frozen=True)
class Or(Node):
    left: Node
    right: Node

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return self.left.mask(frame) | self.right.mask(frame)


@dataclass(frozen=True)
class And(Node):
    left: Node
    right: Node

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return self.left.mask(frame) & self.right.mask(frame)


@dataclass(frozen=True)
class Not(Node):
    inner: Node

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return ~self.inner.mask(frame)


@dataclass(frozen=True)
class Proto(Node):
    name: str

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return frame["proto"] == self.name


@dataclass(frozen=True)
class Host(Node):
    side: str | None
    address: str

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        cols = [_SIDES[self.side][0]] if self.side else ["id.orig_h", "id.resp_h"]
        result = _nothing(frame)
        for col in cols:
            result |= frame[col] == self.address
        return result


@dataclass(frozen=True)
class Net(Node):
    side: str | None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        cols = [_SIDES[self.side][0]] if self.side else ["id.orig_h", "id.resp_h"]
        result = _nothing(frame)
        for col in cols:
            uniq = frame[col].unique()
            inside = {a for a in uniq if _in_network(a, self.network)}
            result |= frame[col].isin(inside)
        return result


@dataclass(frozen=True)
class Port(Node):
    side: str | None
    port: int

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        cols = [_SIDES[self.side][1]] if self.side else ["id.orig_p", "id.resp_p"]
        is_ported = frame["proto"].isin(["tcp", "udp"])
        result = _nothing(frame)
        for col in cols:
            result |= frame[col] == self.port
        return result & is_ported


@dataclass(frozen=True)
class State(Node):
    state: str

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return frame["conn_state"] == self.state


@dataclass(frozen=True)
class History(Node):
    letters: str

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        return frame["history"].str.contains(self.letters, regex=False)


def _in_network(address: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.version == network.version and ip in network


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or not m.group(1):
                if text[pos:].strip():
                    self.fail(f"unexpected character {text[pos]!r}", pos)
                break
            self.tokens.append((m.group(1), m.start(1)))
            pos = m.end()
        self.i = 0

    def fail(self, problem: str, pos: int | None = None) -> None:
        if pos is None:
            pos = self.tokens[self.i][1] if self.i < len(self.tokens) else len(self.text)
        raise InputError(f"bad filter {self.text!r}: {problem} at position {pos + 1}")

    def peek(self) -> str | None:
        return self.tokens[self.i][0].lower() if self.i < len(self.tokens) else None

    def take(self) -> str:
        if self.i >= len(self.tokens):
            self.fail("unexpected end of filter")
        tok = self.tokens[self.i][0]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            self.fail("empty filter", 0)
        node = self.expr()
        if self.i < len(self.tokens):
            self.fail(f"unexpected {self.tokens[self.i][0]!r}")
        return node

    def expr(self) -> Node:
        node = self.and_expr()
        while self.peek() in ("or", "||"):
            self.take()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.peek() is not None and self.peek() not in ("or", "||", ")"):
            if self.peek() in ("and", "&&"):
                self.take()
            node = And(node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok in ("not", "!"):
            self.take()
            return Not(self.not_expr())
        if tok == "(":
            self.take()
            node = self.expr()
            if self.peek() != ")":
                self.fail("missing ')'")
            self.take()
            return node
        return self.primitive()

    def primitive(self) -> Node:
        tok = self.peek()
        if tok is None:
            self.fail("expected a filter term")
        start = self.i
        word = self.take().lower()
        if word in ("tcp", "udp", "icmp"):
            return Proto(word)
        if word in ("conn_state", "state"):
            value = self.take().upper()
            if value not in CONN_STATES:
                self.i -= 1
                self.fail(f"unknown conn_state {value!r} (known: {', '.join(CONN_STATES)})")
            return State(value)
        if word == "history":
            return History(self.take())
        side: str | None = None
        if word in _SIDES:
            side = word
            word = self.take().lower()
        if word == "host":
            value = self.take()
            try:
                return Host(side, str(ipaddress.ip_address(value)))
            except ValueError:
                self.i -= 1
                self.fail(f"not an IP address: {value!r}")
        if word == "net":
            value = self.take()
            try:
                return Net(side, ipaddress.ip_network(value, strict=False))
            except ValueError:
                self.i -= 1
                self.fail(f"not a network: {value!r}")
        if word == "port":
            value = self.take()
            if not value.isdigit() or int(value) > 65535:
                self.i -= 1
                self.fail(f"not a port number: {value!r}")
            return Port(side, int(value))
        self.i = start
        self.fail(f"unknown filter term {self.tokens[start][0]!r}")
        raise AssertionError("unreachable")


def parse(text: str) -> Node:
    """Parse a filter expression; :class:`InputError` (one line) when it is malformed."""
    return _Parser(text).parse()
