# numba infers int64 locals; mypy would pin each local to its first type (int or np.int64):
# mypy: disable-error-code="assignment"
"""numba kernels of the fast backend: walk capture records and decode headers into packet rows.

The reader hands these functions a ``uint8`` buffer holding a chunk of the (decompressed) file.

* :func:`walk_pcap` / :func:`walk_pcapng` find the records in the chunk and fill record arrays
  (offset of the frame bytes, captured and original length, timestamp in ns, interface).
* :func:`decode_records` reads the link, IP and transport headers of each record at computed
  offsets and writes one :data:`~pcapflow.model.packet.PACKET_DTYPE` row per frame that decodes
  to IP; it also recognises cross-interface duplicates (see :func:`decode_records`).

Hashes: ``opts_hash`` and ``payload_hash`` use :func:`hash32`, a 32-bit FNV-1a variant over
big-endian 32-bit words followed by the murmur3 finaliser (not CRC32; equal bytes give equal
values, which is all the rows promise).  :func:`pcapflow.capture.hashing.hash32_py` is the same
function in plain Python, for backends that are not numba-based.

Every kernel and helper here is compiled without numba's reference counting (``_nrt=False``, as
the flow kernel in :mod:`pcapflow.flows.kernel`): none allocates, and counting the buffer
argument of each helper call took an atomic increment and decrement per call (a third of
the decode time, perf showed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow._jitcache import helper, kernel
from pcapflow.capture.linktypes import (
    KIND_ETHERNET,
    KIND_FDDI,
    KIND_FIXED,
    KIND_IEEE80211,
    KIND_IPV4,
    KIND_IPV6,
    KIND_NFLOG,
    KIND_NULL,
    KIND_PFLOG,
    KIND_PPP,
    KIND_RADIOTAP,
    KIND_RAW,
    KIND_SLL,
    KIND_SLL2,
)

Arr = npt.NDArray[Any]
Int = int | np.integer[Any]  # numba compiles these as int64

# Walker status codes.
NEED_MORE = 0  # the next record is not complete in the buffer
FULL = 1  # the record arrays are full
BAD = 2  # the next record is malformed (length out of range); stop reading here
CONTROL = 3  # a pcapng block the Python side handles (SHB, IDB) starts at pos

# pcapng timestamp modes per interface.
TS_MUL = 0  # ns = units * factor           (resolution 10^-n, n <= 9)
TS_DIV = 1  # ns = units // factor          (resolution 10^-n, n > 9)
TS_BIN = 2  # ns = units * 1e9 / 2^factor   (resolution 2^-n)

# Packet-flag bits (mirrors pcapflow.model.packet; numba needs module-level constants).
_PF_FRAGMENT = 0x01
_PF_TRUNCATED = 0x02
_PF_BAD_CSUM = 0x04
_PF_HAS_TS = 0x10
_PF_MORE_FRAGS = 0x20
_PF_CSUM_UNKNOWN = 0x40
_PF_DUP_SEEN = 0x80

_M32 = 0xFFFFFFFF


@helper(_nrt=False)
def _u16(b: Arr, i: Int) -> Int:
    return (np.int64(b[i]) << 8) | np.int64(b[i + 1])


@helper(_nrt=False)
def _u32(b: Arr, i: Int) -> Int:
    hi = (np.int64(b[i]) << 24) | (np.int64(b[i + 1]) << 16)
    return hi | (np.int64(b[i + 2]) << 8) | np.int64(b[i + 3])


@helper(_nrt=False)
def _u32le(b: Arr, i: Int) -> Int:
    hi = (np.int64(b[i + 3]) << 24) | (np.int64(b[i + 2]) << 16)
    return hi | (np.int64(b[i + 1]) << 8) | np.int64(b[i])


@helper(_nrt=False)
def _rd32(b: Arr, i: Int, be: bool) -> Int:
    return _u32(b, i) if be else _u32le(b, i)


@helper(_nrt=False)
def _rd16(b: Arr, i: Int, be: bool) -> Int:
    return _u16(b, i) if be else (np.int64(b[i + 1]) << 8) | np.int64(b[i])


@helper(_nrt=False)
def _u64be(b: Arr, i: Int) -> np.uint64:
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(b[i + k])
    return v


@helper(_nrt=False, inline="always")
def hash32(b: Arr, start: Int, stop: Int) -> Int:
    """FNV-1a over big-endian 32-bit words (tail bytes one by one), length, murmur3 fmix32."""
    h = 0x811C9DC5
    i = start
    while i + 4 <= stop:
        h = ((h ^ _u32(b, i)) * 0x01000193) & _M32
        i += 4
    while i < stop:
        h = ((h ^ np.int64(b[i])) * 0x01000193) & _M32
        i += 1
    h ^= (stop - start) & _M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


@helper(_nrt=False)
def _ts_ns(units: Int, mode: Int, factor: Int, offset_ns: Int) -> Int:
    if mode == TS_MUL:
        return units * factor + offset_ns
    if mode == TS_DIV:
        return units // factor + offset_ns
    sec = units >> factor
    frac = units - (sec << factor)
    if factor <= 30:
        return sec * 1_000_000_000 + ((frac * 1_000_000_000) >> factor) + offset_ns
    return sec * 1_000_000_000 + np.int64(frac / 2.0**factor * 1e9) + offset_ns


@kernel(nogil=True, _nrt=False)
def walk_pcap(
    buf: Arr,
    pos: Int,
    end: Int,
    be: bool,
    hdr_len: Int,
    ts_mult: Int,
    max_caplen: Int,
    off: Arr,
    caplen: Arr,
    origlen: Arr,
    ts: Arr,
    ifx: Arr,
) -> tuple[Int, Int, Int]:
    """Records of a classic pcap from ``pos``: (records found, next position, status)."""
    n = 0
    cap = off.shape[0]
    while True:
        if n >= cap:
            return n, pos, FULL
        if pos + hdr_len > end:
            return n, pos, NEED_MORE
        cl = _rd32(buf, pos + 8, be)
        if cl > max_caplen:
            return n, pos, BAD
        if pos + hdr_len + cl > end:
            return n, pos, NEED_MORE
        off[n] = pos + hdr_len
        caplen[n] = cl
        origlen[n] = _rd32(buf, pos + 12, be)
        ts[n] = _rd32(buf, pos, be) * 1_000_000_000 + _rd32(buf, pos + 4, be) * ts_mult
        ifx[n] = _rd32(buf, pos + 16, be) if hdr_len >= 24 else 0
        n += 1
        pos += hdr_len + cl


@helper(_nrt=False)
def _counted_record(btype: Int) -> bool | np.bool_:
    """Non-packet pcapng blocks that Wireshark (4.0) still counts as frames."""
    if btype == 0x00000BAD or btype == 0x40000BAD or btype == 9:  # custom, systemd journal
        return True
    return btype >= 0x200 and btype <= 0x230  # sysdig event blocks


@kernel(nogil=True, _nrt=False)
def walk_pcapng(
    buf: Arr,
    pos: Int,
    end: Int,
    be: bool,
    max_block: Int,
    if_base: Int,
    if_snap: Arr,
    if_mode: Arr,
    if_factor: Arr,
    if_offset: Arr,
    off: Arr,
    caplen: Arr,
    origlen: Arr,
    ts: Arr,
    iface: Arr,
) -> tuple[Int, Int, Int]:
    """Packet blocks (EPB, SPB, obsolete PB) of one pcapng section from ``pos``.

    Custom, systemd-journal and sysdig blocks are records Wireshark numbers as frames: they get
    ``iface`` -2 (counted, never decoded).  Other blocks are skipped; SHB and IDB return
    ``CONTROL``.  ``iface`` gets the global interface index, or -1 when the block names an
    interface the section lacks.
    """
    n = 0
    cap = off.shape[0]
    n_if = if_snap.shape[0]
    while True:
        if n >= cap:
            return n, pos, FULL
        if pos + 12 > end:
            return n, pos, NEED_MORE
        btype = _rd32(buf, pos, be)
        if btype == 0x0A0D0D0A:
            return n, pos, CONTROL
        blen = _rd32(buf, pos + 4, be)
        if blen < 12 or blen % 4 != 0 or blen > max_block:
            return n, pos, BAD
        if pos + blen > end:
            return n, pos, NEED_MORE
        if _rd32(buf, pos + blen - 4, be) != blen:
            return n, pos, BAD
        if btype == 1:
            return n, pos, CONTROL
        ifid = -2
        units = 0
        if btype == 6 or btype == 2:  # enhanced / obsolete packet block
            if blen < 32:
                return n, pos, BAD
            ifid = _rd32(buf, pos + 8, be) if btype == 6 else _rd16(buf, pos + 8, be)
            units = (_rd32(buf, pos + 12, be) << 32) | _rd32(buf, pos + 16, be)
            cl = _rd32(buf, pos + 20, be)
            if 28 + cl > blen - 4:
                return n, pos, BAD
            off[n] = pos + 28
            caplen[n] = cl
            origlen[n] = _rd32(buf, pos + 24, be)
        elif btype == 3:  # simple packet block: no timestamp, interface 0
            if blen < 16:
                return n, pos, BAD
            ifid = 0
            ol = _rd32(buf, pos + 8, be)
            cl = min(ol, blen - 16)
            if n_if > 0 and if_snap[0] > 0:
                cl = min(cl, if_snap[0])
            off[n] = pos + 12
            caplen[n] = cl
            origlen[n] = ol
        elif _counted_record(btype):  # Wireshark numbers these records as frames too
            ifid = -3
            off[n] = pos + 8
            caplen[n] = 0
            origlen[n] = 0
        if ifid == -3:
            iface[n] = -2
            ts[n] = 0
            n += 1
        elif ifid != -2:
            if ifid < n_if:
                iface[n] = if_base + ifid
                ts[n] = 0
                if btype != 3:
                    ts[n] = _ts_ns(units, if_mode[ifid], if_factor[ifid], if_offset[ifid])
            else:
                iface[n] = -1
                ts[n] = 0
            n += 1
        pos += blen


@helper(_nrt=False)
def _ether_chain(b: Arr, q: Int, stop: Int, etype: Int) -> tuple[Int, Int, Int]:
    """Follow VLAN/VN tags, PBB, FabricPath, MPLS, PPPoE, LLC/SNAP: (ip offset, ethertype, vlan)."""
    vlan = 0
    tagged = False
    for _ in range(16):
        if etype == 0x8100 or etype == 0x88A8 or etype == 0x9100 or etype == 0x9200:
            if q + 4 > stop:
                return q, -1, vlan
            if not tagged:
                vlan = _u16(b, q) & 0x0FFF
                tagged = True
            etype = _u16(b, q + 2)
            q += 4
        elif etype == 0x8847 or etype == 0x8848:  # MPLS: pop to bottom of stack
            bottom = False
            while not bottom:
                if q + 4 > stop:
                    return q, -1, vlan
                bottom = (b[q + 2] & 1) == 1
                q += 4
            if q >= stop:
                return q, -1, vlan
            ver = b[q] >> 4
            etype = 0x0800 if ver == 4 else (0x86DD if ver == 6 else -1)
            return q, etype, vlan
        elif etype == 0x8864:  # PPPoE session
            if q + 8 > stop:
                return q, -1, vlan
            proto = _u16(b, q + 6)
            q += 8
            etype = 0x0800 if proto == 0x0021 else (0x86DD if proto == 0x0057 else -1)
            return q, etype, vlan
        elif etype == 0x8926:  # VN-Tag: 4-byte tag, then the ethertype
            if q + 6 > stop:
                return q, -1, vlan
            etype = _u16(b, q + 4)
            q += 6
        elif etype == 0x88E7 or etype == 0x8903:  # PBB I-TAG / FabricPath: inner MACs follow
            skip = 4 if etype == 0x88E7 else 2
            if q + skip + 14 > stop:
                return q, -1, vlan
            etype = _u16(b, q + skip + 12)
            q += skip + 14
        elif etype < 0x0600:  # 802.3 length field: LLC/SNAP carries an ethertype
            if q + 8 > stop or b[q] != 0xAA or b[q + 1] != 0xAA or b[q + 2] != 0x03:
                return q, -1, vlan
            etype = _u16(b, q + 6)
            q += 8
        else:
            return q, etype, vlan
    return q, -1, vlan


@helper(_nrt=False)
def _wlan(b: Arr, p: Int, stop: Int) -> tuple[Int, Int, Int, Int]:
    """An 802.11 data frame carrying LLC/SNAP: (ip offset, ethertype or -1, 0, 0)."""
    if p + 24 > stop:
        return p, -1, 0, 0
    fc0 = np.int64(b[p])
    fc1 = np.int64(b[p + 1])
    if (fc0 >> 2) & 3 != 2 or (fc1 & 0x40) != 0:  # not a data frame, or encrypted
        return p, -1, 0, 0
    hdr = 30 if (fc1 & 3) == 3 else 24  # four addresses when both DS bits are set
    if fc0 & 0x80:  # QoS data: QoS control, and an HT control field when "order" is set
        hdr += 6 if fc1 & 0x80 else 2
    q = p + hdr
    if q + 8 > stop or b[q] != 0xAA or b[q + 1] != 0xAA or b[q + 2] != 0x03:
        return p, -1, 0, 0
    return q + 8, _u16(b, q + 6), 0, 0


@helper(_nrt=False)
def _version_etype(b: Arr, q: Int, stop: Int) -> Int:
    if q >= stop:
        return -1
    ver = b[q] >> 4
    return 0x0800 if ver == 4 else (0x86DD if ver == 6 else -1)


@helper(_nrt=False, inline="always")
def _find_ip(
    b: Arr,
    p: Int,
    stop: Int,
    kind: Int,
    fixed: Int,
) -> tuple[Int, Int, Int, Int]:
    """Locate the IP header of one frame: (offset, ethertype or -1, vlan, sll2 ifindex).
    ``fixed`` is the link-header length of ``KIND_FIXED`` link types."""
    if kind == KIND_FIXED:
        return p + fixed, _version_etype(b, p + fixed, stop), 0, 0
    if kind == KIND_PFLOG:  # the header's own length, rounded up to 4 bytes
        if p >= stop:
            return p, -1, 0, 0
        q = p + ((np.int64(b[p]) + 3) & ~3)
        return q, _version_etype(b, q, stop), 0, 0
    if kind == KIND_ETHERNET:
        if p + 14 > stop:
            return p, -1, 0, 0
        q, et, vlan = _ether_chain(b, p + 14, stop, _u16(b, p + 12))
        return q, et, vlan, 0
    if kind == KIND_SLL:
        if p + 16 > stop:
            return p, -1, 0, 0
        q, et, vlan = _ether_chain(b, p + 16, stop, _u16(b, p + 14))
        return q, et, vlan, 0
    if kind == KIND_SLL2:
        if p + 20 > stop:
            return p, -1, 0, 0
        q, et, vlan = _ether_chain(b, p + 20, stop, _u16(b, p))
        return q, et, vlan, _u32(b, p + 4)
    if kind == KIND_RAW:
        return p, _version_etype(b, p, stop), 0, 0
    if kind == KIND_IPV4 or kind == KIND_IPV6:  # noqa: SIM109 - numba-friendly
        et = _version_etype(b, p, stop)
        want = 0x0800 if kind == KIND_IPV4 else 0x86DD
        return p, et if et == want else -1, 0, 0
    if kind == KIND_NULL:
        if p + 4 > stop:
            return p, -1, 0, 0
        le = _u32le(b, p)
        be = _u32(b, p)
        if le == 2 or be == 2:
            return p + 4, 0x0800, 0, 0
        for fam in (10, 24, 28, 30):
            if le == fam or be == fam:
                return p + 4, 0x86DD, 0, 0
        return p, -1, 0, 0
    if kind == KIND_PPP:
        q = p
        if q + 2 <= stop and b[q] == 0xFF and b[q + 1] == 0x03:
            q += 2
        if q + 2 > stop:
            return p, -1, 0, 0
        proto = _u16(b, q)
        et = 0x0800 if proto == 0x0021 else (0x86DD if proto == 0x0057 else -1)
        return q + 2, et, 0, 0
    if kind == KIND_FDDI:  # FC + 2 addresses, then LLC/SNAP
        if p + 21 > stop or b[p + 13] != 0xAA or b[p + 14] != 0xAA:
            return p, -1, 0, 0
        return p + 21, _u16(b, p + 19), 0, 0
    if kind == KIND_RADIOTAP:  # little-endian length at offset 2, then 802.11
        if p + 4 > stop:
            return p, -1, 0, 0
        return _wlan(b, p + ((np.int64(b[p + 3]) << 8) | np.int64(b[p + 2])), stop)
    if kind == KIND_IEEE80211:
        return _wlan(b, p, stop)
    if kind == KIND_NFLOG:  # 4-byte header, then TLVs (host order, 4-byte aligned)
        if p + 4 > stop:
            return p, -1, 0, 0
        q = p + 4
        while q + 4 <= stop:
            tlen = (np.int64(b[q + 1]) << 8) | np.int64(b[q])
            ttype = (np.int64(b[q + 3]) << 8) | np.int64(b[q + 2])
            if tlen < 4 or q + tlen > stop:
                return p, -1, 0, 0
            if ttype == 9:  # NFULA_PAYLOAD
                return q + 4, _version_etype(b, q + 4, q + tlen), 0, 0
            q += (tlen + 3) & ~3
        return p, -1, 0, 0
    return p, -1, 0, 0


@helper(_nrt=False, inline="always")
def _csum_add(b: Arr, start: Int, stop: Int, acc: Int) -> Int:
    """Add bytes [start, stop) to a ones'-complement accumulator (32-bit words, RFC 1071)."""
    i = start
    while i + 4 <= stop:
        acc += _u32(b, i)
        i += 4
    if i + 2 <= stop:
        acc += _u16(b, i) << 16
        i += 2
        if i < stop:
            acc += np.int64(b[i]) << 8
    elif i < stop:
        acc += np.int64(b[i]) << 24
    return acc


@helper(_nrt=False, inline="always")
def _csum_words(b: Arr, b64: Arr, start: Int, stop: Int) -> Int:
    """Ones'-complement sum of bytes [start, stop) as 16-bit big-endian words from ``start``,
    folded to 16 bits.  Summed 8 bytes at a time through ``b64`` (the same buffer viewed as
    native little-endian uint64; its length a multiple of 8), the first and last words masked
    to the bytes in range, then byte-swapped when ``start`` is even."""
    if stop <= start:
        return 0
    lo = np.uint64(0xFFFFFFFF)
    sh = np.uint64(32)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    j0 = start >> 3
    j1 = (stop - 1) >> 3  # the last word (inclusive)
    head = ones << np.uint64(8 * (start & 7))
    tail_bytes = ((stop - 1) & 7) + 1
    tail = ones if tail_bytes == 8 else (np.uint64(1) << np.uint64(8 * tail_bytes)) - np.uint64(1)
    if j0 == j1:
        w = b64[j0] & head & tail
        acc = (w & lo) + (w >> sh)
    else:
        w = b64[j0] & head
        acc = (w & lo) + (w >> sh)
        # Unsigned indices: numba then omits its negative-index wraparound, and LLVM
        # vectorises the loop (with signed ones it gathers lane by lane, 4x slower).
        for j in range(np.uint64(j0 + 1), np.uint64(j1)):
            w = b64[j]
            acc += (w & lo) + (w >> sh)
        w = b64[j1] & tail
        acc += (w & lo) + (w >> sh)
    m16 = np.uint64(0xFFFF)
    s16 = np.uint64(16)
    while acc > m16:
        acc = (acc & m16) + (acc >> s16)
    folded = np.int64(acc)
    if (start & 1) == 0:  # even start: the little-endian sum has the bytes the wrong way round
        folded = ((folded & 0xFF) << 8) | (folded >> 8)
    return folded


@helper(_nrt=False)
def _csum_fold(acc: Int) -> Int:
    while acc > 0xFFFF:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


@helper(_nrt=False)
def _mix(h: np.uint64, v: np.uint64) -> np.uint64:
    h = (h ^ v) * np.uint64(0x100000001B3)
    return h ^ (h >> np.uint64(29))


@helper(_nrt=False)
def _ipv6_chain(b: Arr, l4: Int, end: Int, proto: Int) -> tuple[Int, Int, Int, bool, Int, bool]:
    """Walk IPv6 extension headers (hop-by-hop, routing, destination options, AH, fragment)
    from ``l4`` within ``end``: (transport offset, protocol, fragment offset, more fragments,
    fragment id, chain complete).  Stops at a non-first fragment."""
    frag_off = 0
    more = False
    ident = 0
    for _ in range(16):
        if proto == 0 or proto == 43 or proto == 60 or proto == 51:
            if l4 + 2 > end:
                return l4, proto, frag_off, more, ident, False
            words = np.int64(b[l4 + 1])
            nxt = np.int64(b[l4])
            l4 += (words + 2) * 4 if proto == 51 else (words + 1) * 8
            proto = nxt
        elif proto == 44:
            if l4 + 8 > end:
                return l4, proto, frag_off, more, ident, False
            fo = _u16(b, l4 + 2)
            frag_off = fo >> 3
            more = (fo & 1) != 0
            ident = _u32(b, l4 + 4)
            proto = np.int64(b[l4])
            l4 += 8
            if frag_off != 0:
                break
        else:
            break
    return l4, proto, frag_off, more, ident, True


@helper(_nrt=False, inline="always")
def _tcp_header(b: Arr, l4: Int, avail: Int) -> tuple[Int, Int, Int, Int, Int, Int, Int, Int]:
    """The fixed TCP header as far as ``avail`` bytes go: (sport, dport, seq, ack, header
    length, flags, window, checksum); missing fields are 0, the header length then 20."""
    sport = _u16(b, l4) if avail >= 4 else 0
    dport = _u16(b, l4 + 2) if avail >= 4 else 0
    seq = _u32(b, l4 + 4) if avail >= 8 else 0
    ack = _u32(b, l4 + 8) if avail >= 12 else 0
    thl = (np.int64(b[l4 + 12]) >> 4) * 4 if avail >= 14 else 20
    flags = np.int64(b[l4 + 13]) if avail >= 14 else 0
    win = _u16(b, l4 + 14) if avail >= 16 else 0
    csum = _u16(b, l4 + 16) if avail >= 18 else 0
    return sport, dport, seq, ack, thl, flags, win, csum


@helper(_nrt=False, inline="always")
def _tcp_timestamp(b: Arr, o: Int, o_end: Int) -> tuple[bool, Int]:
    """TCP options [o, o_end): (timestamp option present, its TSval)."""
    while o < o_end:
        kind = b[o]
        if kind == 0:
            break
        if kind == 1:
            o += 1
            continue
        if o + 1 >= o_end:
            break
        olen = np.int64(b[o + 1])
        if olen < 2:
            break
        if kind == 8 and olen == 10 and o + 10 <= o_end:
            return True, _u32(b, o + 2)
        o += olen
    return False, 0


@helper(_nrt=False, inline="always")
def _pseudo_sum(b: Arr, q: Int, ver: Int, proto: Int, seg: Int) -> Int:
    """Unfolded ones'-complement sum of the pseudo-header (addresses, protocol, length)."""
    acc = _csum_add(b, q + 12, q + 20, 0) if ver == 4 else _csum_add(b, q + 8, q + 40, 0)
    return acc + proto + (seg & 0xFFFF) + (seg >> 16)


@helper(_nrt=False, inline="always")
def _segment_ok(b: Arr, b64: Arr, q: Int, l4: Int, ip_end: Int, ver: Int, proto: Int) -> bool:
    """Does the checksum of the fully captured segment [l4, ip_end) verify?"""
    acc = _csum_words(b, b64, l4, ip_end)
    if proto != 1:  # all but ICMPv4 sum a pseudo-header too
        acc += _pseudo_sum(b, q, ver, proto, ip_end - l4)
    return _csum_fold(acc) == 0xFFFF


@helper(_nrt=False)
def _offloaded(b: Arr, q: Int, ver: Int, proto: Int, seg: Int, field: Int) -> bool:
    """Is a wrong TCP/UDP checksum the unfinished one of checksum offload?  The sending stack
    leaves the folded pseudo-header sum in the field for the NIC to complete; a capture taken
    on that host (or on a veth) sees it as is."""
    if proto != 6 and proto != 17:
        return False
    return field == _csum_fold(_pseudo_sum(b, q, ver, proto, seg))


@helper(_nrt=False)
def _fingerprint(addrs: tuple[np.uint64, ...], fields: tuple[Int, ...]) -> np.uint64:
    """64-bit digest of the address words and the packed header fields (duplicate lookup)."""
    fp = np.uint64(0xCBF29CE484222325)
    for word in addrs:
        fp = _mix(fp, word)
    for value in fields:
        fp = _mix(fp, np.uint64(value))
    return fp


@helper(_nrt=False)
def _same_bytes(b: Arr, a: Int, c: Int, length: Int) -> bool:
    for k in range(length):  # noqa: SIM110 - no generators in nopython mode
        if b[a + k] != b[c + k]:
            return False
    return True


@helper(_nrt=False)
def _write_row(
    r: Any, file_idx: Int, frame: Int, iface: Int, ts: Int, ver: Int, proto: Int,
    hi_s: Any, lo_s: Any, hi_d: Any, lo_d: Any, sport: Int, dport: Int, tcp_flags: Int,
    seq: Int, ack: Int, win: Int, payload_len: Int, ip_len: Int, ip_id: Int, ttl: Int,
    tsval: Int, opts_hash: Int, payload_hash: Int, pflags: Int, vlan: Int,
) -> None:  # fmt: skip
    r["file_idx"] = file_idx
    r["frame"] = frame
    r["iface"] = iface
    r["ts_ns"] = ts
    r["ip_ver"] = ver
    r["proto"] = proto
    r["src_hi"] = hi_s
    r["src_lo"] = lo_s
    r["dst_hi"] = hi_d
    r["dst_lo"] = lo_d
    r["sport"] = sport
    r["dport"] = dport
    r["tcp_flags"] = tcp_flags
    r["seq"] = seq
    r["ack"] = ack
    r["win"] = win
    r["payload_len"] = payload_len
    r["ip_len"] = ip_len
    r["ip_id"] = ip_id
    r["ttl"] = ttl
    r["tsval"] = tsval
    r["opts_hash"] = opts_hash
    r["payload_hash"] = payload_hash
    r["pflags"] = pflags
    r["vlan"] = vlan


@kernel(nogil=True, _nrt=False)
def decode_records(
    buf: Arr,
    buf64: Arr,
    off: Arr,
    caplen: Arr,
    origlen: Arr,
    ts: Arr,
    iface: Arr,
    ifx: Arr,
    n: Int,
    if_kind: Arr,
    if_fixed: Arr,
    if_anydev: Arr,
    file_idx: Int,
    frame0: Int,
    row0: Int,
    chunk: Int,
    verify: bool,
    dup_window: Int,
    tab_fp: Arr,
    tab_ts: Arr,
    tab_key: Arr,
    tab_row: Arr,
    tab_chunk: Arr,
    tab_off: Arr,
    tab_len: Arr,
    out: Arr,
    early_marks: Arr,
) -> tuple[Int, Int, Int]:
    """Decode ``n`` records into ``out`` rows: (rows written, duplicates dropped, early marks).

    Frame ``i`` of the chunk is frame number ``frame0 + i``.  Rows are written only for frames
    that decode to IPv4/IPv6.  A frame whose IP packet (captured bytes and lengths) is identical
    to one seen at most ``dup_window`` ns earlier on a *different* interface (or on a Linux
    "any" device, whose SLL header does not say which interface) is a duplicate: no row is
    written, the kept row gets ``PF_DUP_SEEN``.  When the kept row belongs to an earlier batch
    its global row number goes to ``early_marks`` for the caller to flag.  The duplicate table
    (``tab_*``, a direct-mapped hash table) persists across chunks; bytes are compared exactly
    when both copies are in this chunk, else the 64-bit header fingerprint decides (it includes
    the transport checksum, which covers the whole segment).
    """
    rows = 0
    dups = 0
    marks = 0
    mask = tab_fp.shape[0] - 1
    for i in range(n):
        ifc = iface[i]
        if ifc < 0:
            continue
        p = off[i]
        cl = caplen[i]
        stop = p + cl
        q, etype, vlan, sll_if = _find_ip(buf, p, stop, if_kind[ifc], if_fixed[ifc])
        wire_left = origlen[i] - (q - p)  # bytes of the packet on the wire from q
        pflags = 0
        ip_id = 0
        frag_off = 0
        more = False
        hi_s = np.uint64(0)
        hi_d = np.uint64(0)
        if etype == 0x0800:
            if q + 20 > stop or (buf[q] >> 4) != 4:
                continue
            ihl = (np.int64(buf[q]) & 15) * 4
            if ihl < 20:
                continue
            ip_len = _u16(buf, q + 2)  # the header's value goes in the row (Zeek's *_ip_bytes)
            span = ip_len
            if ip_len == 0:  # TSO: the stack had not filled the length in yet; use the wire's
                span = max(wire_left, 0)
            if span < ihl:
                continue
            ver = 4
            ip_id = _u16(buf, q + 4)
            fo = _u16(buf, q + 6)
            frag_off = fo & 0x1FFF
            more = (fo & 0x2000) != 0
            ttl = np.int64(buf[q + 8])
            proto = np.int64(buf[q + 9])
            lo_s = np.uint64(_u32(buf, q + 12))
            lo_d = np.uint64(_u32(buf, q + 16))
            l4 = q + ihl
            ip_end = q + span
            hdr_ok = l4 <= stop
            ip_csum_bad = 0
            if verify and hdr_ok and _csum_fold(_csum_add(buf, q, l4, 0)) != 0xFFFF:
                # a zero field is offload's (Windows leaves it to the NIC), else wrong
                ip_csum_bad = 1 if _u16(buf, q + 10) == 0 else 2
        elif etype == 0x86DD:
            if q + 40 > stop or (buf[q] >> 4) != 6:
                continue
            ver = 6
            plen = _u16(buf, q + 4)
            ip_len = plen + 40
            span = ip_len
            if plen == 0:  # jumbogram or TSO: the packet's extent is the wire's
                span = max(wire_left, 40)
            proto = np.int64(buf[q + 6])
            ttl = np.int64(buf[q + 7])
            hi_s = _u64be(buf, q + 8)
            lo_s = _u64be(buf, q + 16)
            hi_d = _u64be(buf, q + 24)
            lo_d = _u64be(buf, q + 32)
            ip_end = q + span
            ip_csum_bad = 0
            l4, proto, frag_off, more, ip_id, hdr_ok = _ipv6_chain(
                buf, q + 40, min(stop, ip_end), proto
            )
            hdr_ok = hdr_ok and l4 <= stop
        else:
            continue
        if ip_end > stop:
            pflags |= _PF_TRUNCATED
        # A packet shorter on the wire than its IP length says: use what was there.
        ip_end = min(ip_end, q + max(wire_left, 0))
        cap_end = min(stop, ip_end)
        if frag_off != 0:
            pflags |= _PF_FRAGMENT
        elif more:
            pflags |= _PF_MORE_FRAGS
        sport = 0
        dport = 0
        tcp_flags = 0
        seq = 0
        ack = 0
        win = 0
        tsval = 0
        opts_hash = 0
        payload_hash = 0
        csum_field = 0
        payload_len = max(ip_end - l4, 0)
        avail = cap_end - l4
        transport = hdr_ok and frag_off == 0 and avail > 0
        if not hdr_ok:
            pflags |= _PF_TRUNCATED
        if not hdr_ok or avail <= 0:  # nothing after the IP headers was captured
            payload_len = 0
        if transport and proto == 6:
            sport, dport, seq, ack, thl, tcp_flags, win, csum_field = _tcp_header(buf, l4, avail)
            if thl < 20:
                thl = 20
                payload_len = 0
            else:
                payload_len = max(ip_end - l4 - thl, 0)
            o_end = min(l4 + thl, cap_end)
            if o_end > l4 + 20:
                opts_hash = hash32(buf, l4 + 20, o_end)
                has_ts, tsval = _tcp_timestamp(buf, l4 + 20, o_end)
                pflags |= _PF_HAS_TS if has_ts else 0
            pay = l4 + thl
            hdr_len = thl
        elif transport and proto == 17:
            if avail >= 4:
                sport = _u16(buf, l4)
                dport = _u16(buf, l4 + 2)
            if avail >= 8:
                csum_field = _u16(buf, l4 + 6)
            payload_len = max(ip_end - l4 - 8, 0)
            pay = l4 + 8
            hdr_len = 8
        elif transport and (proto == 1 or proto == 58):
            if avail >= 2:
                sport = np.int64(buf[l4])
                dport = np.int64(buf[l4 + 1])
            if avail >= 4:
                csum_field = _u16(buf, l4 + 2)
            payload_len = max(ip_end - l4 - 8, 0)
            pay = l4 + 8
            hdr_len = 8
        else:
            pay = l4
            hdr_len = 0
        if hdr_len > 0 and pay < cap_end:
            payload_hash = hash32(buf, pay, min(pay + 64, cap_end))
        if transport and (proto == 6 or proto == 17 or proto == 1 or proto == 58):
            no_udp_csum = proto == 17 and csum_field == 0 and ver == 4
            if not verify or more or cap_end < ip_end or avail < hdr_len or no_udp_csum:
                pflags |= _PF_CSUM_UNKNOWN
            elif not _segment_ok(buf, buf64, q, l4, ip_end, ver, proto):
                pflags |= _PF_BAD_CSUM
                if _offloaded(buf, q, ver, proto, ip_end - l4, csum_field):
                    pflags |= _PF_CSUM_UNKNOWN  # bad + unknown: left unfinished for the NIC
        if ip_csum_bad == 2:  # the packet is bad whatever its transport checksum
            pflags = (pflags | _PF_BAD_CSUM) & ~_PF_CSUM_UNKNOWN
        elif ip_csum_bad == 1 and (pflags & (_PF_BAD_CSUM | _PF_CSUM_UNKNOWN)) != _PF_BAD_CSUM:
            pflags |= _PF_BAD_CSUM | _PF_CSUM_UNKNOWN  # offloaded, unless the segment is bad

        t = ts[i]
        if dup_window < 0:  # no duplicates possible or wanted: no fingerprint, no table
            _write_row(out[rows], file_idx, frame0 + i, ifc, t, ver, proto, hi_s, lo_s, hi_d,
                       lo_d, sport, dport, tcp_flags, seq, ack, win, payload_len, ip_len, ip_id,
                       ttl, tsval, opts_hash, payload_hash, pflags, vlan)  # fmt: skip
            rows += 1
            continue

        # Cross-interface duplicates.
        key = (np.int64(ifc) << 32) | np.int64(sll_if | ifx[i])
        anydev = if_anydev[ifc]
        fp = _fingerprint(
            (lo_s, lo_d, hi_s ^ (hi_d << np.uint64(1))),
            (
                (sport << 16) | dport,
                (seq << 32) | ack,
                (ip_len << 32) | (ip_id & 0xFFFFFFFF),
                (tcp_flags << 40) | (win << 24) | (ttl << 16) | csum_field,
                (payload_hash << 32) | opts_hash,
                (proto << 48) | (frag_off << 32) | (stop - q),
            ),
        )
        slot = np.int64(fp & np.uint64(mask))
        is_dup = (
            tab_fp[slot] == fp
            and abs(t - tab_ts[slot]) <= dup_window
            and (anydev or tab_key[slot] != key)
            and tab_len[slot] == stop - q
            and (tab_chunk[slot] != chunk or _same_bytes(buf, q, tab_off[slot], stop - q))
        )
        if is_dup:
            dups += 1
            orig = tab_row[slot]
            if orig >= row0:
                out[orig - row0]["pflags"] |= _PF_DUP_SEEN
            elif marks < early_marks.shape[0]:
                early_marks[marks] = orig
                marks += 1
            tab_fp[slot] = np.uint64(0)  # a third copy is a new packet, not a duplicate
            continue
        tab_fp[slot] = fp
        tab_ts[slot] = t
        tab_key[slot] = key
        tab_row[slot] = row0 + rows
        tab_chunk[slot] = chunk
        tab_off[slot] = q
        tab_len[slot] = stop - q

        _write_row(out[rows], file_idx, frame0 + i, ifc, t, ver, proto, hi_s, lo_s, hi_d, lo_d,
                   sport, dport, tcp_flags, seq, ack, win, payload_len, ip_len, ip_id, ttl, tsval,
                   opts_hash, payload_hash, pflags, vlan)  # fmt: skip
        rows += 1
    return rows, dups, marks
