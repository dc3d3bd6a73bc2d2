"""Recognise an uploaded capture by its first bytes, never by its name.

:class:`CaptureSniffer` is fed the first chunks of an upload and decides as soon as it can:
a pcap (little/big endian, micro/nanosecond), a pcapng, or one of those compressed with gzip
(the gzip stream is inflated just far enough to see the inner magic).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# Magic number (as stored in the file) -> format name, extension on disk.
CAPTURE_MAGICS: dict[bytes, tuple[str, str]] = {
    b"\xd4\xc3\xb2\xa1": ("pcap", "pcap"),  # little endian, microseconds
    b"\xa1\xb2\xc3\xd4": ("pcap", "pcap"),  # big endian, microseconds
    b"\x4d\x3c\xb2\xa1": ("pcap-ns", "pcap"),  # little endian, nanoseconds
    b"\xa1\xb2\x3c\x4d": ("pcap-ns", "pcap"),  # big endian, nanoseconds
    b"\x0a\x0d\x0d\x0a": ("pcapng", "pcapng"),  # section header block
}
GZIP_MAGIC = b"\x1f\x8b"
MAGIC_LEN = 4
MAX_GZIP_HEAD = 64 * 1024  # give up looking for the inner magic after this many compressed bytes

EXPECTED = "expected a pcap, pcapng, or gzip-compressed pcap/pcapng file"


@dataclass(frozen=True, slots=True)
class CaptureKind:
    """What the first bytes said: ``format`` as CaptureInfo names it, and the file extension."""

    format: str  # "pcap", "pcap-ns", "pcapng", "gzip+pcap", ...
    extension: str  # "pcap", "pcapng", "pcap.gz", "pcapng.gz"


class NotACapture(ValueError):
    """The first bytes are not those of a capture; the message says what they were."""


def kind_of(head: bytes) -> CaptureKind | None:
    """The capture kind of a file starting with ``head``; None when more bytes are needed.

    Raises :class:`NotACapture` when the bytes seen already rule out every capture format.
    """
    if head[:2] == GZIP_MAGIC or (len(head) < 2 and GZIP_MAGIC.startswith(head)):
        return _gzip_kind(head) if len(head) >= 2 else None
    if len(head) < MAGIC_LEN:
        if any(magic.startswith(head) for magic in CAPTURE_MAGICS):
            return None
        raise NotACapture(f"{EXPECTED} (got {_hex(head)})")
    found = CAPTURE_MAGICS.get(head[:MAGIC_LEN])
    if found is None:
        raise NotACapture(f"{EXPECTED} (the file starts with {_hex(head[:8])})")
    return CaptureKind(found[0], found[1])


def _gzip_kind(head: bytes) -> CaptureKind | None:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        inner = inflater.decompress(head, MAGIC_LEN)
    except zlib.error as exc:
        raise NotACapture(f"a gzip file that cannot be decompressed ({exc})") from None
    if len(inner) < MAGIC_LEN:
        if len(head) >= MAX_GZIP_HEAD or inflater.eof:
            raise NotACapture(f"a gzip file without a capture inside; {EXPECTED}")
        return None
    found = CAPTURE_MAGICS.get(inner[:MAGIC_LEN])
    if found is None:
        raise NotACapture(
            f"a gzip file whose content is not a capture (starts with {_hex(inner)}); {EXPECTED}"
        )
    return CaptureKind(f"gzip+{found[0]}", f"{found[1]}.gz")


def _hex(data: bytes) -> str:
    return data.hex(" ") if data else "nothing (empty file)"


class CaptureSniffer:
    """Accumulates the head of a stream until :func:`kind_of` can decide."""

    def __init__(self) -> None:
        self._head = bytearray()
        self.kind: CaptureKind | None = None

    def feed(self, data: bytes) -> CaptureKind | None:
        """Feed the next bytes; returns the kind once known (raises NotACapture)."""
        if self.kind is None:
            self._head += data[: MAX_GZIP_HEAD - len(self._head) + 1]
            self.kind = kind_of(bytes(self._head))
        return self.kind

    def finish(self) -> CaptureKind:
        """The end of the stream was reached: the kind, or NotACapture if still undecided."""
        if self.kind is None:
            self.kind = kind_of(bytes(self._head))
        if self.kind is None:
            raise NotACapture(f"{EXPECTED} (the file is only {len(self._head)} bytes long)")
        return self.kind
