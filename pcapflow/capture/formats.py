"""Capture file headers: pcap global header, pcapng SHB and IDB (the rare, small blocks).

The per-record hot path lives in :mod:`pcapflow.capture.kernels`; this module decodes the
headers that set up how records are read (byte order, timestamp unit, link type, interfaces).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pcapflow.capture import kernels
from pcapflow.capture.stream import Source
from pcapflow.errors import CaptureError
from pcapflow.model.capture import Interface

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
BYTE_ORDER_MAGIC = 0x1A2B3C4D

# pcap magic (as read little-endian) -> (byte order is big-endian, ns per fraction unit,
# record header length, format name)
PCAP_MAGICS: dict[bytes, tuple[bool, int, int, str]] = {
    b"\xd4\xc3\xb2\xa1": (False, 1000, 16, "pcap"),
    b"\xa1\xb2\xc3\xd4": (True, 1000, 16, "pcap"),
    b"\x4d\x3c\xb2\xa1": (False, 1, 16, "pcap-ns"),
    b"\xa1\xb2\x3c\x4d": (True, 1, 16, "pcap-ns"),
    b"\x34\xcd\xb2\xa1": (False, 1000, 24, "pcap-modified"),
    b"\xa1\xb2\xcd\x34": (True, 1000, 24, "pcap-modified"),
}

OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14


class FormatError(ValueError):
    """A header that cannot be decoded; the message is the problem (no file name)."""


@dataclass(frozen=True, slots=True)
class PcapHeader:
    big_endian: bool
    ts_mult: int  # ns per unit of the fraction field
    record_header: int  # 16, or 24 for the "modified" (Kuznetzov) format
    format: str
    link_type: int
    snaplen: int


@dataclass(frozen=True, slots=True)
class InterfaceClock:
    """How an interface's 64-bit timestamps become nanoseconds (see kernels.TS_*)."""

    mode: int
    factor: int
    offset_ns: int
    resolution_ns: int


def sniff(head: bytes) -> str:
    """``"pcap"``, ``"pcapng"``; raises :class:`FormatError` for anything else."""
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if not head:
        raise FormatError("empty file")
    hint = looks_like_text_hint(head)
    raise FormatError(f"not a pcap or pcapng file (starts with {head[:8].hex(' ')}){hint}")


def looks_like_text_hint(head: bytes) -> str:
    """A hint for the likely slip of passing a config or other text file as a capture."""
    sample = head[:64]
    if sample and all(32 <= b < 127 or b in b"\t\r\n" for b in sample):
        return "; it looks like a text file (a load-balancer config goes after --lb)"
    return ""


def parse_pcap_header(head: bytes) -> PcapHeader:
    """The 24-byte pcap global header."""
    if len(head) < 24:
        raise FormatError(f"file ends inside the pcap header ({len(head)} of 24 bytes)")
    be, mult, rec, name = PCAP_MAGICS[head[:4]]
    order = ">" if be else "<"
    snaplen, link = struct.unpack(order + "II", head[16:24])
    return PcapHeader(be, mult, rec, name, link, snaplen)


def shb_byte_order(block_head: bytes) -> bool:
    """Big-endian? from the first 12 bytes of a Section Header Block."""
    bom = block_head[8:12]
    if bom == b"\x1a\x2b\x3c\x4d":
        return True
    if bom == b"\x4d\x3c\x2b\x1a":
        return False
    raise FormatError(f"section header with bad byte-order magic {bom.hex()}")


def block_length(block_head: bytes, big_endian: bool) -> int:
    return int(struct.unpack(">I" if big_endian else "<I", block_head[4:8])[0])


def _options(body: bytes, big_endian: bool) -> dict[int, bytes]:
    """pcapng options (code -> first value) from an options area."""
    order = ">" if big_endian else "<"
    found: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack(order + "HH", body[pos : pos + 4])
        if code == 0:
            break
        value = body[pos + 4 : pos + 4 + length]
        found.setdefault(code, value)
        pos += 4 + ((length + 3) & ~3)
    return found


def parse_idb(block: bytes, big_endian: bool, index: int) -> tuple[Interface, InterfaceClock]:
    """An Interface Description Block (whole block, header and trailer included)."""
    if len(block) < 20:
        raise FormatError("interface description block too short")
    order = ">" if big_endian else "<"
    link, _reserved, snaplen = struct.unpack(order + "HHI", block[8:16])
    opts = _options(block[16:-4], big_endian)
    clock = _clock(opts, order)
    name_raw = opts.get(OPT_IF_NAME)
    name = name_raw.rstrip(b"\0").decode("utf-8", "replace") if name_raw else None
    iface = Interface(index, link, name, snaplen, clock.resolution_ns)
    return iface, clock


def _clock(opts: dict[int, bytes], order: str) -> InterfaceClock:
    resol = opts.get(OPT_IF_TSRESOL, b"\x06")[:1] or b"\x06"
    offset_raw = opts.get(OPT_IF_TSOFFSET)
    offset_s = struct.unpack(order + "q", offset_raw[:8])[0] if offset_raw else 0
    offset_s = offset_s if len(offset_raw or b"") >= 8 else 0
    offset_ns = int(offset_s) * 1_000_000_000
    value = resol[0]
    exp = value & 0x7F
    if value & 0x80:
        return InterfaceClock(kernels.TS_BIN, min(exp, 63), offset_ns, max(1, 10**9 >> exp))
    if exp <= 9:
        return InterfaceClock(kernels.TS_MUL, 10 ** (9 - exp), offset_ns, 10 ** (9 - exp))
    return InterfaceClock(kernels.TS_DIV, 10 ** min(exp - 9, 18), offset_ns, 1)


def scan_interfaces(path: str) -> tuple[list[Interface], list[int]]:
    """The interfaces of a capture and, for pcapng, the global index of each section's first
    interface (Wireshark numbers interfaces per section; pcapflow across the file).  Reads
    block headers only; stops quietly at the first malformed block."""
    interfaces: list[Interface] = []
    bases: list[int] = []
    source = Source(path)
    try:
        head = source.read(24)
        if sniff(head) == "pcap":
            pcap = parse_pcap_header(head)
            interfaces.append(
                Interface(0, pcap.link_type & 0xFFFF, None, pcap.snaplen, pcap.ts_mult)
            )
            return interfaces, [0]
        pending = head
        big_endian = False
        while True:
            head = pending[:12] if pending else source.read(12)
            pending = pending[12:]
            if len(head) < 12:
                break
            if head[:4] == PCAPNG_MAGIC:
                big_endian = shb_byte_order(head)
                bases.append(len(interfaces))
            length = block_length(head, big_endian)
            if length < 12 or length % 4:
                break
            body = pending + source.read(length - 12 - len(pending))
            pending = b""
            if len(body) < length - 12:
                break
            btype = struct.unpack(">I" if big_endian else "<I", head[:4])[0]
            if head[:4] != PCAPNG_MAGIC and btype == 1:
                iface, _clock = parse_idb(head + body, big_endian, len(interfaces))
                interfaces.append(iface)
    except (FormatError, CaptureError):
        pass
    finally:
        source.close()
    return interfaces, bases or [0]
