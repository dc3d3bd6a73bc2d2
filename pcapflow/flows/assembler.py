"""Streaming flow assembly: packet batches in, blocks of finished flows out, bounded memory.

:class:`FlowAssembler` owns the live flow table (numpy arrays, see :mod:`pcapflow.flows.layout`)
and the key table (hash -> key id), feeds each batch to the numba kernel
(:func:`pcapflow.flows.kernel.run`) and gathers flows that ended into :class:`FlowBlock` objects
(columnar).  Memory is bounded by the live table: flows that end are gathered and their slots
reused; when the table is full (``max_flows``) the idlest flows are evicted, half-open (S0)
attempts first, and still emitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow import _jitahead
from pcapflow.errors import InputError
from pcapflow.flows import kernel as K
from pcapflow.flows.keys import LIKELY_SERVER_TCP, LIKELY_SERVER_UDP, packet_keys, port_table
from pcapflow.flows.layout import (
    A_HASH,
    A_OHI,
    A_OLO,
    A_RHI,
    A_RLO,
    E_STATE,
    E_SYN_IPID,
    E_SYN_OPTS,
    E_SYN_RXMT,
    E_SYN_SEQ,
    E_SYN_TSVAL,
    E_SYN_TTL,
    E_SYNACK_SEQ,
    END_EVICTED,
    END_INPUT,
    F_ACTIVE,
    F_DUPS,
    F_END,
    F_FIRST_FRAME,
    F_IFACES,
    F_IPB0,
    F_IPB1,
    F_LAST,
    F_LAST_FRAME,
    F_LASTPKT,
    F_MISSED,
    F_NPKTS,
    F_NSTORED,
    F_OBYTES,
    F_OPORT,
    F_PKTS0,
    F_PKTS1,
    F_PROTO,
    F_RBYTES,
    F_RPORT,
    F_START,
    F_STATE,
    F_VER,
    HIST_MAX,
    INACTIVE,
    N_A,
    N_E,
    N_F,
    SYN_SENT,
)
from pcapflow.model.packet import PACKET_DTYPE, PacketArray

NS = 1_000_000_000
_RAW = np.dtype((np.void, PACKET_DTYPE.itemsize))
# What pcapflow.flows.keys.packet_keys gives for a batch: (key hash, valid, ICMP resp port).
PacketKeys = tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]
DEFAULT_MAX_FLOWS = 500_000  # ~1 KB of state per live flow: ~0.5 GB at the cap


@dataclass(frozen=True, slots=True)
class Params:
    """Zeek's timing constants (its defaults) and pcapflow's assembly options."""

    # Checksums: None (default) keeps a packet with a wrong checksum out of its connection
    # ('C'/'c') unless the checksum is the unfinished one of checksum offload (captures taken
    # on the sending host or a veth); False: every wrong one (Zeek without -C); True: none
    # (``zeek -C``).
    ignore_checksums: bool | None = None
    packets_per_flow: int = 64
    max_flows: int = DEFAULT_MAX_FLOWS
    tcp_attempt_delay: float = 5.0
    tcp_close_delay: float = 5.0
    tcp_connection_linger: float = 5.0
    udp_inactivity_timeout: float = 60.0
    icmp_inactivity_timeout: float = 60.0
    tcp_inactivity_timeout: float = 300.0
    sweep_interval: float = 1.0
    reassemble: bool = True  # payload reassembly -> content gaps ('G', missed_bytes)
    report_gaps_for_partial: bool = False
    tcp_max_above_hole_without_any_acks: int = 16384
    tcp_excessive_data_without_further_acks: int = 10 * 1024 * 1024
    server_ports_tcp: tuple[int, ...] = LIKELY_SERVER_TCP  # Zeek's likely_server_ports
    server_ports_udp: tuple[int, ...] = LIKELY_SERVER_UDP

    def vector(self) -> npt.NDArray[np.int64]:
        p = np.zeros(K.N_P, dtype=np.int64)
        p[K.P_CSUM] = (
            K.CSUM_OFFLOAD_AWARE
            if self.ignore_checksums is None
            else (K.CSUM_IGNORE if self.ignore_checksums else K.CSUM_VERIFY)
        )
        p[K.P_KEEP] = self.packets_per_flow
        p[K.P_ATTEMPT_NS] = round(self.tcp_attempt_delay * NS)
        p[K.P_CLOSE_NS] = round(self.tcp_close_delay * NS)
        p[K.P_LINGER_NS] = round(self.tcp_connection_linger * NS)
        p[K.P_UDP_NS] = round(self.udp_inactivity_timeout * NS)
        p[K.P_ICMP_NS] = round(self.icmp_inactivity_timeout * NS)
        p[K.P_TCP_NS] = round(self.tcp_inactivity_timeout * NS)
        p[K.P_SWEEP_NS] = round(self.sweep_interval * NS)
        p[K.P_REASM] = int(self.reassemble)
        p[K.P_GAPS_PARTIAL] = int(self.report_gaps_for_partial)
        p[K.P_ABOVE_HOLE] = self.tcp_max_above_hole_without_any_acks
        p[K.P_EXCESSIVE] = self.tcp_excessive_data_without_further_acks
        return p


@dataclass(slots=True)
class FlowBlock:
    """Finished flows, column by column (one entry per flow, in the order they ended)."""

    cols: dict[str, npt.NDArray[Any]]
    history: list[str]
    packets: list[PacketArray | None] = field(default_factory=list)  # views into packet_rows
    packet_rows: PacketArray | None = None  # every kept packet of the block, flow after flow

    def __len__(self) -> int:
        return len(self.history)


@dataclass(slots=True)
class AssemblyStats:
    """Counters of one assembly run."""

    flows: int = 0
    evicted: int = 0
    peak_live: int = 0
    packets: int = 0
    unassigned: int = 0  # packets that cannot belong to a flow (fragments, other protocols)
    checksums: ChecksumCounts = field(default_factory=lambda: ChecksumCounts(0, 0, 0))


CHECKSUM_HINT = "transport checksums are wrong"  # in the warning of ChecksumCounts.hint


@dataclass(frozen=True, slots=True)
class ChecksumCounts:
    """Transport checksums of the packets assembled into flows."""

    checked: int  # verified (complete segment, checksum present)
    bad: int  # of them, wrong
    offloaded: int  # of the wrong ones, the unfinished checksum of checksum offload

    def hint(self, ignore_checksums: bool | None) -> str | None:
        """One line for the user when most checksums are wrong and that changed the flows."""
        if ignore_checksums is True or self.bad * 2 <= self.checked:
            return None
        held = self.bad if ignore_checksums is False else self.bad - self.offloaded
        if held * 2 <= self.checked:
            return None
        why = (
            "most are the unfinished ones of checksum offload (a capture on the sending host)"
            if ignore_checksums is False and self.offloaded * 2 > self.checked
            else "if they were spoilt after the fact (a rewritten or anonymised trace)"
        )
        return (
            f"{held} of {self.checked} {CHECKSUM_HINT} and their packets were "
            f"left out of their connections (history C/c); {why}: -C (--ignore-checksums) "
            "counts them"
        )


class FlowAssembler:
    """Assemble flows from packet batches of one capture file (see module docstring)."""

    def __init__(self, *, file_idx: int = 0, params: Params | None = None) -> None:
        self.file_idx = file_idx
        self.params = params or Params()
        if self.params.max_flows < 16:
            raise InputError("max_flows must be at least 16")
        if self.params.packets_per_flow < 0:
            raise InputError("packets_per_flow must not be negative")
        self.stats = AssemblyStats()
        self._P = self.params.vector()
        self._server_tcp = port_table(self.params.server_ports_tcp)
        self._server_udp = port_table(self.params.server_ports_udp)
        # The arrays are reserved for max_flows at once: np.zeros maps zero pages lazily, so
        # only slots that were used take memory, and the table never has to be copied to grow
        # (slots are handed out lowest first and reused, see C_HIGH in the kernel).
        cap = self.params.max_flows
        self._FL = np.zeros((cap, N_F), dtype=np.int64)
        self._ADDR = np.zeros((cap, N_A), dtype=np.uint64)
        self._EP = np.zeros((cap, 2, N_E), dtype=np.int64)
        self._HIST = np.zeros((cap, HIST_MAX), dtype=np.uint8)
        self._free = np.arange(cap - 1, -1, -1, dtype=np.int64)
        self._fin = np.zeros(cap, dtype=np.int64)
        self._C = np.zeros(K.N_C, dtype=np.int64)
        self._C[K.C_FREE] = cap
        self._C[K.C_NEXT_SWEEP] = np.iinfo(np.int64).min
        # key table (open addressing, in the kernel): position = key id, key_cur = its slot
        self._new_key_table(_table_size(cap))
        self._stored: dict[int, list[PacketArray]] = {}
        self._closed = False
        self._done: list[FlowBlock] = []

    # --- public ------------------------------------------------------------------------

    @property
    def live(self) -> int:
        """Flows currently held in the live table."""
        return int(self._C[K.C_LIVE])

    @property
    def capacity(self) -> int:
        """Slots used so far (high-water mark; at most ``max_flows``)."""
        return int(self._C[K.C_HIGH])

    def feed(self, batch: PacketArray, keys: PacketKeys | None = None) -> list[FlowBlock]:
        """Process one batch (capture order); returns the flows that ended meanwhile.

        ``keys``: the batch's ``packet_keys``, when the caller computed them already (the
        read-ahead thread does, see :func:`pcapflow.flows.api.capture_blocks`)."""
        if self._closed:
            raise InputError("the flow assembler was closed; start a new one")
        if batch.dtype != PACKET_DTYPE:
            raise InputError("packet batch has the wrong dtype (expected PACKET_DTYPE)")
        n = batch.shape[0]
        if n == 0:
            return []
        _jitahead.wait()  # the flow kernels, if a child is compiling them (a cold start)
        self.stats.packets += n
        hashes, valid, icmp_port = packet_keys(batch) if keys is None else keys
        if hashes.shape[0] != n:
            raise InputError("packet keys do not match the batch")
        self.stats.unassigned += int(n - np.count_nonzero(valid))
        slot = np.empty(n, dtype=np.int64)
        keep = np.empty(n, dtype=np.bool_)
        start = 0
        while True:
            start = K.run(
                batch, hashes, valid, start, self._FL, self._ADDR, self._EP, self._HIST,
                self._key_cur, self._ht_hash, self._ht_state, self._free, self._fin, self._C,
                self._P, self._server_tcp, self._server_udp, icmp_port, slot, keep,
            )  # fmt: skip
            self._store_packets(batch, slot, keep, start)
            self.stats.peak_live = max(self.stats.peak_live, self.live)
            if start >= n:
                break
            self._collect()
            if self._C[K.C_FREE] == 0:
                self._evict()
            else:
                self._rehash(self._ht_hash.shape[0])
        self._collect()
        self._count_checksums()
        return self._take_done()

    def _count_checksums(self) -> None:
        C = self._C
        self.stats.checksums = ChecksumCounts(
            int(C[K.C_CSUM_CHECKED]), int(C[K.C_CSUM_BAD]), int(C[K.C_CSUM_OFFLOADED])
        )

    def close(self) -> list[FlowBlock]:
        """End every live flow (end of input) and return the remaining blocks.

        The live table's memory is released: the assembler cannot be fed afterwards.
        """
        self._finish(self._live_slots(), END_INPUT)
        done = self._take_done()
        self._FL = self._FL[:0].copy()
        self._EP = self._EP[:0].copy()
        self._ADDR = self._ADDR[:0].copy()
        self._HIST = self._HIST[:0].copy()
        self._new_key_table(1)
        self._closed = True
        return done

    @property
    def keys(self) -> int:
        """Connection keys currently held in the key table."""
        return int(self._C[K.C_HT_USED])

    # --- keys --------------------------------------------------------------------------

    def _new_key_table(self, size: int) -> None:
        self._ht_hash = np.zeros(size, dtype=np.uint64)
        self._ht_state = np.zeros(size, dtype=np.int8)
        self._key_cur = np.full(size, -1, dtype=np.int64)

    def _rehash(self, size: int) -> None:
        """Rebuild the key table (drops deleted entries; ``size`` a power of two)."""
        self._new_key_table(size)
        K.rehash(self._FL, self._ADDR, self._ht_hash, self._ht_state, self._key_cur, self._C)

    # --- slots -------------------------------------------------------------------------

    def _live_slots(self) -> npt.NDArray[np.int64]:
        high = self.capacity
        return np.nonzero(self._FL[:high, F_ACTIVE])[0].astype(np.int64)

    def _evict(self) -> None:
        """Evict a tenth of the table: half-open attempts (S0) first, then the idlest."""
        live = self._live_slots()
        if live.size == 0:
            return
        half_open = (self._EP[live, 0, E_STATE] == SYN_SENT) & (
            self._EP[live, 1, E_STATE] == INACTIVE
        )
        order = np.lexsort((self._FL[live, F_LAST], ~half_open))
        count = max(1, live.size // 10)
        victims = live[order[:count]].astype(np.int64)
        self.stats.evicted += int(victims.size)
        self._finish(victims, END_EVICTED)

    def _finish(self, slots: npt.NDArray[np.int64], reason: int) -> None:
        K.finish_all(
            self._FL, self._EP, self._HIST, slots, reason, self._key_cur, self._ht_state,
            self._fin, self._C,
        )  # fmt: skip
        self._collect()

    # --- packets kept as evidence --------------------------------------------------------

    def _store_packets(
        self,
        batch: PacketArray,
        slot: npt.NDArray[np.int64],
        keep: npt.NDArray[np.bool_],
        upto: int,
    ) -> None:
        if self.params.packets_per_flow == 0:
            return
        idx = np.nonzero(keep[:upto])[0]
        if idx.size == 0:
            return
        keep[:upto] = False  # a resumed run must not store these twice
        owners = slot[idx]
        order = np.argsort(owners, kind="stable")
        idx = idx[order]
        owners = owners[order]
        kept = batch[idx]  # one gather, then a copy per flow (a view would pin the batch)
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        ends = [*starts[1:].tolist(), int(owners.shape[0])]
        stored = self._stored
        for a, b, owner in zip(starts.tolist(), ends, owners[starts].tolist(), strict=True):
            stored.setdefault(owner, []).append(kept[a:b].copy())

    # --- gathering finished flows --------------------------------------------------------

    def _collect(self) -> None:
        nfin = int(self._C[K.C_FIN])
        if nfin == 0:
            return
        slots = self._fin[:nfin].copy()
        self._C[K.C_FIN] = 0
        self._done.append(self._gather(slots))
        nfree = int(self._C[K.C_FREE])
        self._free[nfree : nfree + nfin] = slots
        self._C[K.C_FREE] = nfree + nfin
        self.stats.flows += nfin

    def _gather(self, slots: npt.NDArray[np.int64]) -> FlowBlock:
        # Fancy-index column by column so blocks do not keep whole table rows alive.
        FL = _Columns(self._FL, slots)
        EP = _EndpointColumns(self._EP, slots)
        AD = _Columns(self._ADDR, slots)
        cols: dict[str, npt.NDArray[Any]] = {
            "start_ns": FL[:, F_START],
            "last_ns": FL[:, F_LAST],
            "lastpkt_ns": FL[:, F_LASTPKT],
            "ver": FL[:, F_VER],
            "proto": FL[:, F_PROTO],
            "orig_hi": AD[:, A_OHI],
            "orig_lo": AD[:, A_OLO],
            "resp_hi": AD[:, A_RHI],
            "resp_lo": AD[:, A_RLO],
            "orig_p": FL[:, F_OPORT],
            "resp_p": FL[:, F_RPORT],
            "orig_pkts": FL[:, F_PKTS0],
            "resp_pkts": FL[:, F_PKTS1],
            "orig_ip_bytes": FL[:, F_IPB0],
            "resp_ip_bytes": FL[:, F_IPB1],
            "orig_bytes": FL[:, F_OBYTES],
            "resp_bytes": FL[:, F_RBYTES],
            "state": FL[:, F_STATE],
            "first_frame": FL[:, F_FIRST_FRAME],
            "last_frame": FL[:, F_LAST_FRAME],
            "ifaces": FL[:, F_IFACES],
            "duplicates": FL[:, F_DUPS],
            "end": FL[:, F_END],
            "missed_bytes": FL[:, F_MISSED],
            "npkts": FL[:, F_NPKTS],
            "nstored": FL[:, F_NSTORED],
            "isn": EP[:, 0, E_SYN_SEQ],
            "resp_isn": EP[:, 1, E_SYNACK_SEQ],
            "syn_ip_id": EP[:, 0, E_SYN_IPID],
            "syn_ttl": EP[:, 0, E_SYN_TTL],
            "syn_opts_hash": EP[:, 0, E_SYN_OPTS],
            "syn_tsval": EP[:, 0, E_SYN_TSVAL],
            "syn_retransmits": EP[:, 0, E_SYN_RXMT],
            "file_idx": np.full(slots.shape[0], self.file_idx, dtype=np.int64),
            "key_hash": AD[:, A_HASH],  # the connection key's hash (packet_keys), per flow
        }
        raw = np.ascontiguousarray(self._HIST[slots])  # NUL-padded letters
        # (bytes without their padding, decoded in one go: a cast to str costs 4x as much)
        letters = raw.view(f"S{HIST_MAX}").ravel().tolist()
        history = b"\0".join(letters).decode("ascii").split("\0") if letters else []
        packets: list[PacketArray | None] = []
        if self.params.packets_per_flow:
            # One concatenation for the whole block (per-flow ones cost more than the copy).
            per_flow = [self._stored.pop(s, []) for s in slots.tolist()]
            sizes = [sum(part.shape[0] for part in parts) for parts in per_flow]
            flat = [part for parts in per_flow for part in parts]
            # (as raw records: concatenating structured arrays promotes their dtypes pairwise)
            rows = (
                np.concatenate([part.view(_RAW) for part in flat]).view(PACKET_DTYPE)
                if flat
                else np.zeros(0, dtype=PACKET_DTYPE)
            )
            ends = np.cumsum(sizes).tolist()
            starts = [0, *ends[:-1]]
            packets = [rows[a:b] if b > a else None for a, b in zip(starts, ends, strict=True)]
            return FlowBlock(cols=cols, history=history, packets=packets, packet_rows=rows)
        return FlowBlock(cols=cols, history=history, packets=packets)

    def _take_done(self) -> list[FlowBlock]:
        done, self._done = self._done, []
        return done


def _table_size(slots: int) -> int:
    """Key-table size for ``slots`` live flows: a power of two, at most half full."""
    size = 1024
    while size < 2 * slots:
        size *= 2
    return size


class _Columns:
    """``table[slots, col]`` on demand (``obj[:, col]`` syntax), one column at a time."""

    def __init__(self, table: npt.NDArray[Any], slots: npt.NDArray[np.int64]) -> None:
        self.table = table
        self.slots = slots

    def __getitem__(self, key: tuple[slice, int]) -> npt.NDArray[Any]:
        column: npt.NDArray[Any] = self.table[self.slots, key[1]]
        return column


class _EndpointColumns(_Columns):
    def __getitem__(self, key: tuple[slice, int, int]) -> npt.NDArray[Any]:  # type: ignore[override]
        column: npt.NDArray[Any] = self.table[self.slots, key[1], key[2]]
        return column


def assemble_blocks(
    batches: Iterator[PacketArray] | list[PacketArray],
    *,
    file_idx: int = 0,
    params: Params | None = None,
) -> Iterator[FlowBlock]:
    """Stream the finished-flow blocks of a sequence of packet batches."""
    asm = FlowAssembler(file_idx=file_idx, params=params)
    for batch in batches:
        yield from asm.feed(batch)
    yield from asm.close()


__all__ = [
    "END_EVICTED",
    "END_INPUT",
    "AssemblyStats",
    "FlowAssembler",
    "FlowBlock",
    "PacketKeys",
    "Params",
    "assemble_blocks",
]
