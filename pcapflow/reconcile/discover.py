"""Without a declared config: find the translations in the captures and suggest a config.

A translation is a connection (same caller, caller port, protocol and ISN) seen with two different
destinations, whose packets are copies of each other (IP ID / TSval / payload) within the pairing
window.  The destination seen first (on the reference clock) is the frontend; the other is the
member.  A copy addressed back to its own source is always the member side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pcapflow.model.flow import Flow
from pcapflow.model.lb import (
    BackendPool,
    Frontend,
    LbConfig,
    LoadBalancer,
    Member,
    Protocol,
    Rule,
)
from pcapflow.reconcile.invariants import DEFAULT_WINDOW, PairingWindow, is_copy
from pcapflow.reconcile.join import CaptureView
from pcapflow.reconcile.packets import conn_key, initiating_packets

DISCOVERED_LB = "discovered-lb"


@dataclass(frozen=True, slots=True)
class Translation:
    """``vip:frontend_port`` was rewritten into ``member:backend_port`` for one connection."""

    proto: str
    vip: str
    frontend_port: int
    member: str
    backend_port: int
    caller: str


def discover_translations(
    views: Sequence[CaptureView], window: PairingWindow = DEFAULT_WINDOW
) -> tuple[Translation, ...]:
    offsets = {v.file_idx: v.offset_s for v in views}
    groups: dict[object, list[Flow]] = defaultdict(list)
    for view in views:
        for flow in view.flows:
            key = conn_key(flow)
            if key is not None and initiating_packets(flow):
                groups[key].append(flow)
    multi = [flows for flows in groups.values() if len({_dst(f) for f in flows}) > 1]
    partners = _partners(multi)
    found: set[Translation] = set()
    for flows in multi:
        found.update(_translations(flows, partners, offsets, window))
    return tuple(sorted(found, key=lambda t: (t.vip, t.frontend_port, t.proto, t.member)))


Endpoint = tuple[str, int]


def _dst(flow: Flow) -> Endpoint:
    return (flow.resp_h, flow.resp_p)


def _partners(groups: list[list[Flow]]) -> dict[Endpoint, set[Endpoint]]:
    """For each destination, the other destinations the same connections were seen with.  A
    frontend is seen with every member; a member only with its frontend."""
    partners: dict[Endpoint, set[Endpoint]] = defaultdict(set)
    for flows in groups:
        dsts = {_dst(f) for f in flows}
        for d in dsts:
            partners[d] |= dsts - {d}
    return partners


def _translations(
    flows: list[Flow],
    partners: dict[Endpoint, set[Endpoint]],
    offsets: dict[int, float],
    window: PairingWindow,
) -> list[Translation]:
    def rank(f: Flow) -> tuple[bool, int, float]:
        # a copy addressed to its own source is never the frontend; then the destination seen
        # with most partners; then the first captured (uncorrected: the copy follows it)
        return (f.resp_h == f.orig_h, -len(partners[_dst(f)]), initiating_packets(f)[0].ts)

    pre = min(flows, key=rank)
    out: list[Translation] = []
    for flow in flows:
        if _dst(flow) == _dst(pre):
            continue
        if _copies(pre, flow, offsets, window):
            out.append(
                Translation(
                    flow.proto, pre.resp_h, pre.resp_p, flow.resp_h, flow.resp_p, pre.orig_h
                )
            )
    return out


def _copies(a: Flow, b: Flow, offsets: dict[int, float], window: PairingWindow) -> bool:
    limit = window.limit(a.file_idx == b.file_idx)
    for pa in initiating_packets(a):
        for pb in initiating_packets(b):
            delta = (pb.ts + offsets[b.file_idx]) - (pa.ts + offsets[a.file_idx])
            if abs(delta) <= limit and is_copy(pa, pb):
                return True
    return False


def suggest_config(translations: Sequence[Translation]) -> LbConfig:
    """One load balancer with a frontend per VIP and a rule + pool per (VIP, port, protocol)."""
    by_rule: dict[tuple[str, int, str], list[Translation]] = defaultdict(list)
    for t in translations:
        by_rule[(t.vip, t.frontend_port, t.proto)].append(t)
    vips = sorted({t.vip for t in translations})
    frontends = tuple(Frontend(f"fe-{i + 1}", vip) for i, vip in enumerate(vips))
    fe_name = {fe.address: fe.name for fe in frontends}
    pools: list[BackendPool] = []
    rules: list[Rule] = []
    for (vip, port, proto), items in sorted(by_rule.items()):
        pool = f"pool-{fe_name[vip]}-{proto}-{port}"
        members = tuple(Member(a) for a in sorted({t.member for t in items}))
        pools.append(BackendPool(pool, members))
        backend_ports = sorted({t.backend_port for t in items})
        rules.append(
            Rule(
                name=f"{proto}-{port}",
                frontend=fe_name[vip],
                protocol=Protocol(proto),
                frontend_port=port,
                backend_port=backend_ports[0],
                pool=pool,
            )
        )
    lb = LoadBalancer(
        DISCOVERED_LB, frontends=frontends, pools=tuple(pools), rules=tuple(rules), cloud="generic"
    )
    return LbConfig((lb,), sources=("discovered from the captures",))
