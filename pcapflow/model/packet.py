"""The columnar packet record that capture backends produce and flow assembly consumes.

A capture backend yields :class:`PacketBatch` objects: a numpy structured array with dtype
:data:`PACKET_DTYPE`, one row per decoded frame, in capture order.  Only header facts are kept
(no payload), so a batch of 100k packets costs a few MB.  Per-packet Python objects are created
later only for the few packets that serve as evidence (:class:`PacketRef`).

Addresses are stored as two unsigned 64-bit halves (``*_hi``, ``*_lo``).  For IPv4 ``hi`` is 0
and ``lo`` holds the 32-bit address; ``ip_ver`` tells the two families apart.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# TCP flag bits, as on the wire.
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP6 = 58

# Bits of the ``pflags`` column.
PF_FRAGMENT = 0x01  # IP fragment other than the first (no transport header)
PF_TRUNCATED = 0x02  # captured length shorter than the packet (snaplen)
PF_BAD_CSUM = 0x04  # transport checksum verified and wrong
PF_DUPLICATE = 0x08  # byte-identical copy of a recent packet on another interface
PF_HAS_TS = 0x10  # TCP timestamp option present (tsval valid)
PF_MORE_FRAGS = 0x20  # first fragment with MF set (transport header present, payload partial)
PF_CSUM_UNKNOWN = 0x40  # checksum could not be verified (truncated, offloaded, not computed)
PF_DUP_SEEN = 0x80  # a byte-identical copy of this packet on another interface was dropped

PACKET_DTYPE = np.dtype(
    [
        ("file_idx", np.uint16),  # index of the capture file in the analysis
        ("frame", np.uint32),  # 1-based frame number, as Wireshark numbers it
        ("iface", np.uint16),  # interface id within the file (pcapng IDB index; 0 for pcap)
        ("ts_ns", np.int64),  # capture timestamp, nanoseconds since the epoch
        ("ip_ver", np.uint8),  # 4 or 6
        ("proto", np.uint8),  # IP protocol number (6 TCP, 17 UDP, 1/58 ICMP)
        ("src_hi", np.uint64),
        ("src_lo", np.uint64),
        ("dst_hi", np.uint64),
        ("dst_lo", np.uint64),
        ("sport", np.uint16),  # ICMP: type
        ("dport", np.uint16),  # ICMP: code
        ("tcp_flags", np.uint8),
        ("seq", np.uint32),
        ("ack", np.uint32),
        ("win", np.uint16),
        ("payload_len", np.uint32),  # transport payload length from the IP header (not caplen)
        ("ip_len", np.uint32),  # IP total length (header + payload), as Zeek's *_ip_bytes
        ("ip_id", np.uint32),  # IPv4 ID, or IPv6 fragment identification, else 0
        ("ttl", np.uint8),  # TTL / hop limit
        ("tsval", np.uint32),  # TCP timestamp value when PF_HAS_TS
        ("opts_hash", np.uint32),  # crc32 of the raw TCP options bytes (0 when none)
        ("payload_hash", np.uint32),  # crc32 of up to the first 64 captured payload bytes
        ("pflags", np.uint8),  # PF_* bits above
        ("vlan", np.uint16),  # outermost 802.1Q VLAN id, 0 when none
    ]
)

PacketArray = npt.NDArray[np.void]


def empty_batch(n: int = 0) -> PacketArray:
    """A zero-filled packet array of ``n`` rows."""
    return np.zeros(n, dtype=PACKET_DTYPE)


def addr_to_halves(address: str) -> tuple[int, int, int]:
    """``"10.2.1.4"`` -> ``(4, 0, 0x0A020104)``; IPv6 -> ``(6, hi, lo)``."""
    ip = ipaddress.ip_address(address)
    value = int(ip)
    return ip.version, value >> 64, value & 0xFFFFFFFFFFFFFFFF


def halves_to_addr(ip_ver: int, hi: int, lo: int) -> str:
    """Inverse of :func:`addr_to_halves`: the canonical text form of the address."""
    if ip_ver == 4:
        return str(ipaddress.IPv4Address(int(lo) & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((int(hi) << 64) | int(lo)))


def flags_text(flags: int) -> str:
    """Wireshark-style flag text, e.g. ``"SYN, ACK"``."""
    names = [(SYN, "SYN"), (RST, "RST"), (FIN, "FIN"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG")]
    return ", ".join(name for bit, name in names if flags & bit) or "<none>"


@dataclass(frozen=True, slots=True)
class PacketRef:
    """One packet kept as evidence: where it is (file, frame) and the header facts that prove it."""

    file_idx: int
    frame: int
    ts_ns: int
    iface: int
    src: str
    sport: int
    dst: str
    dport: int
    proto: int
    tcp_flags: int
    seq: int
    ack: int
    payload_len: int
    ip_len: int
    ip_id: int
    ttl: int
    tsval: int | None
    opts_hash: int
    payload_hash: int
    pflags: int

    @property
    def ts(self) -> float:
        return self.ts_ns / 1e9

    def summary(self) -> str:
        """One line in the style of a Wireshark info column."""
        head = f"{self.src}:{self.sport} -> {self.dst}:{self.dport}"
        if self.proto == PROTO_TCP:
            text = f"{head} [{flags_text(self.tcp_flags)}] seq={self.seq} ack={self.ack}"
            text += f" len={self.payload_len}"
            if self.tsval is not None:
                text += f" TSval={self.tsval}"
            return text
        return f"{head} {PROTO_NAMES.get(self.proto, str(self.proto))} len={self.payload_len}"


PROTO_NAMES = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp", PROTO_ICMP6: "icmp"}


def packet_ref(row: np.void) -> PacketRef:
    """Build a :class:`PacketRef` from one row of a packet array."""
    ver = int(row["ip_ver"])
    pflags = int(row["pflags"])
    return PacketRef(
        file_idx=int(row["file_idx"]),
        frame=int(row["frame"]),
        ts_ns=int(row["ts_ns"]),
        iface=int(row["iface"]),
        src=halves_to_addr(ver, int(row["src_hi"]), int(row["src_lo"])),
        sport=int(row["sport"]),
        dst=halves_to_addr(ver, int(row["dst_hi"]), int(row["dst_lo"])),
        dport=int(row["dport"]),
        proto=int(row["proto"]),
        tcp_flags=int(row["tcp_flags"]),
        seq=int(row["seq"]),
        ack=int(row["ack"]),
        payload_len=int(row["payload_len"]),
        ip_len=int(row["ip_len"]),
        ip_id=int(row["ip_id"]),
        ttl=int(row["ttl"]),
        tsval=int(row["tsval"]) if pflags & PF_HAS_TS else None,
        opts_hash=int(row["opts_hash"]),
        payload_hash=int(row["payload_hash"]),
        pflags=pflags,
    )
