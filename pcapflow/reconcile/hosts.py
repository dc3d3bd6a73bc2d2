"""Which addresses belong to the machine a capture was taken on (the capture point's host).

Signals, combined:

* the capture point's name (``--point`` or the file name, e.g. ``web01-eth0``) names a VM that the
  config lists as a pool member: that VM's member addresses are local;
* packets that left this host still carry an initial TTL / hop limit (64, 128 or 255); packets
  that crossed a router or the load balancer's host usually do not.  Their source is local;
* otherwise, the address taking part in the most flows.

Frontends (VIPs) and probe sources are never counted: they are the load balancer's addresses.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain

from pcapflow.model.capture import CaptureInfo
from pcapflow.model.flow import Flow
from pcapflow.model.lb import AZURE_PROBE_SOURCE, LbConfig

INITIAL_TTLS = frozenset({64, 128, 255})
# Linux/BSD "lo", "lo0"; Windows Npcap "\\Device\\NPF_Loopback", "Npcap Loopback Adapter"
LOOPBACK_NAME = re.compile(r"lo\d*|.*loopback.*", re.IGNORECASE)
LOOPBACK_LINK_TYPES = frozenset({0, 108})  # DLT_NULL, DLT_LOOP (BSD loopback encapsulation)


def point_vm(point: str | None) -> str | None:
    """``"web01 eth0"`` / ``"web01-eth0.pcap"`` -> ``"web01"``."""
    if not point:
        return None
    head = re.split(r"[\s_\-./:]", point.strip(), maxsplit=1)[0]
    return head.lower() or None


# the lab's ``lb-<vm>-<iface>``: the balancer's side of a VM's port, not the VM itself
BALANCER_SIDE_POINT = re.compile(r"lb[\s_\-]+[^\s_\-./:]+[\s_\-]+\S+", re.IGNORECASE)


def balancer_side(point: str | None) -> bool:
    """``"lb-web01-eth0"`` -> True: a capture taken on the balancer's side of a VM's port
    (sample_captures/README.md); it sees the VM's packets but is not the VM's own capture."""
    return bool(point and BALANCER_SIDE_POINT.fullmatch(point.strip()))


def vm_addresses(lb: LbConfig, vm: str | None) -> frozenset[str]:
    if vm is None:
        return frozenset()
    return frozenset(
        m.address
        for bal in lb.load_balancers
        for pool in bal.pools
        for m in pool.members
        if m.vm and m.vm.lower() == vm
    )


Senders = frozenset[tuple[str, int]]  # (source address, initial TTL) seen in one capture


def ttl_senders(flows: Sequence[Flow]) -> Senders:
    """(source, TTL) of the flows' evidence packets sent with an initial TTL."""
    return frozenset((p.src, p.ttl) for f in flows for p in f.packets if p.ttl in INITIAL_TTLS)


def local_addresses(
    flows: Sequence[Flow],
    lb: LbConfig,
    point: str | None,
    senders: Senders | None = None,
    others: Iterable[str] = (),
) -> frozenset[str]:
    """The addresses of the capture point's host, best effort (``senders``: the capture's
    (source, initial TTL) pairs, when known from every packet; else from ``flows``' packets;
    ``others``: the addresses of the capture's flows not in ``flows``, each flow's two)."""
    balancer = balancer_addresses(lb)
    named = vm_addresses(lb, point_vm(point))
    sent = {a for a, _ttl in (ttl_senders(flows) if senders is None else senders)} - balancer
    found = set(named) | sent
    if not found:
        every = chain((a for f in flows for a in (f.orig_h, f.resp_h)), others)
        counts = Counter(a for a in every if a not in balancer)
        found = {counts.most_common(1)[0][0]} if counts else set()
    return frozenset(found)


def sending_addresses(
    flows: Sequence[Flow], lb: LbConfig, senders: Senders | None = None
) -> frozenset[str]:
    """Addresses seen sending from this host (initial TTL): what the capture really covers."""
    sent = {a for a, _ttl in (ttl_senders(flows) if senders is None else senders)}
    return frozenset(sent - balancer_addresses(lb))


def balancer_addresses(lb: LbConfig) -> frozenset[str]:
    """Frontends and probe sources, in canonical text form."""
    found = {AZURE_PROBE_SOURCE}
    for bal in lb.load_balancers:
        found.update(f.address for f in bal.frontends)
        found.update(p.source for p in bal.probes)
    return frozenset(_canon(a) for a in found)


def _canon(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def point_iface(point: str | None) -> str | None:
    """``"web01 lo"`` / ``"web01-lo"`` -> ``"lo"``: the interface part of a capture point name."""
    if not point:
        return None
    parts = [p for p in re.split(r"[\s_\-/:]", point.strip()) if p]
    return parts[-1].lower() if len(parts) > 1 else None


def loopback_interfaces(info: CaptureInfo, point: str | None) -> frozenset[int]:
    """Interfaces of a capture that are the host's loopback: by the interface's name (pcapng),
    its link type (BSD loopback), or, for a single-interface file, the capture point's name."""
    found = {
        i.index
        for i in info.interfaces
        if (i.name and LOOPBACK_NAME.fullmatch(i.name)) or i.link_type in LOOPBACK_LINK_TYPES
    }
    named = point_iface(point)
    if named and LOOPBACK_NAME.fullmatch(named) and len(info.interfaces) <= 1:
        found |= {i.index for i in info.interfaces} or {0}
    return frozenset(found)
