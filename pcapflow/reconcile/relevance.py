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
the balancer; it is judged from its columns without looking at a packet
(``pcapflow.pipeline``: ``ok`` by its own outcome, a direct call or other).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

from pcapflow.diagnose.facts import DEFAULT_IDLE_TIMEOUT_MIN
from pcapflow.diagnose.idle_timeout import TOLERANCE
from pcapflow.flows.table import Columnar
from pcapflow.model.lb import AZURE_PROBE_SOURCE, LbConfig
from pcapflow.model.packet import (
    PROTO_ICMP,
    PROTO_ICMP6,
    PROTO_TCP,
    PROTO_UDP,
    addr_to_halves,
)

if TYPE_CHECKING:
    from pcapflow.flows.spill import SpilledTable
    from pcapflow.flows.table import FlowTable

    Table: TypeAlias = FlowTable | SpilledTable  # in memory, or in a temporary file

__all__ = [
    "balancer_endpoints",
    "decided_by_columns",
    "in_network",
    "in_probe_ranges",
    "member_addresses_at",
    "needs_packets",
    "pass_one_endpoints",
    "probe_source_ranges",
    "touches_balancer",
]

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


def touches_balancer(table: Table, lb: LbConfig | None) -> npt.NDArray[np.bool_]:
    """Rows with an endpoint at a balancer address, or at a member's backend/probe port
    (compared on the address columns: no text per row): exactly the flows whose packets pass 1
    keeps (:func:`pass_one_endpoints`)."""
    anywhere, endpoints = pass_one_endpoints(lb) if lb is not None else balancer_endpoints(lb)
    hit = np.zeros(len(table), dtype=np.bool_)
    if not len(table):
        return hit
    for side in ("orig", "resp"):
        for address in anywhere:
            hit |= _at(table, side, address)
        for address, p in endpoints:
            if p != ANY_PORT:
                hit |= _at(table, side, address) & (table.cols[f"{side}_p"] == p)
    return hit


def probe_source_ranges(
    lb: LbConfig | None,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks health probes may come from (Google Cloud's probers, an NLB's zones)."""
    nets = {
        ipaddress.ip_network(net, strict=False)
        for bal in (lb.load_balancers if lb else ())
        for probe in bal.probes
        for net in probe.source_ranges
    }
    return tuple(sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen)))


def in_probe_ranges(table: Table, lb: LbConfig | None) -> npt.NDArray[np.bool_]:
    """Rows with an endpoint in a network health probes may come from (their packets are read
    in a second pass: pass 1 keeps only those of :func:`touches_balancer`)."""
    hit = np.zeros(len(table), dtype=np.bool_)
    if not len(table):
        return hit
    for network in probe_source_ranges(lb):
        hit |= in_network(table, "orig", network) | in_network(table, "resp", network)
    return hit


def in_network(
    table: Table, side: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> npt.NDArray[np.bool_]:
    """Rows whose ``side`` ("orig"/"resp") address lies in ``network``."""
    c = table.cols
    value, mask = int(network.network_address), int(network.netmask)
    hi = c[f"{side}_hi"].astype(np.uint64)
    lo = c[f"{side}_lo"].astype(np.uint64)
    found: npt.NDArray[np.bool_] = (
        (c["ver"] == network.version)
        & ((hi & np.uint64(mask >> 64)) == np.uint64(value >> 64))
        & ((lo & np.uint64(mask & 0xFFFFFFFFFFFFFFFF)) == np.uint64(value & 0xFFFFFFFFFFFFFFFF))
    )
    return found


def member_addresses_at(table: Columnar, side: str, lb: LbConfig | None) -> npt.NDArray[np.bool_]:
    """Rows whose ``side`` address is a pool member's (on any port)."""
    hit = np.zeros(len(table), dtype=np.bool_)
    members = {
        _canon(m.address)
        for bal in (lb.load_balancers if lb else ())
        for pool in bal.pools
        for m in pool.members
    }
    for address in sorted(members):
        hit |= _at(table, side, address)
    return hit


def _at(table: Columnar, side: str, address: str) -> npt.NDArray[np.bool_]:
    """Rows whose ``side`` ("orig"/"resp") address is ``address`` (none: not an address)."""
    try:
        v, h, low = addr_to_halves(address)
    except ValueError:
        return np.zeros(len(table), dtype=np.bool_)
    c = table.cols
    found: npt.NDArray[np.bool_] = (
        (c["ver"] == v) & (c[f"{side}_hi"] == h) & (c[f"{side}_lo"] == low)
    )
    return found


IDLE_SUSPECT_S = DEFAULT_IDLE_TIMEOUT_MIN * 60.0 * TOLERANCE


def decided_by_columns(table: Table) -> npt.NDArray[np.bool_]:
    """Rows of single healthy flows whose verdict (no label, 'answered') needs no packet: a
    TCP connection with a handshake, too short to hold an idle timeout; a UDP flow answered."""
    if not len(table):
        return np.zeros(0, dtype=np.bool_)
    proto = table.cols["proto"]
    span = np.maximum(table.duration, table.last_ts - table.ts)
    tcp = (proto == PROTO_TCP) & (span < IDLE_SUSPECT_S)
    tcp[tcp] &= table.established_at(np.flatnonzero(tcp))
    udp = (proto == PROTO_UDP) & (table.cols["resp_pkts"] > 0)
    decided: npt.NDArray[np.bool_] = tcp | udp
    return decided


def _repeated_callers(tables: Sequence[Table]) -> list[npt.NDArray[np.bool_]]:
    """Rows that may share a connection key (:func:`pcapflow.reconcile.packets.conn_key`)
    with another flow, in any capture: the same caller address, port and protocol, and for TCP
    the same ISN, or an ISN the columns do not know (no SYN seen: it comes from the SYN-ACK)."""
    sizes = [len(t) for t in tables]
    if not sum(sizes):
        return [np.zeros(0, dtype=np.bool_) for _ in tables]
    full = [t for t in tables if len(t)]

    def column(name: str) -> npt.NDArray[np.uint64]:
        return np.concatenate([t.cols[name] for t in full]).astype(np.uint64)

    # a 64-bit mix of (address, port, protocol): a collision only makes two flows relevant
    with np.errstate(over="ignore"):
        key = column("orig_lo") * np.uint64(0x9E3779B97F4A7C15)
        key ^= column("orig_hi") * np.uint64(0xC2B2AE3D27D4EB4F)
        key ^= (column("orig_p") << np.uint64(8)) | column("proto")
        key ^= column("ver") << np.uint64(60)
    isn = np.concatenate([t.cols["isn"] for t in full]).astype(np.int64)
    known = (column("proto") == PROTO_TCP) & (isn >= 0)
    with np.errstate(over="ignore"):
        fine = key ^ np.where(known, isn.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93), 0)
    _k, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    unknown = np.bincount(inverse.ravel(), weights=~known, minlength=counts.shape[0]) > 0
    _f, fine_inverse, fine_counts = np.unique(fine, return_inverse=True, return_counts=True)
    group = inverse.ravel()
    repeated = (fine_counts[fine_inverse.ravel()] > 1) | ((counts[group] > 1) & unknown[group])
    return np.split(repeated, np.cumsum(sizes)[:-1])


def _icmp_neighbours(table: Table) -> npt.NDArray[np.bool_]:
    """UDP rows between two hosts that an ICMP flow of the same capture also joins (the
    address pairs compared as 64-bit mixes first, then as text for the few that match)."""
    hit = np.zeros(len(table), dtype=np.bool_)
    if not len(table):
        return hit
    proto = table.cols["proto"]
    icmp_rows = np.flatnonzero((proto == PROTO_ICMP) | (proto == PROTO_ICMP6))
    if not icmp_rows.size:
        return hit
    udp_rows = np.flatnonzero(proto == PROTO_UDP)
    del proto
    mixed = _pair_mixes(table, np.concatenate([icmp_rows, udp_rows]))
    maybe = udp_rows[np.isin(mixed[icmp_rows.size :], mixed[: icmp_rows.size])]
    if not maybe.size:
        return hit
    icmp = table.take(icmp_rows)
    pairs = {frozenset(p) for p in zip(icmp.orig_h.tolist(), icmp.resp_h.tolist(), strict=True)}
    udp = table.take(maybe)
    for i, a, b in zip(maybe.tolist(), udp.orig_h.tolist(), udp.resp_h.tolist(), strict=True):
        hit[i] = frozenset((a, b)) in pairs
    return hit


def _pair_mixes(table: Table, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """Per row, a 64-bit mix of its two addresses that does not depend on their order."""
    ver = table.cols["ver"][rows].astype(np.uint64)
    with np.errstate(over="ignore"):
        ends = [
            (table.cols[f"{side}_lo"][rows].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
            ^ (table.cols[f"{side}_hi"][rows].astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
            ^ ver
            for side in ("orig", "resp")
        ]
        low, high = np.minimum(*ends), np.maximum(*ends)
        mixed: npt.NDArray[np.uint64] = low ^ (high * np.uint64(0xD6E8FEB86659FD93))
    return mixed


def needs_packets(tables: Sequence[Table], lb: LbConfig | None) -> list[npt.NDArray[np.bool_]]:
    """For every row of every capture's flow table: whether the diagnosis reads its packets."""
    repeated = _repeated_callers(tables)
    return [
        ~decided_by_columns(t)
        | repeated[i]
        | touches_balancer(t, lb)
        | in_probe_ranges(t, lb)
        | _icmp_neighbours(t)
        for i, t in enumerate(tables)
    ]


def pass_one_endpoints(lb: LbConfig) -> tuple[frozenset[str], frozenset[tuple[str, int]]]:
    """(addresses on any port, (address, port) endpoints): every packet of a flow that
    :func:`touches_balancer` has one of them as its source or destination."""
    addresses, endpoints = balancer_endpoints(lb)
    anywhere = addresses | {a for a, p in endpoints if p == ANY_PORT}
    return anywhere, frozenset((a, p) for a, p in endpoints if p != ANY_PORT)
