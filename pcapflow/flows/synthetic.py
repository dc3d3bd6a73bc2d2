"""Synthetic packet rows for tests and benchmarks of flow assembly (no capture file needed).

:class:`PacketBuilder` appends ``PACKET_DTYPE`` rows one at a time with readable arguments
(``tcp("10.0.0.1", 40000, "10.0.0.2", 80, "S", seq=100)``); :func:`syn_flood` and
:func:`tcp_workload` produce large arrays vectorised, for memory and speed checks.
"""

from __future__ import annotations

import numpy as np

from pcapflow.model.packet import (
    ACK,
    FIN,
    PACKET_DTYPE,
    PF_BAD_CSUM,
    PF_HAS_TS,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    PSH,
    RST,
    SYN,
    PacketArray,
    addr_to_halves,
)

_FLAG_LETTERS = {"S": SYN, "A": ACK, "F": FIN, "R": RST, "P": PSH}


def tcp_flags(letters: str) -> int:
    """``"SA"`` -> SYN|ACK (letters S, A, F, R, P)."""
    value = 0
    for ch in letters:
        value |= _FLAG_LETTERS[ch]
    return value


class PacketBuilder:
    """Collects packet rows in capture order; :meth:`array` returns them."""

    def __init__(self, start: float = 1_700_000_000.0, file_idx: int = 0) -> None:
        self.t_ns = round(start * 1e9)
        self._start_ns = self.t_ns
        self.file_idx = file_idx
        self.rows: list[tuple[object, ...]] = []

    def _row(
        self,
        at: float | None,
        proto: int,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        *,
        flags: int = 0,
        seq: int = 0,
        ack: int = 0,
        win: int = 65535,
        payload: int = 0,
        header: int = 20,
        ip_id: int = 0,
        ttl: int = 64,
        tsval: int | None = None,
        opts_hash: int = 0,
        pflags: int = 0,
        iface: int = 0,
    ) -> None:
        if at is not None:
            self.t_ns = self.base_ns + round(at * 1e9)
        ver, shi, slo = addr_to_halves(src)
        _, dhi, dlo = addr_to_halves(dst)
        ip_hdr = 20 if ver == 4 else 40
        if tsval is not None:
            pflags |= PF_HAS_TS
        self.rows.append(
            (self.file_idx, len(self.rows) + 1, iface, self.t_ns, ver, proto, shi, slo, dhi, dlo,
             sport, dport, flags, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, win, payload,
             ip_hdr + header + payload, ip_id, ttl, tsval or 0, opts_hash, 0, pflags, 0)
        )  # fmt: skip

    @property
    def base_ns(self) -> int:
        """Capture time of the first packet (``at`` offsets count from it)."""
        return self._start_ns

    def tcp(
        self,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        flags: str,
        *,
        seq: int = 0,
        ack: int = 0,
        payload: int = 0,
        at: float | None = None,
        win: int = 65535,
        ip_id: int = 0,
        ttl: int = 64,
        tsval: int | None = None,
        opts_hash: int = 0,
        bad_checksum: bool = False,
        pflags: int = 0,
        iface: int = 0,
    ) -> PacketBuilder:
        """One TCP segment; ``at`` is seconds since the first packet (default: 1 ms later)."""
        if at is None and self.rows:
            self.t_ns += 1_000_000
        self._row(
            at, PROTO_TCP, src, sport, dst, dport, flags=tcp_flags(flags), seq=seq, ack=ack,
            win=win, payload=payload, ip_id=ip_id, ttl=ttl, tsval=tsval, opts_hash=opts_hash,
            pflags=pflags | (PF_BAD_CSUM if bad_checksum else 0), iface=iface,
        )  # fmt: skip
        return self

    def udp(
        self,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        *,
        payload: int = 10,
        at: float | None = None,
    ) -> PacketBuilder:
        if at is None and self.rows:
            self.t_ns += 1_000_000
        self._row(at, PROTO_UDP, src, sport, dst, dport, payload=payload, header=8)
        return self

    def icmp(
        self, src: str, dst: str, icmp_type: int, code: int = 0, *, payload: int = 56,
        at: float | None = None,
    ) -> PacketBuilder:  # fmt: skip
        if at is None and self.rows:
            self.t_ns += 1_000_000
        self._row(at, PROTO_ICMP, src, icmp_type, dst, code, payload=payload, header=8)
        return self

    def array(self) -> PacketArray:
        return np.array(self.rows, dtype=PACKET_DTYPE)


def syn_flood(
    count: int, *, start_ns: int = 1_700_000_000 * 10**9, gap_ns: int = 1000
) -> PacketArray:
    """``count`` SYNs to 10.0.0.1:80 from distinct spoofed sources, ``gap_ns`` apart."""
    rows = np.zeros(count, dtype=PACKET_DTYPE)
    idx = np.arange(count, dtype=np.int64)
    rows["frame"] = idx + 1
    rows["ts_ns"] = start_ns + idx * gap_ns
    rows["ip_ver"] = 4
    rows["proto"] = PROTO_TCP
    rows["src_lo"] = (0x0B000000 + (idx // 50000)).astype(np.uint64)  # 11.0.0.x
    rows["dst_lo"] = 0x0A000001
    rows["sport"] = 1024 + idx % 50000
    rows["dport"] = 80
    rows["tcp_flags"] = SYN
    rows["seq"] = (idx * 2654435761) & 0xFFFFFFFF
    rows["win"] = 1024
    rows["ip_len"] = 40
    rows["ttl"] = 64
    return rows


def tcp_workload(
    flows: int, data_packets: int = 12, *, start_ns: int = 1_700_000_000 * 10**9, seed: int = 7
) -> PacketArray:
    """Interleaved complete TCP connections: handshake, data both ways, FIN/FIN/ACK teardown.

    Each connection has ``3 + 2 * data_packets + 3`` packets (client and server alternate
    1000-byte segments); connections start 20 us apart and last ~50 ms, so thousands are live
    at once, like a busy server.  Every connection ends up ``SF`` with history ``ShADdFf``.
    """
    d = data_packets
    per = 3 + 2 * d + 3
    size = 1000
    n = flows * per
    rng = np.random.default_rng(seed)
    conn = np.repeat(np.arange(flows, dtype=np.int64), per)
    step = np.tile(np.arange(per, dtype=np.int64), flows)
    isn_c = (conn * 2654435761) & 0xFFFFFFFF
    isn_s = (conn * 40503 + 12345) & 0xFFFFFFFF
    j = step - 3
    t0 = 3 + 2 * d
    client = np.zeros(n, dtype=bool)
    seq = np.zeros(n, dtype=np.int64)
    ack = np.zeros(n, dtype=np.int64)
    flags = np.full(n, ACK | PSH, dtype=np.int64)
    payload = np.zeros(n, dtype=np.int64)
    for st, is_client, fl in ((0, True, SYN), (1, False, SYN | ACK), (2, True, ACK)):
        m = step == st
        client[m] = is_client
        flags[m] = fl
    m0, m1, m2 = step == 0, step == 1, step == 2
    seq[m0] = isn_c[m0]
    seq[m1], ack[m1] = isn_s[m1], isn_c[m1] + 1
    seq[m2], ack[m2] = isn_c[m2] + 1, isn_s[m2] + 1
    data = (j >= 0) & (j < 2 * d)
    cdata = data & (j % 2 == 0)
    sdata = data & (j % 2 == 1)
    client[cdata] = True
    payload[data] = size
    seq[cdata] = isn_c[cdata] + 1 + (j[cdata] // 2) * size
    ack[cdata] = isn_s[cdata] + 1 + (j[cdata] // 2) * size
    seq[sdata] = isn_s[sdata] + 1 + (j[sdata] // 2) * size
    ack[sdata] = isn_c[sdata] + 1 + ((j[sdata] + 1) // 2) * size
    end_c, end_s = isn_c + 1 + d * size, isn_s + 1 + d * size
    m = step == t0
    client[m], flags[m], seq[m], ack[m] = True, FIN | ACK, end_c[m], end_s[m]
    m = step == t0 + 1
    client[m], flags[m], seq[m], ack[m] = False, FIN | ACK, end_s[m], end_c[m] + 1
    m = step == t0 + 2
    client[m], flags[m], seq[m], ack[m] = True, ACK, end_c[m] + 1, end_s[m] + 1
    rows = np.zeros(n, dtype=PACKET_DTYPE)
    rows["ts_ns"] = start_ns + conn * 20_000 + step * 1_700_000 + rng.integers(0, 1000, n)
    rows["ip_ver"] = 4
    rows["proto"] = PROTO_TCP
    c_lo = (0x0A010000 + conn % 60000).astype(np.uint64)
    s_lo = np.full(n, 0x0A020001, dtype=np.uint64)
    c_port = 1024 + (conn * 7919) % 60000
    rows["src_lo"] = np.where(client, c_lo, s_lo)
    rows["dst_lo"] = np.where(client, s_lo, c_lo)
    rows["sport"] = np.where(client, c_port, 443)
    rows["dport"] = np.where(client, 443, c_port)
    rows["tcp_flags"] = flags
    rows["seq"] = seq & 0xFFFFFFFF
    rows["ack"] = ack & 0xFFFFFFFF
    rows["payload_len"] = payload
    rows["ip_len"] = 40 + payload
    rows["win"] = 65535
    rows["ttl"] = 64
    rows = rows[np.argsort(rows["ts_ns"], kind="stable")]
    rows["frame"] = np.arange(1, n + 1)
    return rows
