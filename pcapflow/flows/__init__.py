"""Flow reassembly with Zeek's conn.log semantics (see docs/flows.md).

Packet batches (``PACKET_DTYPE``) -> TCP connections and UDP/ICMP flows with Zeek's
``conn_state``, ``history``, byte and packet counts, timeouts and direction heuristics, plus
what reconciliation across NAT needs (ISN, first SYN's IP ID/TTL/options/TSval, frames).
"""

from __future__ import annotations

from pcapflow.flows.api import assemble, iter_flows, read_capture, read_flows
from pcapflow.flows.assembler import AssemblyStats, FlowAssembler, FlowBlock, Params

__all__ = [
    "AssemblyStats",
    "FlowAssembler",
    "FlowBlock",
    "Params",
    "assemble",
    "iter_flows",
    "read_capture",
    "read_flows",
]
