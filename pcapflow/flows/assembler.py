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

from pcapflow.errors import InputError
from pcapflow.flows import kernel as K
from pcapflow.flows.keys import LIKELY_SERVER_TCP, LIKELY_SERVER_UDP, packet_keys, port_table
from pcapflow.flows.layout import (
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
    F_KEY,
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
DEFAULT_MAX_FLOWS = 1_000_000
_INITIAL_SLOTS = 4096


@dataclass(frozen=True, slots=True)
class Params:
    """Zeek's timing constants (its defaults) and pcapflow's assembly options."""

    ignore_checksums: bool = True  # like ``zeek -C``; host captures carry offloaded checksums
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
        p[K.P_IGNORE_CSUM] = int(self.ignore_checksums)
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
    packets: list[PacketArray | None] = field(default_factory=list)

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
        cap = min(_INITIAL_SLOTS, self.params.max_flows)
        self._FL = np.zeros((cap, N_F), dtype=np.int64)
        self._ADDR = np.zeros((cap, N_A), dtype=np.uint64)
        self._EP = np.zeros((cap, 2, N_E), dtype=np.int64)
        self._HIST = np.zeros((cap, HIST_MAX), dtype=np.uint8)
        self._free = np.arange(cap - 1, -1, -1, dtype=np.int64)
        self._fin = np.zeros(cap, dtype=np.int64)
        self._C = np.zeros(K.N_C, dtype=np.int64)
        self._C[K.C_FREE] = cap
        self._C[K.C_NEXT_SWEEP] = np.iinfo(np.int64).min
        # key table: hash -> key id; key_cur[key id] = live slot or -1
        self._keys: dict[int, int] = {}
        self._key_hash = np.zeros(1024, dtype=np.uint64)
        self._key_cur = np.full(1024, -1, dtype=np.int64)
        self._key_free: list[int] = list(range(1023, -1, -1))
        self._stored: dict[int, list[PacketArray]] = {}
        self._done: list[FlowBlock] = []

    # --- public ------------------------------------------------------------------------

    @property
    def live(self) -> int:
        """Flows currently held in the live table."""
        return int(self._C[K.C_LIVE])

    @property
    def capacity(self) -> int:
        """Slots currently allocated for the live table."""
        return int(self._FL.shape[0])

    def feed(self, batch: PacketArray) -> list[FlowBlock]:
        """Process one batch (capture order); returns the flows that ended meanwhile."""
        if batch.dtype != PACKET_DTYPE:
            raise InputError("packet batch has the wrong dtype (expected PACKET_DTYPE)")
        n = batch.shape[0]
        if n == 0:
            return []
        self.stats.packets += n
        hashes, valid, icmp_port = packet_keys(batch)
        keyid = self._key_ids(hashes, valid)
        self.stats.unassigned += int(n - np.count_nonzero(valid))
        slot = np.empty(n, dtype=np.int64)
        keep = np.empty(n, dtype=np.bool_)
        start = 0
        while True:
            start = K.run(
                batch, keyid, start, self._FL, self._ADDR, self._EP, self._HIST,
                self._key_cur, self._free, self._fin, self._C, self._P, self._server_tcp,
                self._server_udp, icmp_port, slot, keep,
            )  # fmt: skip
            self._store_packets(batch, slot, keep, start)
            self.stats.peak_live = max(self.stats.peak_live, self.live)
            if start >= n:
                break
            self._collect()
            self._make_room()
        self._collect()
        self._release_keys(np.unique(keyid[keyid >= 0]))
        return self._take_done()

    def close(self) -> list[FlowBlock]:
        """End every live flow (end of input) and return the remaining blocks."""
        live = np.nonzero(self._FL[:, F_ACTIVE])[0].astype(np.int64)
        self._finish(live, END_INPUT)
        self._release_keys(np.arange(self._key_cur.shape[0], dtype=np.int64))
        return self._take_done()

    # --- keys --------------------------------------------------------------------------

    def _key_ids(
        self, hashes: npt.NDArray[np.uint64], valid: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        uniq, inverse = np.unique(hashes, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.int64)
        keys = self._keys
        for j, h in enumerate(uniq.tolist()):
            kid = keys.get(h)
            if kid is None:
                kid = self._new_key(h)
            ids[j] = kid
        keyid = ids[inverse.reshape(-1)]
        keyid[~valid] = -1
        return keyid

    def _new_key(self, h: int) -> int:
        if not self._key_free:
            old = self._key_cur.shape[0]
            self._key_cur = np.concatenate([self._key_cur, np.full(old, -1, dtype=np.int64)])
            self._key_hash = np.concatenate([self._key_hash, np.zeros(old, dtype=np.uint64)])
            self._key_free = list(range(2 * old - 1, old - 1, -1))
        kid = self._key_free.pop()
        self._keys[h] = kid
        self._key_hash[kid] = h
        return kid

    def _release_keys(self, candidates: npt.NDArray[np.int64]) -> None:
        """Forget keys without a live flow (after the batch that used them)."""
        if candidates.size == 0:
            return
        idle = candidates[self._key_cur[candidates] < 0]
        for kid in idle.tolist():
            h = int(self._key_hash[kid])
            if self._keys.get(h) == kid:
                del self._keys[h]
                self._key_free.append(kid)
        # keys of flows that ended by a sweep/eviction but were not in this batch
        if len(self._keys) > 2 * max(self.live, 1024):
            live_keys = set(self._FL[self._FL[:, F_ACTIVE] == 1, F_KEY].tolist())
            for h, kid in list(self._keys.items()):
                if kid not in live_keys:
                    del self._keys[h]
                    self._key_free.append(kid)

    # --- slots -------------------------------------------------------------------------

    def _make_room(self) -> None:
        cap = self.capacity
        if self.live < self.params.max_flows and cap < self.params.max_flows:
            self._grow(min(cap * 2, self.params.max_flows))
        else:
            self._evict()

    def _grow(self, new_cap: int) -> None:
        cap = self.capacity
        extra = new_cap - cap
        self._FL = np.concatenate([self._FL, np.zeros((extra, N_F), dtype=np.int64)])
        self._ADDR = np.concatenate([self._ADDR, np.zeros((extra, N_A), dtype=np.uint64)])
        self._EP = np.concatenate([self._EP, np.zeros((extra, 2, N_E), dtype=np.int64)])
        self._HIST = np.concatenate([self._HIST, np.zeros((extra, HIST_MAX), dtype=np.uint8)])
        nfree = int(self._C[K.C_FREE])
        free = np.concatenate(
            [self._free[:nfree], np.arange(new_cap - 1, cap - 1, -1, dtype=np.int64)]
        )
        self._free = np.zeros(new_cap, dtype=np.int64)
        self._free[: free.shape[0]] = free
        self._C[K.C_FREE] = free.shape[0]
        self._fin = np.zeros(new_cap, dtype=np.int64)

    def _evict(self) -> None:
        """Evict a tenth of the table: half-open attempts (S0) first, then the idlest."""
        live = np.nonzero(self._FL[:, F_ACTIVE])[0]
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
            self._FL, self._EP, self._HIST, slots, reason, self._key_cur, self._fin, self._C
        )
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
        cuts = np.flatnonzero(np.diff(owners)) + 1
        for part in np.split(idx, cuts):
            self._stored.setdefault(int(slot[part[0]]), []).append(batch[part])

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
        }
        raw = np.ascontiguousarray(self._HIST[slots])  # NUL-padded letters
        history = raw.view(f"S{HIST_MAX}").ravel().astype(f"U{HIST_MAX}").tolist()
        packets: list[PacketArray | None] = []
        if self.params.packets_per_flow:
            for s in slots.tolist():
                parts = self._stored.pop(s, None)
                packets.append(np.concatenate(parts) if parts else None)
        return FlowBlock(cols=cols, history=history, packets=packets)

    def _take_done(self) -> list[FlowBlock]:
        done, self._done = self._done, []
        return done


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
    "Params",
    "assemble_blocks",
]
