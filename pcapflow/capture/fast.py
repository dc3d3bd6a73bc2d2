"""The default capture backend: dpkt record readers feeding packet rows.

(Initial version: pcap/pcapng via dpkt, Ethernet/SLL/raw/NULL; to be extended.)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

import dpkt
import numpy as np

from pcapflow.capture.base import DEFAULT_BATCH, register
from pcapflow.errors import CaptureError
from pcapflow.model.capture import CaptureInfo, Interface
from pcapflow.model.packet import (
    PACKET_DTYPE,
    PF_FRAGMENT,
    PF_HAS_TS,
    PacketArray,
)


class FastReader:
    def __init__(self, path: str, file_idx: int, batch_size: int) -> None:
        self.path = path
        self.file_idx = file_idx
        self.batch_size = batch_size
        self._frames = 0
        self._decoded = 0
        self._first: int | None = None
        self._last: int | None = None
        self._link = 1
        self._format = "pcap"
        try:
            self._fh = open(path, "rb")  # noqa: SIM115
            magic = self._fh.read(4)
            self._fh.seek(0)
            if magic == b"\x0a\x0d\x0d\x0a":
                self._reader: object = dpkt.pcapng.Reader(self._fh)
                self._format = "pcapng"
            else:
                self._reader = dpkt.pcap.Reader(self._fh)
            self._link = int(self._reader.datalink())  # type: ignore[attr-defined]
        except (OSError, ValueError, dpkt.Error) as exc:
            raise CaptureError(f"{path}: cannot read capture: {exc}") from None

    def batches(self) -> Iterator[PacketArray]:
        rows: list[tuple[object, ...]] = []
        for ts, buf in self._reader:  # type: ignore[attr-defined]
            self._frames += 1
            ts_ns = round(float(ts) * 1e9)
            if self._first is None:
                self._first = ts_ns
            self._last = ts_ns
            row = _decode(buf, self._link)
            if row is None:
                continue
            self._decoded += 1
            rows.append((self.file_idx, self._frames, 0, ts_ns, *row))
            if len(rows) >= self.batch_size:
                yield np.array(rows, dtype=PACKET_DTYPE)
                rows = []
        if rows:
            yield np.array(rows, dtype=PACKET_DTYPE)

    def info(self) -> CaptureInfo:
        return CaptureInfo(
            file_idx=self.file_idx,
            path=self.path,
            format=self._format,
            interfaces=(Interface(0, self._link),),
            frames=self._frames,
            decoded=self._decoded,
            duplicates=0,
            first_ts_ns=self._first,
            last_ts_ns=self._last,
        )


def _network(buf: bytes, link: int) -> Any:
    if link == 1:
        eth = dpkt.ethernet.Ethernet(buf)
        return eth.data
    if link == 113:
        return dpkt.sll.SLL(buf).data
    if link in (101, 12, 14, 228, 229):
        return dpkt.ip.IP(buf) if buf[:1] and buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
    if link == 0:
        return dpkt.loopback.Loopback(buf).data
    return None


def _decode(buf: bytes, link: int) -> tuple[object, ...] | None:
    try:
        ip = _network(buf, link)
    except (dpkt.Error, struct.error, ValueError, IndexError):
        return None
    if isinstance(ip, dpkt.ip.IP):
        ver, src, dst = 4, int.from_bytes(ip.src, "big"), int.from_bytes(ip.dst, "big")
        proto, ip_len, ip_id, ttl = ip.p, ip.len, ip.id, ip.ttl
        hi_s = hi_d = 0
        pflags = PF_FRAGMENT if ip.offset else 0
    elif isinstance(ip, dpkt.ip6.IP6):
        ver = 6
        s, d = int.from_bytes(ip.src, "big"), int.from_bytes(ip.dst, "big")
        hi_s, src, hi_d, dst = s >> 64, s & (2**64 - 1), d >> 64, d & (2**64 - 1)
        proto, ip_len, ip_id, ttl, pflags = ip.nxt, ip.plen + 40, 0, ip.hlim, 0
    else:
        return None
    l4 = ip.data
    sport = dport = flags = seq = ack = win = tsval = opts = plen = phash = 0
    if isinstance(l4, dpkt.tcp.TCP):
        sport, dport, flags, seq, ack, win = l4.sport, l4.dport, l4.flags, l4.seq, l4.ack, l4.win
        opts = zlib.crc32(l4.opts) if l4.opts else 0
        for kind, data in dpkt.tcp.parse_opts(l4.opts):
            if kind == dpkt.tcp.TCP_OPT_TIMESTAMP and len(data) >= 8:
                tsval = struct.unpack(">I", data[:4])[0]
                pflags |= PF_HAS_TS
        hdr = ip.hl * 4 if ver == 4 else 40
        plen = max(0, ip_len - hdr - l4.off * 4)
        phash = zlib.crc32(bytes(l4.data[:64])) if l4.data else 0
    elif isinstance(l4, dpkt.udp.UDP):
        sport, dport = l4.sport, l4.dport
        plen = max(0, l4.ulen - 8)
        phash = zlib.crc32(bytes(l4.data[:64])) if l4.data else 0
    elif isinstance(l4, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        sport, dport = l4.type, l4.code
    return (
        ver,
        proto,
        hi_s,
        src,
        hi_d,
        dst,
        sport,
        dport,
        flags,
        seq,
        ack,
        win,
        plen,
        ip_len,
        ip_id,
        ttl,
        tsval,
        opts,
        phash,
        pflags,
        0,
    )


@register("fast")
class FastBackend:
    name = "fast"

    def open(self, path: str, file_idx: int = 0, *, batch_size: int = DEFAULT_BATCH) -> FastReader:
        return FastReader(path, file_idx, batch_size)
