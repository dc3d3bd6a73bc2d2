"""One connection as seen at every capture point: its legs on both sides of the load balancer."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcapflow.model.flow import Flow
from pcapflow.model.lb import RuleMatch
from pcapflow.model.packet import PacketRef
from pcapflow.reconcile.packets import ConnKey

# Leg roles.
OUTBOUND = "outbound"  # the caller's view: caller -> VIP:frontend_port (the attempt itself)
COPY = "copy"  # the same pre-translation packets seen at another capture point
TRANSLATED = "translated"  # after DNAT: caller -> member:backend_port (or VIP:bp with floating IP)
DIRECT = "direct"  # a connection that does not involve a frontend
PROBE = "probe"  # a health probe from the load balancer to a member


def flow_id(flow: Flow) -> str:
    """The stable id of a flow in an analysis: ``<file_idx>:<uid>``."""
    return f"{flow.file_idx}:{flow.uid}"


@dataclass(frozen=True, slots=True)
class LegFlow:
    """One flow of a connection, with the part it plays."""

    flow: Flow
    role: str
    member: str | None = None  # for translated legs: the member that received it, when known

    @property
    def id(self) -> str:
        return flow_id(self.flow)


@dataclass(frozen=True, slots=True)
class PacketPair:
    """One outbound packet and its translated copy (each SYN retransmission is its own pair)."""

    outbound: PacketRef
    translated: PacketRef
    matched_on: tuple[str, ...]
    delta_s: float  # translated minus outbound, on the reference clock


@dataclass(frozen=True, slots=True)
class Connection:
    """Every flow, at every capture point, that belongs to one connection."""

    key: ConnKey | None
    legs: tuple[LegFlow, ...]
    frontend: tuple[str, int] | None = None  # (VIP, frontend port) when the caller used a frontend
    rule: RuleMatch | None = None  # the declared rule that explains the translation
    member: str | None = None  # the member the balancer chose, when seen
    self_mapped: bool = False  # the translated copy came back to the caller's own host
    undeclared: bool = False  # a translation was seen that no declared rule explains
    pairs: tuple[PacketPair, ...] = ()
    caller_local: bool = False  # the representative leg was captured on the caller's own host
    rep_member: str | None = None  # floating IP: the representative was captured on this member
    notes: tuple[str, ...] = field(default=())

    @property
    def representative(self) -> LegFlow:
        """The leg that stands for the connection: the outbound leg if any, else the first."""
        return next((leg for leg in self.legs if leg.role == OUTBOUND), self.legs[0])

    @property
    def translated(self) -> tuple[LegFlow, ...]:
        return tuple(leg for leg in self.legs if leg.role == TRANSLATED)

    @property
    def is_attempt(self) -> bool:
        return self.frontend is not None

    @property
    def rule_name(self) -> str | None:
        return None if self.rule is None else f"{self.rule.lb.name}/{self.rule.rule.name}"
