"""Clock offsets between capture files, estimated from packets seen at two capture points.

The same packet (a caller's SYN, a member's SYN-ACK) captured on two machines carries the same
invariants; the difference of its two timestamps is the clock offset plus the transit time.  The
median difference over every such packet estimates the offset robustly.  File 0 is the reference;
``offset[i]`` is what to add to file ``i``'s timestamps to put them on file 0's clock.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pcapflow.model.flow import Flow
from pcapflow.model.packet import PacketRef
from pcapflow.reconcile.packets import initiating_packets, synacks

PacketIdentity = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class ClockOffset:
    file_idx: int
    offset_s: float  # add to this file's timestamps to align with file 0
    basis: int  # matched packets the estimate rests on (0 = not estimated)
    via: int | None = None  # the file it was estimated against


def packet_identity(pkt: PacketRef, *, reply: bool) -> PacketIdentity:
    """What stays the same when a load balancer rewrites a destination (or a reply's source)."""
    if reply:
        return ("r", pkt.dst, pkt.dport, pkt.proto, pkt.seq, pkt.ack, pkt.tsval)
    return ("o", pkt.src, pkt.sport, pkt.proto, pkt.seq, pkt.ip_id, pkt.tsval, pkt.payload_hash)


def identities(flows: Iterable[Flow]) -> dict[PacketIdentity, float]:
    """First capture time of each identifiable packet in one file."""
    seen: dict[PacketIdentity, float] = {}
    for flow in flows:
        tagged = [(p, False) for p in initiating_packets(flow)] + [(p, True) for p in synacks(flow)]
        for pkt, reply in tagged:
            seen.setdefault(packet_identity(pkt, reply=reply), pkt.ts)
    return seen


def pairwise_differences(
    per_file: Sequence[dict[PacketIdentity, float]],
) -> dict[tuple[int, int], list[float]]:
    """For each pair of files (i < j): ``ts_j - ts_i`` of every packet both captured."""
    diffs: dict[tuple[int, int], list[float]] = defaultdict(list)
    for i, left in enumerate(per_file):
        for j in range(i + 1, len(per_file)):
            right = per_file[j]
            for key in left.keys() & right.keys():
                diffs[(i, j)].append(right[key] - left[key])
    return diffs


def estimate_offsets(per_file_flows: Sequence[Sequence[Flow]]) -> tuple[ClockOffset, ...]:
    """One offset per file, chained from file 0 along the best-matched pairs of files."""
    n = len(per_file_flows)
    diffs = pairwise_differences([identities(flows) for flows in per_file_flows])
    known: dict[int, ClockOffset] = {0: ClockOffset(0, 0.0, 0)} if n else {}
    while len(known) < n:
        edge = _best_edge(diffs, known)
        if edge is None:
            break
        src, dst, median, count = edge
        known[dst] = ClockOffset(dst, known[src].offset_s - median, count, src)
    return tuple(known.get(i, ClockOffset(i, 0.0, 0)) for i in range(n))


def _best_edge(
    diffs: dict[tuple[int, int], list[float]], known: dict[int, ClockOffset]
) -> tuple[int, int, float, int] | None:
    """The pair (known file, unknown file) with the most matched packets, and its median."""
    best: tuple[int, int, float, int] | None = None
    for (i, j), values in sorted(diffs.items()):
        if (i in known) == (j in known):
            continue
        median = statistics.median(values)
        src, dst, delta = (i, j, median) if i in known else (j, i, -median)
        if best is None or len(values) > best[3]:
            best = (src, dst, delta, len(values))
    return best
