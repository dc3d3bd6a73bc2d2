"""Flows first, evidence packets of chosen flows second: analysis cost that follows what matters.

:func:`read_lean` reads a capture once and keeps the flow table only (no packet objects), the
connection-key hash of every flow, and which source addresses sent packets with an initial
TTL (what :mod:`pcapflow.reconcile.hosts` needs from every packet).  :func:`load_evidence`
reads the file a second time and keeps the packets of the flows asked for: a packet belongs to
a flow when its key hash is the flow's and its frame lies between the flow's first and last
frame (a key has one live flow at a time), exactly the packets the assembler gave that flow.
Memory is bounded by the flow table and the packets of the chosen flows.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow.capture.prefetch import prefetched
from pcapflow.flows import observe
from pcapflow.flows.api import _backend, _gc_paused, capture_blocks
from pcapflow.flows.keys import packet_keys
from pcapflow.flows.records import _AddrCache, packet_refs
from pcapflow.flows.spill import SpilledTable, table_of_blocks
from pcapflow.flows.table import FlowTable
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.flow import Flow
from pcapflow.model.packet import (
    PACKET_DTYPE,
    PF_FRAGMENT,
    PROTO_ICMP,
    PROTO_ICMP6,
    PROTO_TCP,
    PROTO_UDP,
    RST,
    SYN,
    PacketArray,
    addr_to_halves,
)

EDGE_PACKETS = 64  # first and last packets kept of a long flow
GAP_BUCKET_S = 30.0  # silences this long or longer are kept exactly (idle timeouts: >= 4 min)
AFTER_SILENCE = 6  # packets kept after every silence (IdleGap.EDGE_PACKETS)
INITIAL_TTLS = (64, 128, 255)  # as pcapflow.reconcile.hosts.INITIAL_TTLS
_FLOW_PROTOS = (PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMP6)
_RAW = np.dtype((np.void, PACKET_DTYPE.itemsize))


@dataclass(frozen=True, slots=True)
class LeanCapture:
    """One capture's flow table without packets, and what the host facts need of its packets."""

    info: CaptureInfo
    table: FlowTable | SpilledTable  # sorted by (ts, uid); ``key_hash``: the key's hash; a
    # large table is kept in a temporary file (:mod:`pcapflow.flows.spill`)
    senders: frozenset[tuple[str, int]]  # (source, TTL) of packets sent with an initial TTL
    side: PacketArray | None = None  # packets kept in pass 1 (see ``read_lean``'s ``keep``)
    sha256: Future[str] | None = None  # the file's hash, when it is computed apart from pass 1
    resume: tuple[tuple[int, int], ...] = ()  # where pass 2 may start reading (offset, frames)

    def settled(self) -> LeanCapture:
        """With ``info.sha256`` filled in (waits for the hash computed apart, if any)."""
        if self.sha256 is None:
            return self
        return replace(self, info=replace(self.info, sha256=self.sha256.result()), sha256=None)


_INITIAL = np.zeros(256, dtype=np.bool_)
_INITIAL[list(INITIAL_TTLS)] = True
_FLOWING = np.zeros(256, dtype=np.bool_)
_FLOWING[list(_FLOW_PROTOS)] = True


class _Senders:
    """Distinct (IP version, source, TTL) of the packets with an initial TTL, batch by batch
    (IPv4 ones in a numba hash set, :mod:`pcapflow.flows.observe`)."""

    def __init__(self) -> None:
        self.table = np.zeros(1 << 12, dtype=np.uint64)
        self.used = 0
        self.packed = np.zeros(0, dtype=np.uint64)
        self.v6: set[tuple[int, int, int]] = set()

    def add(self, batch: PacketArray) -> None:
        if self.packed.shape[0] < len(batch):
            self.packed = np.zeros(len(batch), dtype=np.uint64)
        ttl, proto = batch["ttl"], batch["proto"]
        n, v6 = observe.pack_senders(
            ttl, proto, batch["ip_ver"], batch["src_lo"], _INITIAL, _FLOWING, self.packed
        )
        self._insert(self.packed, int(n))
        if v6:
            mask = _INITIAL[ttl] & _FLOWING[proto] & (batch["ip_ver"] != 4)
            hi, lo = batch["src_hi"][mask].tolist(), batch["src_lo"][mask].tolist()
            self.v6.update(zip(hi, lo, ttl[mask].tolist(), strict=True))

    def _insert(self, values: npt.NDArray[np.uint64], n: int) -> None:
        used = int(observe.insert(values, n, self.table, self.used))
        while used < 0:  # half full: twice the slots, the values so far again, then these
            old = self.table[self.table != observe.EMPTY]
            self.table = np.zeros(self.table.shape[0] * 2, dtype=np.uint64)
            self.used = int(observe.insert(old, old.shape[0], self.table, 0))
            used = int(observe.insert(values, n, self.table, self.used))
        self.used = used

    @property
    def v4(self) -> set[int]:
        return set(self.table[self.table != observe.EMPTY].tolist())

    def texts(self, addrs: _AddrCache) -> frozenset[tuple[str, int]]:
        found = {(addrs.text(4, 0, v & 0xFFFFFFFF), v >> 32) for v in self.v4}
        found |= {(addrs.text(6, hi, lo), ttl) for hi, lo, ttl in self.v6}
        return frozenset(found)


_MIX = np.uint64(0x9E3779B97F4A7C15)
_PORT_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def _address_keys(ver: Any, hi: Any, lo: Any) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        mixed = np.multiply(np.asarray(hi, dtype=np.uint64), _MIX)
        keys = np.bitwise_xor(np.asarray(lo, dtype=np.uint64), mixed)
        return np.bitwise_xor(keys, np.asarray(ver, dtype=np.uint64))


def _endpoint_keys(addr: npt.NDArray[np.uint64], port: Any) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        keys: npt.NDArray[np.uint64] = addr ^ (
            (np.asarray(port, dtype=np.uint64) + np.uint64(1)) * _PORT_MIX
        )
    return keys


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Addresses (any port) and (address, port) endpoints whose packets pass 1 keeps."""

    addresses: frozenset[str]
    endpoints: frozenset[tuple[str, int]]


class _SideTable:
    """Pass 1 keeps the packets to or from chosen endpoints (a superset: keys are hashed), so
    that the flows touching them need no second pass."""

    def __init__(self, chosen: Endpoints) -> None:
        halves = [h for a in chosen.addresses if (h := _halves(a)) is not None]
        self.any = np.array(sorted({int(k) for k in _keys(halves)}), dtype=np.uint64)
        pairs = [(h, p) for a, p in chosen.endpoints if (h := _halves(a)) is not None]
        ports = np.array([p for _h, p in pairs], dtype=np.uint64)
        self.ends = np.unique(_endpoint_keys(_keys([h for h, _p in pairs]), ports))
        self.hosts = np.unique(_keys([h for h, _p in pairs]))  # fragments carry no ports
        self.parts: list[PacketArray] = []

    def add(self, batch: PacketArray) -> None:
        src = _address_keys(batch["ip_ver"], batch["src_hi"], batch["src_lo"])
        dst = _address_keys(batch["ip_ver"], batch["dst_hi"], batch["dst_lo"])
        mask = np.isin(src, self.any) | np.isin(dst, self.any)
        if self.ends.size:
            mask |= np.isin(_endpoint_keys(src, batch["sport"]), self.ends)
            mask |= np.isin(_endpoint_keys(dst, batch["dport"]), self.ends)
            fragment = (batch["pflags"] & PF_FRAGMENT) != 0
            if fragment.any():
                mask |= fragment & (np.isin(src, self.hosts) | np.isin(dst, self.hosts))
        if mask.any():
            self.parts.append(batch[mask].view(_RAW).copy())

    def rows(self) -> PacketArray:
        if not self.parts:
            return np.zeros(0, dtype=PACKET_DTYPE)
        return np.concatenate(self.parts).view(PACKET_DTYPE)


def _halves(address: str) -> tuple[int, int, int] | None:
    """(version, hi, lo) of an address; None for text that is not one (it matches nothing)."""
    try:
        return addr_to_halves(address)
    except ValueError:
        return None


def _keys(halves: Sequence[tuple[int, int, int]]) -> npt.NDArray[np.uint64]:
    if not halves:
        return np.zeros(0, dtype=np.uint64)
    ver, hi, lo = zip(*halves, strict=True)
    return _address_keys(ver, hi, lo)


def read_lean(
    path: str,
    *,
    engine: str = "fast",
    file_idx: int = 0,
    keep: Endpoints | None = None,
    ignore_checksums: bool | None = None,
    digest: bool = True,
) -> LeanCapture:
    """First pass: the flows of a capture (no evidence packets) and its senders; with
    ``keep``, the packets to and from those endpoints too (``LeanCapture.side``);
    ``ignore_checksums`` as in :class:`pcapflow.flows.Params`; ``digest=False``: no SHA-256
    (``info.sha256`` empty)."""
    senders = _Senders()
    side = _SideTable(keep) if keep is not None else None
    resume: list[tuple[int, int]] = []

    def observe(batch: PacketArray) -> None:
        senders.add(batch)
        if side is not None:
            side.add(batch)

    blocks, _asm, info = capture_blocks(
        path,
        engine=engine,
        file_idx=file_idx,
        packets_per_flow=0,
        ignore_checksums=ignore_checksums,
        observe=observe,
        checksums=side is not None,  # (evidence packets carry the checksum flags)
        digest=digest,
        resume=resume,
    )
    table = table_of_blocks(blocks)
    return LeanCapture(
        info=info[0],
        table=table,
        senders=senders.texts(_AddrCache()),
        side=side.rows() if side is not None else None,
        resume=tuple(resume),
    )


@dataclass(frozen=True, slots=True)
class _Wanted:
    """The chosen flows, sorted by (key, first frame), for finding a packet's flow."""

    order: npt.NDArray[np.int64]  # position in the caller's list, per sorted entry
    keys: npt.NDArray[np.uint64]  # distinct key hashes, sorted
    start: npt.NDArray[np.int64]  # key rank << 32 | first frame, sorted
    last: npt.NDArray[np.int64]  # last frame, same order

    @classmethod
    def of(cls, hashes: npt.NDArray[np.uint64], first: Any, last: Any) -> _Wanted:
        keys, rank = np.unique(hashes, return_inverse=True)
        start = (rank.astype(np.int64) << 32) | np.asarray(first, dtype=np.int64)
        order = np.argsort(start, kind="stable")
        return cls(order, keys, start[order], np.asarray(last, dtype=np.int64)[order])

    def locate(self, batch: PacketArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(rows of ``batch`` that belong to a chosen flow, the flow's sorted index)."""
        hashes, valid, _icmp = packet_keys(batch)
        rank = np.searchsorted(self.keys, hashes)
        rank[rank >= self.keys.shape[0]] = 0
        hit = valid & (self.keys[rank] == hashes)
        rows = np.flatnonzero(hit)
        frame = batch["frame"][rows].astype(np.int64)
        composite = (rank[rows].astype(np.int64) << 32) | frame
        pos = np.searchsorted(self.start, composite, side="right") - 1
        ok = pos >= 0
        ok[ok] &= (self.start[pos[ok]] >> 32) == (composite[ok] >> 32)
        ok[ok] &= frame[ok] <= self.last[pos[ok]]
        return rows[ok], pos[ok]


def load_evidence(
    path: str,
    flows: Sequence[Flow],
    key_hash: npt.NDArray[np.uint64],
    *,
    engine: str = "fast",
    file_idx: int = 0,
    keep: int = EDGE_PACKETS,
    side: PacketArray | None = None,
    resume: Sequence[tuple[int, int]] = (),
) -> list[Flow]:
    """Second pass: ``flows`` (of one capture, with their key hashes) with their evidence
    packets: every packet of a flow of up to ``2 * keep`` packets, else those
    :func:`kept_packets` chooses.  With ``side`` (packets that pass 1 kept, holding every
    packet of these flows) the file is not read again; with ``resume`` (pass 1's resume
    points, the fast engine) only the stretches of the file that hold the flows' frames are
    read (:func:`frame_spans`)."""
    if not flows:
        return []
    wanted = _Wanted.of(key_hash, [f.first_frame for f in flows], [f.last_frame for f in flows])
    parts: list[PacketArray] = []
    owners: list[npt.NDArray[np.int64]] = []
    if side is not None:  # every packet of these flows was kept in pass 1
        rows, pos = wanted.locate(side)
        if not rows.size:
            return list(flows)
        return _with_packets(flows, wanted, [side[rows].view(_RAW)], [pos], keep)
    spans: list[tuple[int, int, tuple[int, int] | None]]
    if engine != "fast" or not resume:
        spans = [(0, max(f.last_frame for f in flows), None)]
    else:
        before = [frames for _offset, frames in resume]
        spans = [
            (lo, hi, resume[_resume_index(before, lo)])
            for lo, hi in frame_spans([f.first_frame for f in flows], [f.last_frame for f in flows])
        ]
    for lo, hi, start in spans:
        reader = _backend(engine, False, True).open(path, file_idx)
        resume_at = getattr(reader, "resume_at", None)  # (the fast reader's)
        if start is not None and resume_at is not None:
            resume_at(*start)
        _read_span(reader.batches(), lo, hi, wanted, parts, owners)
    return _with_packets(flows, wanted, parts, owners, keep)


SPAN_GAP_FRAMES = 20_000  # frames between two flows read through rather than sought over


def frame_spans(firsts: Sequence[int], lasts: Sequence[int]) -> list[tuple[int, int]]:
    """The frame ranges that hold the flows (first..last frame each), in file order, disjoint;
    ranges less than :data:`SPAN_GAP_FRAMES` apart are one."""
    spans: list[tuple[int, int]] = []
    for lo, hi in sorted(zip(firsts, lasts, strict=True)):
        if spans and lo <= spans[-1][1] + SPAN_GAP_FRAMES:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    return spans


def _resume_index(before: Sequence[int], frame: int) -> int:
    """The last resume point (by its frames ``before``) at or before frame ``frame`` (frames
    are numbered from 1; the first point is the first record, 0 frames before it)."""
    return max(bisect.bisect_right(before, frame - 1) - 1, 0)


def _read_span(
    source: Iterator[PacketArray],
    lo: int,
    hi: int,
    wanted: _Wanted,
    parts: list[PacketArray],
    owners: list[npt.NDArray[np.int64]],
) -> None:
    """The chosen flows' packets among frames ``lo..hi`` of ``source`` (read ahead), added to
    ``parts``/``owners``; the rest of the file is not read."""
    batches = prefetched(source)
    for batch in batches:
        frame = batch["frame"]
        inside = batch[(frame >= lo) & (frame <= hi)]
        rows, pos = wanted.locate(inside)
        if rows.size:
            parts.append(inside[rows].view(_RAW).copy())
            owners.append(pos)
        if batch.shape[0] and int(frame[-1]) >= hi:
            batches.close()  # the span ends here
            break


def _with_packets(
    flows: Sequence[Flow],
    wanted: _Wanted,
    parts: list[PacketArray],
    owners: list[npt.NDArray[np.int64]],
    keep: int,
) -> list[Flow]:
    out = list(flows)
    if not parts:
        return out
    rows = np.concatenate(parts).view(PACKET_DTYPE)
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")  # capture order within each flow
    rows, owner = rows[order], owner[order]
    bounds = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1], True])
    addrs = _AddrCache()
    with _gc_paused():
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            at = int(wanted.order[owner[a]])
            flow = out[at]
            mine = rows[a:b]
            if flow.proto != "icmp" and b - a > 2 * keep:
                mine = mine[kept_packets(mine, flow, keep)]
            out[at] = replace(
                flow, packets=tuple(packet_refs(mine, addrs)), packets_truncated=mine.size < b - a
            )
    return out


def kept_packets(
    rows: PacketArray, flow: Flow, edge: int = EDGE_PACKETS, bucket_s: float = GAP_BUCKET_S
) -> npt.NDArray[np.bool_]:
    """Which packets of a long flow (capture order) to keep as evidence: what every decision
    needs, without one object per packet of a long connection.

    * the first and the last ``edge`` packets (handshake, retransmitted SYNs, the end);
    * of the packets without SYN (what the idle decision measures, in time order): the first
      of every ``bucket_s`` time bucket and the one before it.  Every silence of ``bucket_s``
      or more is then kept with the packets on both sides of it, and two kept neighbours that
      were not neighbours in the flow are less than ``bucket_s`` apart (no false silence);
    * after the start and after every such silence: the next ``IdleGap.EDGE_PACKETS``
      packets, the first packet of each direction, the first RST and the first with payload
      (whether the connection died after it: :func:`pcapflow.diagnose.facts.idle_gap`).
    """
    n = rows.shape[0]
    mask = np.zeros(n, dtype=np.bool_)
    mask[:edge] = True
    mask[n - edge :] = True
    order = np.lexsort((rows["frame"], rows["ts_ns"]))
    est = order[(rows["tcp_flags"][order] & SYN) == 0]
    if est.size == 0:
        return mask
    ts = rows["ts_ns"][est]
    bucket = ts // max(1, round(bucket_s * 1e9))
    first = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    mask[est[first]] = True
    mask[est[np.maximum(first - 1, 0)]] = True
    silences = np.flatnonzero(np.diff(ts) >= bucket_s * 1e9) + 1
    starts = np.r_[0, silences]
    follow = (starts[:, None] + np.arange(AFTER_SILENCE)[None, :]).ravel()
    mask[est[follow[follow < est.size]]] = True
    sub = rows[est]
    _ver, hi, lo = addr_to_halves(flow.orig_h)
    from_orig = (sub["src_hi"] == hi) & (sub["src_lo"] == lo) & (sub["sport"] == flow.orig_p)
    for wanted in (from_orig, ~from_orig, (sub["tcp_flags"] & RST) != 0, sub["payload_len"] > 0):
        where = np.flatnonzero(wanted)
        nxt = np.asarray(np.searchsorted(where, starts), dtype=np.int64)
        mask[est[where[nxt[nxt < where.size]]]] = True
    return mask
