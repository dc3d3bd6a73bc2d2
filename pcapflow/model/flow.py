"""A reassembled flow: Zeek conn.log fields plus the invariants reconciliation across NAT needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcapflow.model.packet import PacketRef

# conn.log columns, in Zeek's order (the ones pcapflow fills).
ZEEK_FIELDS: tuple[str, ...] = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
)


@dataclass(frozen=True, slots=True)
class Flow:
    """One TCP connection, UDP or ICMP flow, as Zeek would log it, with pcapflow's additions.

    ``orig``/``resp`` follow Zeek: the originator sent the first SYN (or, without a SYN, the
    first packet; flipped when only the SYN-ACK is seen, history then starts with ``^``).
    """

    uid: str  # deterministic, Zeek-like ("C" + 17 base62 chars), stable across runs
    ts: float  # first packet, seconds since the epoch
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    proto: str  # "tcp", "udp", "icmp"
    duration: float
    orig_bytes: int
    resp_bytes: int
    conn_state: str
    missed_bytes: int
    history: str
    orig_pkts: int
    orig_ip_bytes: int
    resp_pkts: int
    resp_ip_bytes: int
    # --- pcapflow additions -------------------------------------------------------------
    file_idx: int  # capture file the flow was assembled from
    first_frame: int
    last_frame: int
    ifaces: tuple[int, ...]  # interface ids the flow's packets were seen on
    isn: int | None  # originator's initial sequence number (first SYN)
    resp_isn: int | None  # responder's ISN (first SYN-ACK)
    syn_ip_id: int | None  # IP ID of the first SYN
    syn_ttl: int | None
    syn_opts_hash: int | None  # crc32 of the first SYN's TCP options
    syn_tsval: int | None
    syn_retransmits: int  # extra SYNs with the same ISN
    duplicates: int  # packets dropped as duplicates of a copy on another interface
    last_ts: float  # last packet, seconds since the epoch
    packets: tuple[PacketRef, ...] = field(default=())  # evidence (every packet, or a selection)
    packets_truncated: bool = False  # True when ``packets`` is a selection, not every packet

    @property
    def key(self) -> tuple[str, int, str, int, str]:
        return (self.orig_h, self.orig_p, self.resp_h, self.resp_p, self.proto)

    @property
    def established(self) -> bool:
        """A SYN-ACK (or handshake) from the responder was seen."""
        return "h" in self.history.lower().replace("^", "") and self.conn_state not in {
            "S0",
            "REJ",
        }

    def zeek_row(self) -> dict[str, object]:
        """The conn.log row (Zeek field names)."""
        return {
            "ts": self.ts,
            "uid": self.uid,
            "id.orig_h": self.orig_h,
            "id.orig_p": self.orig_p,
            "id.resp_h": self.resp_h,
            "id.resp_p": self.resp_p,
            "proto": self.proto,
            "service": None,
            "duration": self.duration,
            "orig_bytes": self.orig_bytes,
            "resp_bytes": self.resp_bytes,
            "conn_state": self.conn_state,
            "local_orig": None,
            "local_resp": None,
            "missed_bytes": self.missed_bytes,
            "history": self.history,
            "orig_pkts": self.orig_pkts,
            "orig_ip_bytes": self.orig_ip_bytes,
            "resp_pkts": self.resp_pkts,
            "resp_ip_bytes": self.resp_ip_bytes,
            "tunnel_parents": None,
        }
