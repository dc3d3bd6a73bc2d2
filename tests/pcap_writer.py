"""Write small Ethernet/IPv4 pcap files for tests (dpkt), one TCP segment per call."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import dpkt


@dataclass
class TcpCapture:
    """TCP segments in capture order; :meth:`write` saves them as a pcap."""

    records: list[tuple[float, bytes]] = field(default_factory=list)
    ip_id: int = 1

    def segment(
        self,
        ts: float,
        src: tuple[str, int],
        dst: tuple[str, int],
        flags: int,
        seq: int,
        ack: int = 0,
        payload: bytes = b"",
    ) -> int:
        """Append one segment; returns its frame number (1-based)."""
        tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, win=502)
        tcp.data = payload
        ip = dpkt.ip.IP(
            src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=6, ttl=64, id=self.ip_id
        )
        ip.data = tcp
        ip.len = len(bytes(ip))
        self.ip_id += 1
        eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)
        self.records.append((ts, bytes(eth)))
        return len(self.records)

    def write(self, path: Path) -> Path:
        with path.open("wb") as out:
            writer = dpkt.pcap.Writer(out)
            for ts, frame in self.records:
                writer.writepkt(frame, ts=ts)
        return path
