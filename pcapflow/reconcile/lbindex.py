"""Memoised queries on a load-balancer config (the same few addresses are asked about for
every flow of a capture)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pcapflow.model.lb import LbConfig, Member, RuleMatch


@dataclass(slots=True)
class LbIndex:
    """``LbConfig`` queries with a cache per question."""

    lb: LbConfig
    _rules: dict[tuple[str, int, str], tuple[RuleMatch, ...]] = field(default_factory=dict)
    _explain: dict[tuple[str, int, str, int, str], RuleMatch | None] = field(default_factory=dict)
    _balancer: dict[str, bool] = field(default_factory=dict)
    _member: dict[str, Member | None] = field(default_factory=dict)
    _probe: dict[str, bool] = field(default_factory=dict)

    def rules_for(self, vip: str, port: int, proto: str) -> tuple[RuleMatch, ...]:
        key = (vip, port, proto)
        if key not in self._rules:
            self._rules[key] = self.lb.rules_for(vip, port, proto)
        return self._rules[key]

    def explain(self, vip: str, vport: int, dst: str, dport: int, proto: str) -> RuleMatch | None:
        key = (vip, vport, dst, dport, proto)
        if key not in self._explain:
            self._explain[key] = self.lb.explain(vip, vport, dst, dport, proto)
        return self._explain[key]

    def is_balancer(self, address: str) -> bool:
        """A frontend or a probe source: an address of the load balancer, not of a host."""
        if address not in self._balancer:
            lb = self.lb
            self._balancer[address] = lb.is_frontend(address) or lb.is_probe_source(address)
        return self._balancer[address]

    def member(self, address: str) -> Member | None:
        if not self._member:
            self._member.update(
                (_canon(m.address), m)
                for bal in reversed(self.lb.load_balancers)
                for pool in reversed(bal.pools)
                for m in reversed(pool.members)
            )
            self._member[""] = None
        return self._member.get(address)

    def is_probe_source(self, address: str) -> bool:
        if address not in self._probe:
            self._probe[address] = self.lb.is_probe_source(address)
        return self._probe[address]


def _canon(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address
