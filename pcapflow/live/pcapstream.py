"""Incremental reading of a pcap / pcapng *byte stream* (a growing file or a capture pipe).

dpkt's readers want a complete file; a live view must instead accept whatever bytes have arrived
so far and keep the unfinished tail for later.  :class:`StreamParser` does only the framing
(headers, blocks, records) and hands out raw frames; decoding stays with the capture backends,
which read the window files :func:`write_pcapng` produces.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from pcapflow.errors import CaptureError

PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    # magic as read from the file -> (struct byte order, nanoseconds per timestamp fraction unit)
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"
BLOCK_IDB, BLOCK_SPB, BLOCK_EPB = 1, 3, 6
OPT_IF_NAME, OPT_IF_TSRESOL, OPT_IF_TSOFFSET = 2, 9, 14
MAX_BLOCK = 1 << 24  # a larger block length means a corrupt stream, not a packet


@dataclass(frozen=True, slots=True)
class StreamInterface:
    """An interface announced by the stream (pcapng IDB, or the one implicit pcap interface)."""

    link_type: int
    name: str | None = None
    ns_per_unit: int = 1000
    offset_s: int = 0


@dataclass(frozen=True, slots=True)
class Record:
    """One captured frame: where it came from and its (possibly truncated) bytes."""

    frame: int  # 1-based, counted over the whole stream
    ts_ns: int
    iface: int  # index into :attr:`StreamParser.interfaces`
    orig_len: int
    data: bytes


@dataclass
class StreamParser:
    """Feed bytes with :meth:`feed`; complete records come out, the unfinished tail waits."""

    keep_bytes: int = 0  # truncate kept frame data to this many bytes (0 = keep all)
    interfaces: list[StreamInterface] = field(default_factory=list)
    format: str = ""  # "pcap" or "pcapng" once the header has been read
    frames: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _order: str = "<"
    _section_base: int = 0  # global index of the current pcapng section's first interface

    def feed(self, data: bytes) -> list[Record]:
        self._buf += data
        out: list[Record] = []
        while True:
            step = self._step()
            if step is None:
                return out
            consumed, record = step
            del self._buf[:consumed]
            if record is not None:
                out.append(record)

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete record."""
        return len(self._buf)

    # ---- framing --------------------------------------------------------------------------
    def _step(self) -> tuple[int, Record | None] | None:
        if not self.format:
            return self._header()
        if self.format == "pcap":
            return self._pcap_record()
        return self._pcapng_block()

    def _header(self) -> tuple[int, Record | None] | None:
        if len(self._buf) < 4:
            return None
        magic = bytes(self._buf[:4])
        if magic == PCAPNG_SHB:
            self.format = "pcapng"
            return 0, None
        if magic[:2] == GZIP_MAGIC:
            raise CaptureError(
                "gzip-compressed: a live view follows uncompressed pcap/pcapng "
                "(use `pcapflow analyze` for a finished .gz capture)"
            )
        if magic not in PCAP_MAGICS:
            raise CaptureError(f"not a pcap or pcapng stream (starts with {magic.hex(' ')})")
        if len(self._buf) < 24:
            return None
        self._order, ns_per_unit = PCAP_MAGICS[magic]
        link_type = struct.unpack_from(self._order + "I", self._buf, 20)[0] & 0x0FFFFFFF
        self.interfaces.append(StreamInterface(link_type, None, ns_per_unit))
        self.format = "pcap"
        return 24, None

    def _pcap_record(self) -> tuple[int, Record | None] | None:
        if len(self._buf) < 16:
            return None
        sec, frac, incl, orig = struct.unpack_from(self._order + "IIII", self._buf, 0)
        if incl > MAX_BLOCK:
            raise CaptureError(f"corrupt pcap stream: record of {incl} bytes")
        if len(self._buf) < 16 + incl:
            return None
        ts_ns = sec * 1_000_000_000 + frac * self.interfaces[0].ns_per_unit
        return 16 + incl, self._record(ts_ns, 0, orig, 16, incl)

    def _pcapng_block(self) -> tuple[int, Record | None] | None:
        if len(self._buf) < 12:
            return None
        if bytes(self._buf[:4]) == PCAPNG_SHB:
            self._order = "<" if bytes(self._buf[8:12]) == b"\x4d\x3c\x2b\x1a" else ">"
            self._section_base = len(self.interfaces)
        btype, blen = struct.unpack_from(self._order + "II", self._buf, 0)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            raise CaptureError(f"corrupt pcapng stream: block of {blen} bytes")
        if len(self._buf) < blen:
            return None
        handler = {BLOCK_IDB: self._idb, BLOCK_EPB: self._epb, BLOCK_SPB: self._spb}.get(btype)
        return blen, (handler(blen) if handler else None)

    def _idb(self, blen: int) -> None:
        link_type = struct.unpack_from(self._order + "H", self._buf, 8)[0]
        opts = dict(self._options(16, blen - 4))
        name = opts.get(OPT_IF_NAME)
        tsresol = opts.get(OPT_IF_TSRESOL, b"\x06")[0]
        units = 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10**tsresol
        raw_offset = opts.get(OPT_IF_TSOFFSET, b"")
        offset = struct.unpack(self._order + "q", raw_offset)[0] if len(raw_offset) == 8 else 0
        self.interfaces.append(
            StreamInterface(
                link_type,
                name.rstrip(b"\0").decode("utf-8", "replace") if name else None,
                max(1, 10**9 // units),
                offset,
            )
        )

    def _epb(self, blen: int) -> Record:
        iface, hi, lo, incl, orig = struct.unpack_from(self._order + "IIIII", self._buf, 8)
        gidx = self._section_base + iface
        if gidx >= len(self.interfaces) or 28 + incl > blen:
            raise CaptureError("corrupt pcapng stream: packet block before its interface")
        info = self.interfaces[gidx]
        ts_ns = ((hi << 32) | lo) * info.ns_per_unit + info.offset_s * 1_000_000_000
        return self._record(ts_ns, gidx, orig, 28, incl)

    def _spb(self, blen: int) -> Record:
        orig = struct.unpack_from(self._order + "I", self._buf, 8)[0]
        return self._record(0, self._section_base, orig, 12, min(orig, blen - 16))

    def _options(self, start: int, end: int) -> Iterable[tuple[int, bytes]]:
        pos = start
        while pos + 4 <= end:
            code, length = struct.unpack_from(self._order + "HH", self._buf, pos)
            if code == 0:
                return
            yield code, bytes(self._buf[pos + 4 : pos + 4 + length])
            pos += 4 + ((length + 3) & ~3)

    def _record(self, ts_ns: int, iface: int, orig: int, start: int, incl: int) -> Record:
        keep = incl if not self.keep_bytes else min(incl, self.keep_bytes)
        self.frames += 1
        return Record(self.frames, ts_ns, iface, orig, bytes(self._buf[start : start + keep]))


# ---- writing ----------------------------------------------------------------------------------
class PcapngAppender:
    """Writes records as they come, as a little-endian pcapng with nanosecond timestamps.

    An interface block is written the first time a record refers to it, so the file is valid at
    every moment (a reader may follow it while it grows).
    """

    def __init__(self, out: BinaryIO, interfaces: Sequence[StreamInterface]) -> None:
        self.out = out
        self.interfaces = interfaces  # may grow after creation (a live list)
        self._written: dict[int, int] = {}  # interface index -> index in this file
        self.frames = 0
        out.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))

    def write(self, rec: Record) -> None:
        if rec.iface not in self._written:
            self._written[rec.iface] = len(self._written)
            self.out.write(_idb_block(self.interfaces[rec.iface]))
        ts, size = rec.ts_ns, len(rec.data)
        iface = self._written[rec.iface]
        head = struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, size, rec.orig_len)
        self.out.write(_block(BLOCK_EPB, head + _pad(rec.data)))
        self.frames += 1


def write_pcapng(
    out: BinaryIO, interfaces: Sequence[StreamInterface], records: Iterable[Record]
) -> int:
    """Write ``records`` as one pcapng (see :class:`PcapngAppender`); returns the frame count."""
    appender = PcapngAppender(out, interfaces)
    for rec in records:
        appender.write(rec)
    return appender.frames


def _idb_block(info: StreamInterface) -> bytes:
    opts = _option(OPT_IF_TSRESOL, b"\x09")
    if info.name:
        opts += _option(OPT_IF_NAME, info.name.encode())
    return _block(BLOCK_IDB, struct.pack("<HHI", info.link_type, 0, 0) + opts + b"\0" * 4)


def _block(btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
