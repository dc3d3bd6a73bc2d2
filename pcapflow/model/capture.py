"""Facts about one capture file, as reported by a capture backend."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface (a pcapng IDB, or the single implicit interface of a pcap)."""

    index: int
    link_type: int
    name: str | None = None
    snaplen: int = 0
    ts_resolution_ns: int = 1000


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """What reading a capture file found: format, interfaces, counts, problems met."""

    file_idx: int
    path: str
    format: str  # "pcap", "pcap-ns", "pcapng"; prefixed "gzip+" when compressed
    interfaces: tuple[Interface, ...]
    frames: int  # frames read (including ones that could not be decoded)
    decoded: int  # frames decoded down to IP
    duplicates: int  # byte-identical copies recognised on another interface and dropped
    first_ts_ns: int | None
    last_ts_ns: int | None
    warnings: tuple[str, ...] = field(default=())  # e.g. "file ends inside a record at byte 1234"
    sha256: str = ""  # content hash of the (decompressed) file, for batch re-use
