"""Parser unit tests of the fast capture backend on small, byte-exact captures built here.

Each capture is assembled with ``struct`` (headers with correct checksums), so every expected
value is known from construction, not from running the parser.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcapflow.capture import fast, get_backend
from pcapflow.capture.hashing import hash32_py
from pcapflow.errors import CaptureError
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import (
    ACK,
    PF_BAD_CSUM,
    PF_CSUM_UNKNOWN,
    PF_DUP_SEEN,
    PF_FRAGMENT,
    PF_HAS_TS,
    PF_MORE_FRAGS,
    PF_TRUNCATED,
    PSH,
    SYN,
    PacketArray,
    addr_to_halves,
    empty_batch,
)

T0 = 1_700_000_000  # seconds


# -- packet builders ------------------------------------------------------------------------


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _addr(text: str) -> bytes:
    ver, hi, lo = addr_to_halves(text)
    return lo.to_bytes(4, "big") if ver == 4 else ((hi << 64) | lo).to_bytes(16, "big")


def tcp(
    sport: int,
    dport: int,
    *,
    seq: int = 1000,
    ack: int = 0,
    flags: int = SYN,
    win: int = 64240,
    options: bytes = b"",
    payload: bytes = b"",
) -> tuple[int, bytes]:
    """(protocol, segment with a zero checksum field; :func:`ipv4`/:func:`ipv6` fill it)."""
    off = (20 + len(options)) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, 0)
    return 6, head + options + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> tuple[int, bytes]:
    return 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(kind: int, code: int, payload: bytes = b"", v6: bool = False) -> tuple[int, bytes]:
    return (58 if v6 else 1), struct.pack("!BBHI", kind, code, 0, 0x12340001) + payload


def _l4_checksum(proto: int, seg: bytes, pseudo: bytes) -> bytes:
    where = {6: 16, 17: 6, 1: 2, 58: 2}[proto]
    value = _csum(seg if proto == 1 else pseudo + seg)
    if proto == 17 and value == 0:
        value = 0xFFFF
    return seg[:where] + struct.pack("!H", value) + seg[where + 2 :]


def ipv4(
    src: str,
    dst: str,
    l4: tuple[int, bytes],
    *,
    ident: int = 0x1234,
    ttl: int = 64,
    frag: int = 0,
    more: bool = False,
    options: bytes = b"",
    bad_csum: bool = False,
) -> bytes:
    proto, seg = l4
    if frag == 0 and not more:
        pseudo = _addr(src) + _addr(dst) + struct.pack("!BBH", 0, proto, len(seg))
        seg = _l4_checksum(proto, seg, pseudo)
    if bad_csum:
        seg = seg[:16] + bytes([seg[16] ^ 0xFF]) + seg[17:]
    ihl = (20 + len(options)) // 4
    flags = (0x2000 if more else 0) | frag
    head = struct.pack(
        "!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(seg), ident, flags, ttl, proto, 0,
        _addr(src), _addr(dst),
    )  # fmt: skip
    head += options
    head = head[:10] + struct.pack("!H", _csum(head)) + head[12:]
    return head + seg


def ipv6(src: str, dst: str, l4: tuple[int, bytes], *, ext: bytes = b"", first: int = 0) -> bytes:
    """IPv6; ``ext`` is a chain of extension headers starting with next-header ``first``."""
    proto, seg = l4
    pseudo = _addr(src) + _addr(dst) + struct.pack("!IxxxB", len(seg), proto)
    seg = _l4_checksum(proto, seg, pseudo)
    nxt = first if ext else proto
    head = struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(seg), nxt, 61, _addr(src), _addr(dst))
    return head + ext + seg


def eth(packet: bytes, etype: int = 0x0800, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Ethernet II; ``tags`` = ((tpid, vid), ...) outermost first."""
    head = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    for tpid, vid in tags:
        head += struct.pack("!HH", tpid, vid)
    return head + struct.pack("!H", etype) + packet


def pcap(
    frames: list[tuple[int, bytes]] | list[tuple[int, bytes, int]],
    *,
    link: int = 1,
    nsec: bool = False,
    big_endian: bool = False,
    snaplen: int = 65535,
    modified: bool = False,
) -> bytes:
    """A classic pcap; frames are (ts_ns, bytes[, wire length])."""
    order = ">" if big_endian else "<"
    magic = 0xA1B2CD34 if modified else (0xA1B23C4D if nsec else 0xA1B2C3D4)
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link)
    for frame in frames:
        ts, data = frame[0], frame[1]
        wire = frame[2] if len(frame) > 2 else len(data)  # type: ignore[misc]
        frac = ts % 10**9 if nsec else (ts % 10**9) // 1000
        out += struct.pack(order + "IIII", ts // 10**9, frac, len(data), wire)
        if modified:
            out += struct.pack(order + "IHBx", 7, 0x0800, 0)
        out += data
    return out


def _block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def _opt(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(order: str = "<") -> bytes:
    return _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(
    order: str = "<", link: int = 1, *, snaplen: int = 0, tsresol: int | None = None,
    tsoffset: int = 0, name: str = "",
) -> bytes:  # fmt: skip
    opts = b""
    if name:
        opts += _opt(order, 2, name.encode())
    if tsresol is not None:
        opts += _opt(order, 9, bytes([tsresol]))
    if tsoffset:
        opts += _opt(order, 14, struct.pack(order + "q", tsoffset))
    if opts:
        opts += _opt(order, 0, b"")
    return _block(order, 1, struct.pack(order + "HHI", link, 0, snaplen) + opts)


def epb(order: str, iface: int, units: int, data: bytes, wire: int | None = None) -> bytes:
    head = struct.pack(
        order + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
        len(data) if wire is None else wire,
    )  # fmt: skip
    return _block(order, 6, head + data)


def spb(order: str, data: bytes) -> bytes:
    return _block(order, 3, struct.pack(order + "I", len(data)) + data)


def obsolete_pb(order: str, iface: int, units: int, data: bytes) -> bytes:
    head = struct.pack(
        order + "HHIIII", iface, 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data)
    )
    return _block(order, 2, head + data)


def custom_block(order: str = "<") -> bytes:
    return _block(order, 0x00000BAD, struct.pack(order + "I", 32473) + b"note")


# -- reading helpers ------------------------------------------------------------------------


def read(
    tmp_path: Path, content: bytes, name: str = "c.pcap", **kw: Any
) -> tuple[PacketArray, CaptureInfo]:
    path = tmp_path / name
    path.write_bytes(content)
    reader = get_backend("fast").open(str(path), 3, **kw)
    batches = list(reader.batches())
    rows = np.concatenate(batches) if batches else empty_batch()
    return rows, reader.info()


def one(tmp_path: Path, frame: bytes, link: int = 1) -> np.void:
    rows, info = read(tmp_path, pcap([(T0 * 10**9, frame)], link=link))
    assert info.frames == 1 and len(rows) == 1
    return rows[0]


SYN_PKT = ipv4("10.2.1.4", "10.2.1.100", tcp(40001, 80))


# -- container formats ----------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nsec", [False, True])
def test_pcap_timestamps_are_exact_integers(tmp_path: Path, nsec: bool, big_endian: bool) -> None:
    ts = T0 * 10**9 + (123_456_789 if nsec else 123_456_000)
    content = pcap(
        [(ts, eth(SYN_PKT)), (ts + 1000, eth(SYN_PKT))], nsec=nsec, big_endian=big_endian
    )
    rows, info = read(tmp_path, content)
    assert list(rows["ts_ns"]) == [ts, ts + 1000]
    assert list(rows["frame"]) == [1, 2]
    assert set(rows["file_idx"]) == {3}
    assert info.format == ("pcap-ns" if nsec else "pcap")
    assert (info.first_ts_ns, info.last_ts_ns) == (ts, ts + 1000)
    assert info.interfaces[0].ts_resolution_ns == (1 if nsec else 1000)


def test_modified_pcap_with_24_byte_record_headers(tmp_path: Path) -> None:
    content = pcap([(T0 * 10**9, eth(SYN_PKT)), (T0 * 10**9 + 5000, eth(SYN_PKT))], modified=True)
    rows, info = read(tmp_path, content)
    assert info.format == "pcap-modified"
    assert list(rows["frame"]) == [1, 2]
    assert int(rows[1]["sport"]) == 40001


def test_pcapng_sections_interfaces_and_block_kinds(tmp_path: Path) -> None:
    raw_pkt = ipv4("10.0.0.1", "10.0.0.2", udp(5000, 53, b"q"))
    content = (
        shb("<")
        + idb("<", 1, tsresol=9, name="eth0")  # interface 0: Ethernet, ns
        + idb("<", 101, tsresol=0x80 | 10, tsoffset=100)  # interface 1: raw IP, 2^-10 s
        + epb("<", 0, T0 * 10**9 + 7, eth(SYN_PKT))  # frame 1
        + custom_block("<")  # frame 2 (Wireshark counts it)
        + epb("<", 1, 1024 * 5 + 512, raw_pkt)  # frame 3: 5.5 s + 100 s offset
        + spb("<", eth(SYN_PKT))  # frame 4: no timestamp, interface 0
        + shb(">")
        + idb(">", 113)  # interface 2 (section 2's interface 0): SLL, usec
        + obsolete_pb(">", 0, 2_000_000, b"\0\0\0\x01\0\x06" + b"\0" * 8 + b"\x08\0" + SYN_PKT)
    )
    rows, info = read(tmp_path, content, "c.pcapng")
    assert info.format == "pcapng"
    assert [i.link_type for i in info.interfaces] == [1, 101, 113]
    assert info.interfaces[0].name == "eth0"
    assert info.frames == 5
    assert list(rows["frame"]) == [1, 3, 4, 5]
    assert list(rows["iface"]) == [0, 1, 0, 2]
    assert list(rows["ts_ns"]) == [T0 * 10**9 + 7, 105_500_000_000, 0, 2_000_000_000]
    assert list(rows["proto"]) == [6, 17, 6, 6]
    assert not info.warnings


def test_gzip_is_detected_by_magic_and_hashed_decompressed(tmp_path: Path) -> None:
    plain = pcap([(T0 * 10**9, eth(SYN_PKT))])
    rows, info = read(tmp_path, gzip.compress(plain), "capture.bin")
    assert info.format == "gzip+pcap"
    assert len(rows) == 1
    assert info.sha256 == hashlib.sha256(plain).hexdigest()


@pytest.mark.parametrize("packed", [False, True])
def test_digest_off_gives_the_same_rows_and_no_hash(tmp_path: Path, packed: bool) -> None:
    frames = [(T0 * 10**9 + i, eth(ipv4("10.0.0.1", "10.0.0.2", tcp(i + 1, 80)))) for i in range(9)]
    content = pcap(frames)
    path = tmp_path / "c.pcap"
    path.write_bytes(gzip.compress(content) if packed else content)
    hashed = get_backend("fast").open(str(path))
    plain = fast.FastBackend(digest=False).open(str(path))
    rows = np.concatenate(list(plain.batches()))
    assert rows.tobytes() == np.concatenate(list(hashed.batches())).tobytes()
    assert hashed.info().sha256 == hashlib.sha256(content).hexdigest()
    assert plain.info().sha256 == ""
    assert plain.info().frames == 9


def test_cut_gzip_keeps_what_decompresses(tmp_path: Path) -> None:
    frames = [
        (T0 * 10**9 + i, eth(ipv4("10.0.0.1", "10.0.0.2", tcp(i + 1, 80)))) for i in range(400)
    ]
    packed = gzip.compress(pcap(frames), compresslevel=1)
    rows, info = read(tmp_path, packed[: len(packed) // 2], "cut.pcap.gz")
    assert 0 < len(rows) < 400
    assert list(rows["sport"]) == list(range(1, len(rows) + 1))
    assert any("end-of-stream" in w for w in info.warnings)


@pytest.mark.parametrize("suffix", ["bz2", "xz"])
def test_bzip2_and_xz(tmp_path: Path, suffix: str) -> None:
    import bz2
    import lzma

    plain = pcap([(T0 * 10**9, eth(SYN_PKT))])
    packed = bz2.compress(plain) if suffix == "bz2" else lzma.compress(plain)
    rows, info = read(tmp_path, packed, f"c.{suffix}")
    assert len(rows) == 1 and info.format == ("bzip2+pcap" if suffix == "bz2" else "xz+pcap")


def test_stdin_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = pcap([(T0 * 10**9, eth(SYN_PKT)), (T0 * 10**9 + 1, eth(b"\0" * 28, 0x0806))])
    fake = io.TextIOWrapper(io.BytesIO(gzip.compress(plain)))
    monkeypatch.setattr(sys, "stdin", fake)
    reader = get_backend("fast").open("-")
    rows = np.concatenate(list(reader.batches()))
    info = reader.info()
    assert (info.frames, info.decoded, len(rows)) == (2, 1, 1)
    assert info.sha256 == hashlib.sha256(plain).hexdigest()


def test_small_chunks_and_batches_give_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [
        (
            T0 * 10**9 + i * 1000,
            eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1000 + i, 80, payload=b"x" * i))),
        )
        for i in range(300)
    ]
    content = pcap(frames)
    whole, _ = read(tmp_path, content)
    monkeypatch.setattr(fast, "CHUNK_BYTES", 64)  # records straddle refills; buffer must grow
    path = tmp_path / "small.pcap"
    path.write_bytes(content)
    reader = get_backend("fast").open(str(path), 3, batch_size=7)
    batches = list(reader.batches())
    assert max(len(b) for b in batches) <= 7
    assert np.array_equal(np.concatenate(batches), whole)
    assert len(whole) == 300


# -- link types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "vlan"),
    [
        ((), 0),
        (((0x8100, 42),), 42),
        (((0x88A8, 100), (0x8100, 42)), 100),
        (((0x9100, 7), (0x8100, 8)), 7),
    ],
)
def test_ethernet_with_vlan_tags(
    tmp_path: Path, tags: tuple[tuple[int, int], ...], vlan: int
) -> None:
    row = one(tmp_path, eth(SYN_PKT, tags=tags))
    assert int(row["vlan"]) == vlan
    assert (int(row["sport"]), int(row["dport"])) == (40001, 80)


def test_mpls_and_pppoe(tmp_path: Path) -> None:
    mpls = struct.pack("!I", (16 << 12) | 64) + struct.pack("!I", (17 << 12) | 0x100 | 64)
    assert int(one(tmp_path, eth(mpls + SYN_PKT, 0x8847))["dport"]) == 80
    pppoe = struct.pack("!BBHHH", 0x11, 0, 1, len(SYN_PKT) + 2, 0x0021)
    assert int(one(tmp_path, eth(pppoe + SYN_PKT, 0x8864))["dport"]) == 80


def test_linux_cooked_v1_and_v2(tmp_path: Path) -> None:
    sll = struct.pack("!HHH8sH", 4, 1, 6, b"\x02" * 6 + b"\0\0", 0x0800)
    assert int(one(tmp_path, sll + SYN_PKT, link=113)["dport"]) == 80
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 4, 6, b"\x02" * 6 + b"\0\0")
    assert int(one(tmp_path, sll2 + SYN_PKT, link=276)["dport"]) == 80


@pytest.mark.parametrize("link", [101, 12, 14, 228])
def test_raw_ipv4_link_types(tmp_path: Path, link: int) -> None:
    row = one(tmp_path, SYN_PKT, link=link)
    assert (int(row["ip_ver"]), int(row["dport"])) == (4, 80)


@pytest.mark.parametrize("link", [101, 229])
def test_raw_ipv6_link_types(tmp_path: Path, link: int) -> None:
    row = one(tmp_path, ipv6("2001:db8::1", "2001:db8::2", tcp(1, 443)), link=link)
    assert (int(row["ip_ver"]), int(row["dport"])) == (6, 443)


@pytest.mark.parametrize("link", [0, 108])
@pytest.mark.parametrize("family", [b"\x02\0\0\0", b"\0\0\0\x02", b"\x1e\0\0\0", b"\0\0\0\x18"])
def test_bsd_loopback_in_both_byte_orders(tmp_path: Path, link: int, family: bytes) -> None:
    v6 = family not in (b"\x02\0\0\0", b"\0\0\0\x02")
    packet = ipv6("::1", "::1", tcp(1, 2)) if v6 else SYN_PKT
    row = one(tmp_path, family + packet, link=link)
    assert int(row["ip_ver"]) == (6 if v6 else 4)


def test_unsupported_link_type_is_counted_with_a_warning(tmp_path: Path) -> None:
    rows, info = read(tmp_path, pcap([(T0 * 10**9, SYN_PKT)], link=160))
    assert (len(rows), info.frames, info.decoded) == (0, 1, 0)
    assert any("link type" in w for w in info.warnings)


def test_non_ip_frames_keep_their_frame_numbers(tmp_path: Path) -> None:
    arp = eth(b"\0" * 28, 0x0806)
    rows, info = read(
        tmp_path, pcap([(T0 * 10**9, arp), (T0 * 10**9, arp), (T0 * 10**9, eth(SYN_PKT))])
    )
    assert list(rows["frame"]) == [3]
    assert (info.frames, info.decoded) == (3, 1)


# -- network and transport layers -----------------------------------------------------------


def test_tcp_fields_options_and_hashes(tmp_path: Path) -> None:
    opts = b"\x02\x04\x05\xb4\x01\x01\x08\x0a" + struct.pack("!II", 777, 0) + b"\x01\x03\x03\x07"
    payload = bytes(range(100))
    segment = tcp(
        40001, 80, seq=2**32 - 5, ack=99, flags=PSH | ACK, win=501, options=opts, payload=payload
    )
    packet = ipv4("10.2.1.4", "10.2.1.100", segment, ident=4321, ttl=63)
    row = one(tmp_path, eth(packet))
    assert (int(row["src_hi"]), int(row["src_lo"])) == (0, 0x0A020104)
    assert int(row["dst_lo"]) == 0x0A020164
    assert (int(row["seq"]), int(row["ack"]), int(row["win"])) == (2**32 - 5, 99, 501)
    assert int(row["tcp_flags"]) == PSH | ACK
    assert (int(row["ip_len"]), int(row["payload_len"])) == (20 + 40 + 100, 100)
    assert (int(row["ip_id"]), int(row["ttl"])) == (4321, 63)
    assert int(row["tsval"]) == 777
    assert int(row["pflags"]) == PF_HAS_TS
    assert int(row["opts_hash"]) == hash32_py(opts)
    assert int(row["payload_hash"]) == hash32_py(payload[:64])


def test_ethernet_padding_is_not_payload(tmp_path: Path) -> None:
    row = one(tmp_path, eth(SYN_PKT) + b"\0" * 6)
    assert (int(row["payload_len"]), int(row["payload_hash"])) == (0, 0)
    assert int(row["pflags"]) == 0


def test_tso_zero_ip_length_keeps_the_header_value(tmp_path: Path) -> None:
    packet = bytearray(ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2, flags=ACK, payload=b"d" * 300)))
    packet[2:4] = b"\0\0"  # captured before TCP segmentation offload filled the length in
    row = one(tmp_path, eth(bytes(packet)))
    assert (int(row["ip_len"]), int(row["payload_len"])) == (0, 300)
    assert not int(row["pflags"]) & PF_TRUNCATED


def test_bad_transport_checksum_is_flagged(tmp_path: Path) -> None:
    packet = ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2), bad_csum=True)
    assert int(one(tmp_path, eth(packet))["pflags"]) & PF_BAD_CSUM


def _offloaded(packet: bytes, where: int) -> bytes:
    """``packet`` (IPv4 + TCP/UDP) as the sending host's capture shows it under checksum
    offload: the transport checksum field holds the folded pseudo-header sum."""
    seg = packet[20:]
    pseudo = packet[12:20] + struct.pack("!BBH", 0, packet[9], len(seg))
    partial = 0xFFFF - _csum(pseudo)  # _csum returns the complement
    return packet[: 20 + where] + struct.pack("!H", partial) + packet[22 + where :]


@pytest.mark.parametrize(
    ("l4", "where"),
    [(tcp(1, 2, flags=ACK, payload=b"x" * 33), 16), (udp(5, 53, payload=b"q" * 21), 6)],
)
def test_checksum_left_for_offload_is_flagged_bad_and_unknown(
    tmp_path: Path, l4: tuple[int, bytes], where: int
) -> None:
    packet = _offloaded(ipv4("10.0.0.1", "10.0.0.2", l4), where)
    flags = int(one(tmp_path, eth(packet))["pflags"])
    assert flags & (PF_BAD_CSUM | PF_CSUM_UNKNOWN) == PF_BAD_CSUM | PF_CSUM_UNKNOWN


def test_zero_ipv4_header_checksum_is_offloaded_other_wrong_ones_are_bad(tmp_path: Path) -> None:
    packet = bytearray(ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2)))
    packet[10:12] = b"\0\0"  # Windows leaves the header checksum to the NIC
    flags = int(one(tmp_path, eth(bytes(packet)))["pflags"])
    assert flags & (PF_BAD_CSUM | PF_CSUM_UNKNOWN) == PF_BAD_CSUM | PF_CSUM_UNKNOWN
    packet[10:12] = b"\x12\x34"
    (tmp_path / "b").mkdir()
    flags = int(one(tmp_path / "b", eth(bytes(packet)))["pflags"])
    assert flags & (PF_BAD_CSUM | PF_CSUM_UNKNOWN) == PF_BAD_CSUM


def test_snaplen_truncated_packet_is_used_as_far_as_it_goes(tmp_path: Path) -> None:
    packet = eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1234, 80, flags=ACK, payload=b"z" * 1000)))
    rows, _ = read(tmp_path, pcap([(T0 * 10**9, packet[:68], len(packet))], snaplen=68))
    row = rows[0]
    assert (int(row["sport"]), int(row["dport"]), int(row["tcp_flags"])) == (1234, 80, ACK)
    assert int(row["payload_len"]) == 1000
    assert int(row["pflags"]) & PF_TRUNCATED and int(row["pflags"]) & PF_CSUM_UNKNOWN
    assert int(row["payload_hash"]) == hash32_py(b"z" * 14)


def test_ipv4_options_and_fragments(tmp_path: Path) -> None:
    seg = tcp(5555, 80, payload=b"a" * 40)
    first = ipv4("10.0.0.1", "10.0.0.2", seg, options=b"\x01\x01\x01\x00", more=True)
    later = ipv4("10.0.0.1", "10.0.0.2", (6, b"b" * 24), frag=3)
    rows, _ = read(tmp_path, pcap([(T0 * 10**9, eth(first)), (T0 * 10**9 + 1, eth(later))]))
    assert int(rows[0]["sport"]) == 5555 and int(rows[0]["pflags"]) & PF_MORE_FRAGS
    assert int(rows[1]["sport"]) == 0 and int(rows[1]["pflags"]) & PF_FRAGMENT
    assert int(rows[1]["payload_len"]) == 24


def test_ipv6_extension_headers(tmp_path: Path) -> None:
    hop = bytes([43, 0]) + b"\x01\x04\0\0\0\0"  # hop-by-hop -> routing
    routing = bytes([60, 0, 0, 0]) + b"\0" * 4  # routing -> destination options
    dest = bytes([44, 0]) + b"\x01\x04\0\0\0\0"  # destination options -> fragment
    frag = bytes([6, 0, 0, 0]) + struct.pack("!I", 0xBEEF)  # offset 0, last fragment
    packet = ipv6(
        "2001:db8::1",
        "2001:db8::2",
        tcp(1, 80, payload=b"p"),
        ext=hop + routing + dest + frag,
        first=0,
    )
    row = one(tmp_path, eth(packet, 0x86DD))
    assert (int(row["proto"]), int(row["dport"]), int(row["ip_id"])) == (6, 80, 0xBEEF)
    assert int(row["payload_len"]) == 1
    assert int(row["ip_len"]) == 40 + 32 + 21


def test_udp_and_icmp(tmp_path: Path) -> None:
    row = one(tmp_path, eth(ipv4("10.0.0.1", "10.0.0.53", udp(3333, 53, b"query"))))
    assert (int(row["proto"]), int(row["sport"]), int(row["payload_len"])) == (17, 3333, 5)
    assert int(row["payload_hash"]) == hash32_py(b"query")
    row = one(tmp_path, eth(ipv4("10.0.0.1", "10.0.0.2", icmp(8, 0, b"ping"))))
    assert (int(row["proto"]), int(row["sport"]), int(row["dport"])) == (1, 8, 0)
    row = one(tmp_path, eth(ipv6("::1", "::2", icmp(128, 0, b"", v6=True)), 0x86DD))
    assert (int(row["proto"]), int(row["sport"])) == (58, 128)
    assert not int(row["pflags"]) & (PF_BAD_CSUM | PF_CSUM_UNKNOWN)


# -- duplicates -----------------------------------------------------------------------------


def _two_interfaces(gap_ns: int, second_iface: int) -> bytes:
    return (
        shb()
        + idb("<", 1, tsresol=9)
        + idb("<", 1, tsresol=9)
        + epb("<", 0, T0 * 10**9, eth(SYN_PKT))
        + epb("<", second_iface, T0 * 10**9 + gap_ns, eth(SYN_PKT))
        + epb("<", 0, T0 * 10**9 + gap_ns + 1, eth(ipv4("10.0.0.9", "10.0.0.8", tcp(9, 8))))
    )


def test_copy_on_another_interface_is_dropped_and_counted(tmp_path: Path) -> None:
    rows, info = read(tmp_path, _two_interfaces(10_000, 1), "d.pcapng")
    assert list(rows["frame"]) == [1, 3]
    assert info.duplicates == 1 and info.decoded == 3
    assert int(rows[0]["pflags"]) & PF_DUP_SEEN and not int(rows[1]["pflags"]) & PF_DUP_SEEN


@pytest.mark.parametrize(("gap_ns", "iface"), [(10_000, 0), (60_000, 1)])
def test_same_interface_or_late_copy_is_a_packet(tmp_path: Path, gap_ns: int, iface: int) -> None:
    rows, info = read(tmp_path, _two_interfaces(gap_ns, iface), "d.pcapng")
    assert len(rows) == 3 and info.duplicates == 0


def test_linux_any_capture_duplicates(tmp_path: Path) -> None:
    sll_out = struct.pack("!HHH8sH", 4, 1, 6, b"\x02" * 8, 0x0800)
    sll_in = struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800)
    content = pcap(
        [(T0 * 10**9, sll_out + SYN_PKT), (T0 * 10**9 + 2000, sll_in + SYN_PKT)], link=113
    )
    rows, info = read(tmp_path, content)
    assert len(rows) == 1 and info.duplicates == 1


def test_dedupe_can_be_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "d.pcapng"
    path.write_bytes(_two_interfaces(10_000, 1))
    reader = fast.FastBackend(dedupe=False).open(str(path))
    assert sum(len(b) for b in reader.batches()) == 3


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"GIF89a" + b"\0" * 40, "not a pcap or pcapng file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "pcap header"),
    ],
)
def test_unreadable_files_raise_one_line_capture_errors(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as err:
        get_backend("fast").open(str(path))
    assert str(err.value).startswith(f"{path}: ")
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such capture file"):
        get_backend("fast").open(str(tmp_path / "nope.pcap"))


@pytest.mark.parametrize(("second_index", "dropped"), [(4, 1), (3, 0)])
def test_sll2_interface_index_tells_interfaces_apart(
    tmp_path: Path, second_index: int, dropped: int
) -> None:
    def sll2(ifindex: int) -> bytes:
        return struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, 4, 6, b"\x02" * 8)

    frames = [(T0 * 10**9, sll2(3) + SYN_PKT), (T0 * 10**9 + 3000, sll2(second_index) + SYN_PKT)]
    rows, info = read(tmp_path, pcap(frames, link=276))
    assert (len(rows), info.duplicates) == (2 - dropped, dropped)


def test_a_text_file_gets_a_hint_that_configs_go_after_lb(tmp_path: Path) -> None:
    path = tmp_path / "lb.yaml"
    path.write_text("version: 1\nload_balancers: []\n")
    with pytest.raises(CaptureError, match=r"looks like a text file \(a load-balancer config"):
        get_backend("fast").open(str(path))


def test_a_directory_is_not_a_capture(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open"):
        get_backend("fast").open(str(tmp_path))


def test_openbsd_pflog_header_length_comes_from_its_first_byte(tmp_path: Path) -> None:
    header = bytes([61, 2]) + b"\0" * 62  # length 61, padded to 64; AF_INET
    row = one(tmp_path, header + SYN_PKT, link=117)
    assert (int(row["ip_ver"]), int(row["dport"])) == (4, 80)


@pytest.mark.parametrize(("link", "header"), [(8, 16), (7, 6)])
def test_fixed_length_link_headers_from_dpkt(tmp_path: Path, link: int, header: int) -> None:
    row = one(tmp_path, b"\0" * header + SYN_PKT, link=link)
    assert (int(row["ip_ver"]), int(row["dport"])) == (4, 80)


def test_fixed_link_headers_are_dpkts() -> None:
    """``linktypes.FIXED_HEADER`` is dpkt's table of header lengths (copied to save the import)
    minus the link types decoded otherwise."""
    from dpkt.pcap import dltoff

    from pcapflow.capture.linktypes import FIXED_HEADER, LINK_TYPES

    assert {k: v for k, v in dltoff.items() if k not in LINK_TYPES} == FIXED_HEADER
