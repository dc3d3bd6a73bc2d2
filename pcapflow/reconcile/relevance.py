"""Which flows the diagnosis needs evidence packets of, decided from the flow table alone.

A busy host's capture holds hundreds of thousands of flows of background traffic and a handful
that concern the load balancer.  Only these need their packets read (a targeted second pass,
:mod:`pcapflow.flows.evidence`):

* flows with an endpoint at a frontend address (any port: floating IP keeps the VIP), at a
  member's backend, probe or inbound-NAT port, or at a probe source;
* flows that may be one connection seen more than once: the same caller address, port and
  protocol in more than one flow of the analysis (a translated copy, a copy at another capture
  point, a candidate translation when no config is given);
* ICMP flows, and UDP flows between two hosts an ICMP flow of the same capture also joins
  (port unreachable errors are matched to datagrams by their packets);
* every flow whose label is not decided by its columns: a TCP flow without a handshake, one long
  enough to hold an idle timeout, a UDP flow nobody answered, any other protocol.

Everything else is a healthy background flow: a single, answered connection that does not touch
the balancer; its verdict is :data:`BACKGROUND_REASON` without looking at a packet.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Sequence

from pcapflow.diagnose.facts import DEFAULT_IDLE_TIMEOUT_MIN
from pcapflow.diagnose.idle_timeout import TOLERANCE
from pcapflow.model.flow import Flow
from pcapflow.model.lb import AZURE_PROBE_SOURCE, LbConfig

BACKGROUND_REASON = "answered"  # the reason ``ok`` gives a healthy flow that is not an attempt
ANY_PORT = -1


def _canon(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def balancer_endpoints(lb: LbConfig | None) -> tuple[frozenset[str], frozenset[tuple[str, int]]]:
    """(addresses that matter on any port, (address, port) endpoints that matter)."""
    addresses = {AZURE_PROBE_SOURCE}
    endpoints: set[tuple[str, int]] = set()
    for bal in lb.load_balancers if lb else ():
        addresses.update(_canon(f.address) for f in bal.frontends)
        addresses.update(_canon(p.source) for p in bal.probes)
        ports: set[int] = {p.port for p in bal.probes}
        ports.update(r.backend_port or r.frontend_port or ANY_PORT for r in bal.rules)
        ports.update(n.backend_port or ANY_PORT for n in bal.inbound_nat_rules)
        for pool in bal.pools:
            for m in pool.members:
                endpoints.update((_canon(m.address), port) for port in ports)
    return frozenset(addresses), frozenset(endpoints)


def _touches(flow: Flow, addresses: frozenset[str], endpoints: frozenset[tuple[str, int]]) -> bool:
    return (
        flow.orig_h in addresses
        or flow.resp_h in addresses
        or (flow.resp_h, flow.resp_p) in endpoints
        or (flow.orig_h, flow.orig_p) in endpoints
        or (flow.resp_h, ANY_PORT) in endpoints
        or (flow.orig_h, ANY_PORT) in endpoints
    )


IDLE_SUSPECT_S = DEFAULT_IDLE_TIMEOUT_MIN * 60.0 * TOLERANCE


def decided_by_columns(flow: Flow) -> bool:
    """A single healthy flow whose verdict (no label, 'answered') needs no packet: a TCP
    connection with a handshake, too short to hold an idle timeout; a UDP flow answered."""
    if flow.proto == "tcp":
        span = max(flow.duration, flow.last_ts - flow.ts)
        return flow.established and span < IDLE_SUSPECT_S
    if flow.proto == "udp":
        return flow.resp_pkts > 0
    return False


def needs_packets(captures: Sequence[Sequence[Flow]], lb: LbConfig | None) -> list[list[bool]]:
    """For every flow of every capture (same order): whether the diagnosis reads its packets."""
    addresses, endpoints = balancer_endpoints(lb)
    callers = Counter((f.orig_h, f.orig_p, f.proto) for flows in captures for f in flows)
    out: list[list[bool]] = []
    for flows in captures:
        icmp_pairs = {frozenset((f.orig_h, f.resp_h)) for f in flows if f.proto == "icmp"}
        out.append(
            [
                not decided_by_columns(f)
                or callers[(f.orig_h, f.orig_p, f.proto)] > 1
                or _touches(f, addresses, endpoints)
                or (f.proto == "udp" and frozenset((f.orig_h, f.resp_h)) in icmp_pairs)
                for f in flows
            ]
        )
    return out
