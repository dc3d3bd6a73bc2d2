"""The default capture backend ("fast"): chunked reading, numba record walk and header decode.

The file (or stdin, decompressed if needed) is read in chunks of a few MiB into one numpy
buffer.  :mod:`pcapflow.capture.kernels` walks the record headers in the buffer and decodes the
link/IP/transport headers at computed offsets straight into ``PACKET_DTYPE`` rows, so memory
stays bounded by the chunk and batch sizes whatever the file's length.  The rare pcapng blocks
that configure reading (SHB, IDB) are decoded in Python by :mod:`pcapflow.capture.formats`.

Malformed input is read as far as it is valid; what was skipped or where reading stopped is
reported in ``CaptureInfo.warnings``.  A file that cannot be read at all raises
:class:`~pcapflow.errors.CaptureError` ("<file>: <problem>").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pcapflow.capture import kernels
from pcapflow.capture.base import DEFAULT_BATCH, register
from pcapflow.capture.dedupe import DUP_WINDOW_NS
from pcapflow.capture.formats import (
    PCAPNG_MAGIC,
    FormatError,
    InterfaceClock,
    block_length,
    parse_idb,
    parse_pcap_header,
    shb_byte_order,
    sniff,
)
from pcapflow.capture.linktypes import (
    KIND_NONE,
    KIND_SLL,
    KIND_SLL2,
    link_header_length,
    link_kind,
    link_name,
)
from pcapflow.capture.stream import Source
from pcapflow.errors import CaptureError
from pcapflow.model.capture import CaptureInfo, Interface
from pcapflow.model.packet import PACKET_DTYPE, PF_DUP_SEEN, PacketArray

CHUNK_BYTES = 4 << 20  # bytes read per refill
MAX_RECORD = 16 << 20  # a record or block longer than this is corrupt (Wireshark: 256 KiB)
DUP_TABLE_SIZE = 1 << 14  # slots of the duplicate table (a power of two)


class _Buffer:
    """A growable window on the source: ``data[pos:end]`` is read but not yet consumed."""

    def __init__(self, source: Source, head: bytes) -> None:
        self.source = source
        self.data = np.empty(max(CHUNK_BYTES, len(head)), dtype=np.uint8)
        self.data[: len(head)] = np.frombuffer(head, dtype=np.uint8)
        self.pos = 0
        self.end = len(head)
        self.base = 0  # file offset of data[0]
        self.generation = 0  # bumped whenever bytes move (offsets into data become stale)
        self.eof = False

    def fill(self) -> None:
        """Move unread bytes to the front and read more (growing when one record needs it)."""
        keep = self.end - self.pos
        if self.pos > 0:
            self.data[:keep] = self.data[self.pos : self.end]
            self.base += self.pos
            self.pos, self.end = 0, keep
            self.generation += 1
        if self.end == self.data.shape[0]:
            bigger = np.empty(self.data.shape[0] * 2, dtype=np.uint8)
            bigger[: self.end] = self.data[: self.end]
            self.data = bigger
            self.generation += 1
        got = self.source.readinto(memoryview(self.data)[self.end :])  # type: ignore[arg-type]
        if not got:
            self.eof = True
        self.end += got

    def ensure(self, size: int) -> bool:
        """At least ``size`` unread bytes available? (reads until so, or the end)."""
        while self.end - self.pos < size and not self.eof:
            self.fill()
        return self.end - self.pos >= size

    def take(self, size: int) -> bytes:
        return self.data[self.pos : self.pos + size].tobytes()


@dataclass
class _Records:
    """Per-record scratch arrays filled by the walkers (one batch's worth)."""

    size: int
    off: npt.NDArray[np.int64] = field(init=False)
    caplen: npt.NDArray[np.int64] = field(init=False)
    origlen: npt.NDArray[np.int64] = field(init=False)
    ts: npt.NDArray[np.int64] = field(init=False)
    iface: npt.NDArray[np.int64] = field(init=False)
    ifx: npt.NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.off = np.zeros(self.size, np.int64)
        self.caplen = np.zeros(self.size, np.int64)
        self.origlen = np.zeros(self.size, np.int64)
        self.ts = np.zeros(self.size, np.int64)
        self.iface = np.zeros(self.size, np.int64)
        self.ifx = np.zeros(self.size, np.int64)


class _DupTable:
    """State of cross-interface duplicate detection, kept across chunks."""

    def __init__(self) -> None:
        self.fp = np.zeros(DUP_TABLE_SIZE, np.uint64)
        self.ts = np.zeros(DUP_TABLE_SIZE, np.int64)
        self.key = np.zeros(DUP_TABLE_SIZE, np.int64)
        self.row = np.zeros(DUP_TABLE_SIZE, np.int64)
        self.chunk = np.full(DUP_TABLE_SIZE, -1, np.int64)
        self.off = np.zeros(DUP_TABLE_SIZE, np.int64)
        self.len = np.zeros(DUP_TABLE_SIZE, np.int64)


_I64 = npt.NDArray[np.int64]


@dataclass
class _Section:
    """The pcapng section being read: byte order and its interfaces' clocks."""

    big_endian: bool = False
    base: int = 0  # global index of the section's first interface
    clocks: list[InterfaceClock] = field(default_factory=list)

    def start(self, big_endian: bool, base: int) -> None:
        self.big_endian, self.base, self.clocks = big_endian, base, []

    def arrays(self, interfaces: list[Interface]) -> tuple[_I64, _I64, _I64, _I64]:
        """Per-interface snaplen, clock mode, factor and offset, as the walker takes them."""
        return (
            np.array([i.snaplen for i in interfaces[self.base :]], np.int64),
            np.array([c.mode for c in self.clocks], np.int64),
            np.array([c.factor for c in self.clocks], np.int64),
            np.array([c.offset_ns for c in self.clocks], np.int64),
        )


class FastReader:
    """One open capture; see the module docstring."""

    def __init__(
        self,
        path: str,
        file_idx: int,
        batch_size: int,
        *,
        verify_checksums: bool = True,
        dedupe: bool = True,
        digest: bool = True,
    ) -> None:
        self.path = path
        self.file_idx = file_idx
        self.batch_size = max(1, batch_size)
        self.verify_checksums = verify_checksums
        self.dup_window = DUP_WINDOW_NS if dedupe else -1
        self._source = Source(path, digest=digest)
        self.label = self._source.label
        head = self._source.read(24)
        try:
            self._container = sniff(head)
            self._pcap = parse_pcap_header(head) if self._container == "pcap" else None
        except FormatError as exc:
            self._source.close()
            raise CaptureError(f"{self.label}: {exc}") from None
        self._buf = _Buffer(self._source, head)
        self._interfaces: list[Interface] = []
        self._kinds: list[int] = []
        self._warnings: list[str] = []
        self._frames = 0
        self._decoded = 0
        self._duplicates = 0
        self._bad_iface = 0
        self._oversize = 0
        self._rows = 0
        self._first: int | None = None
        self._last: int | None = None
        self._used = False
        self._done = False
        self._sha256 = ""
        self._rec = _Records(self.batch_size)
        self._dups = _DupTable()
        self._marks = np.zeros(self.batch_size, np.int64)
        self._pending: PacketArray | None = None
        self._pending_row0 = 0
        self._kind_arr = np.zeros(0, np.int64)
        self._fixed_arr = np.zeros(0, np.int64)
        self._anydev_arr = np.zeros(0, np.bool_)
        if self._pcap is not None:
            link = self._pcap.link_type & 0xFFFF
            self._add_interface(Interface(0, link, None, self._pcap.snaplen, self._pcap.ts_mult))
            self._buf.pos = 24
        # Resume points (file offset of a record, frames before it): a plain pcap file whose
        # frames cannot be duplicates of each other is read the same from any record on.
        self._resumable = (
            self._pcap is not None and not self._duplicates_possible() and self._source.seekable()
        )
        self._resume: list[tuple[int, int]] = []

    def resume_points(self) -> list[tuple[int, int]]:
        """(file offset, frames before) of records met at the start of each walk of the read
        buffer, in file order; empty where reading cannot resume mid-file."""
        return list(self._resume)

    def resume_at(self, offset: int, frames: int) -> None:
        """Read from the record at byte ``offset``, ``frames`` frames into the file (one of
        :meth:`resume_points` of an earlier reader of the same file); before :meth:`batches`,
        without a digest."""
        if not self._resumable or self._used:
            raise ValueError("this capture cannot resume mid-file")
        self._source.seek(offset)
        self._buf = _Buffer(self._source, b"")
        self._buf.base = offset
        self._frames = frames

    # -- public -----------------------------------------------------------------------------

    def batches(self) -> Iterator[PacketArray]:
        if self._used:
            return
        self._used = True
        try:
            walk = self._walk_pcap() if self._pcap is not None else self._walk_pcapng()
            yield from walk
            if self._pending is not None and len(self._pending):
                yield self._pending
            self._pending = None
        except CaptureError as exc:
            self._warnings.append(str(exc).removeprefix(f"{self.label}: "))
        finally:
            self._finish()

    def info(self) -> CaptureInfo:
        fmt = self._pcap.format if self._pcap is not None else "pcapng"
        if self._source.compression:
            fmt = f"{self._source.compression}+{fmt}"
        return CaptureInfo(
            file_idx=self.file_idx,
            path=self.path,
            format=fmt,
            interfaces=tuple(self._interfaces),
            frames=self._frames,
            decoded=self._decoded,
            duplicates=self._duplicates,
            first_ts_ns=self._first,
            last_ts_ns=self._last,
            warnings=tuple(self._warnings + self._final_warnings()),
            sha256=self._sha256,
        )

    # -- walking ----------------------------------------------------------------------------

    def _walk_pcap(self) -> Iterator[PacketArray]:
        assert self._pcap is not None
        hdr = self._pcap
        buf, rec = self._buf, self._rec
        while True:
            point = (buf.base + buf.pos, self._frames)
            if self._resumable and (not self._resume or self._resume[-1] != point):
                self._resume.append(point)
            n, pos, status = _ints(
                kernels.walk_pcap(
                    buf.data,
                    buf.pos,
                    buf.end,
                    hdr.big_endian,
                    hdr.record_header,
                    hdr.ts_mult,
                    MAX_RECORD,
                    rec.off,
                    rec.caplen,
                    rec.origlen,
                    rec.ts,
                    rec.ifx,
                )
            )
            if n:
                if hdr.snaplen:
                    self._oversize += int(np.count_nonzero(rec.caplen[:n] > hdr.snaplen))
                yield from self._emit(n)
            buf.pos = pos
            if status == kernels.BAD:
                self._stop(f"record at byte {buf.base + pos} has an impossible length")
                return
            if status == kernels.NEED_MORE and not self._refill("record"):
                return

    def _walk_pcapng(self) -> Iterator[PacketArray]:
        buf, rec = self._buf, self._rec
        section = _Section()
        while True:
            snaplen, modes, factors, offsets = section.arrays(self._interfaces)
            n, pos, status = _ints(
                kernels.walk_pcapng(
                    buf.data,
                    buf.pos,
                    buf.end,
                    section.big_endian,
                    MAX_RECORD,
                    section.base,
                    snaplen,
                    modes,
                    factors,
                    offsets,
                    rec.off,
                    rec.caplen,
                    rec.origlen,
                    rec.ts,
                    rec.iface,
                )
            )
            if n:
                self._bad_iface += int(np.count_nonzero(rec.iface[:n] == -1))
                yield from self._emit(n)
            buf.pos = pos
            if status == kernels.BAD:
                self._stop(f"block at byte {buf.base + pos} has a bad length")
                return
            if status == kernels.NEED_MORE and not self._refill("block"):
                return
            if status == kernels.CONTROL and not self._control_block(section):
                return

    def _control_block(self, section: _Section) -> bool:
        """Read the SHB or IDB at the buffer position; False (with a warning) to stop."""
        buf = self._buf
        where = buf.base + buf.pos
        if not buf.ensure(12):
            self._stop(f"file ends inside a block header at byte {where}")
            return False
        head = buf.take(12)
        is_shb = head[:4] == PCAPNG_MAGIC
        try:
            if is_shb:
                section.start(shb_byte_order(head), len(self._interfaces))
            blen = block_length(head, section.big_endian)
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                raise FormatError(f"block with a bad length ({blen})")
            if not buf.ensure(blen):
                self._stop(f"file ends inside a block at byte {where}")
                return False
            if not is_shb:
                index = len(self._interfaces)
                iface, clock = parse_idb(buf.take(blen), section.big_endian, index)
                self._add_interface(iface)
                section.clocks.append(clock)
        except FormatError as exc:
            self._stop(f"{exc} at byte {where}")
            return False
        buf.pos += blen
        return True

    def _refill(self, what: str) -> bool:
        """More bytes for the walker; False (with a warning if bytes are left) at the end."""
        buf = self._buf
        if buf.eof:
            if buf.pos < buf.end:
                left = buf.end - buf.pos
                self._stop(f"file ends inside a {what} at byte {buf.base + buf.pos} ({left} bytes)")
            return False
        buf.fill()
        return True

    def _stop(self, problem: str) -> None:
        self._warnings.append(f"{problem}: stopped reading there")

    # -- decoding ---------------------------------------------------------------------------

    def _add_interface(self, iface: Interface) -> None:
        self._interfaces.append(iface)
        kind = link_kind(iface.link_type)
        self._kinds.append(kind)
        self._kind_arr = np.array(self._kinds, np.int64)
        self._fixed_arr = np.array(
            [link_header_length(i.link_type) for i in self._interfaces], np.int64
        )
        self._anydev_arr = self._kind_arr == KIND_SLL

    def _emit(self, n: int) -> Iterator[PacketArray]:
        rec, dups, buf = self._rec, self._dups, self._buf
        stamped = rec.ts[:n][(rec.iface[:n] >= 0) & (rec.ts[:n] != 0)]
        if len(stamped):
            if self._first is None:
                self._first = int(stamped[0])
            self._last = int(stamped[-1])
        out = np.empty(n, dtype=PACKET_DTYPE)  # the kernel writes every field of its rows
        rows, ndup, nmarks = _ints(
            kernels.decode_records(
                buf.data,
                buf.data.view(np.uint64),
                rec.off,
                rec.caplen,
                rec.origlen,
                rec.ts,
                rec.iface,
                rec.ifx,
                n,
                self._kind_arr,
                self._fixed_arr,
                self._anydev_arr,
                self.file_idx,
                self._frames + 1,
                self._rows,
                buf.generation,
                self.verify_checksums,
                self.dup_window if self._duplicates_possible() else -1,
                dups.fp,
                dups.ts,
                dups.key,
                dups.row,
                dups.chunk,
                dups.off,
                dups.len,
                out,
                self._marks,
            )
        )
        self._frames += n
        self._decoded += rows + ndup
        self._duplicates += ndup
        self._rows += rows
        self._mark_pending(self._marks[:nmarks])
        if rows == 0:
            return
        batch = out[:rows] if rows * 2 > n else out[:rows].copy()
        if self._pending is not None:
            yield self._pending
        self._pending, self._pending_row0 = batch, self._rows - rows

    def _duplicates_possible(self) -> bool:
        """Copies on two interfaces need two interfaces, or an interface index per frame."""
        if len(self._interfaces) > 1 or bool(self._anydev_arr.any()):
            return True
        per_frame_index = self._pcap is not None and self._pcap.record_header == 24
        return per_frame_index or KIND_SLL2 in self._kinds

    def _mark_pending(self, marks: npt.NDArray[np.int64]) -> None:
        if self._pending is None or not len(marks):
            return
        idx = marks - self._pending_row0
        idx = idx[(idx >= 0) & (idx < len(self._pending))]
        self._pending["pflags"][idx] |= PF_DUP_SEEN

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        problem = self._source.drain()
        if problem:
            self._warnings.append(problem)
        self._sha256 = self._source.sha256
        self._source.close()

    def _final_warnings(self) -> list[str]:
        notes: list[str] = []
        if self._bad_iface:
            notes.append(f"{self._bad_iface} packet blocks name an undefined interface")
        if self._oversize:
            notes.append(f"{self._oversize} records are longer than the snapshot length")
        for iface, kind in zip(self._interfaces, self._kinds, strict=True):
            if kind == KIND_NONE:
                name = link_name(iface.link_type)
                notes.append(
                    f"interface {iface.index}: link type {name} is not decoded "
                    "(its frames are counted, not analysed)"
                )
        return notes


@register("fast")
class FastBackend:
    """Numba/numpy reader for pcap, pcapng and their compressed forms."""

    name = "fast"

    def __init__(
        self, *, verify_checksums: bool = True, dedupe: bool = True, digest: bool = True
    ) -> None:
        self.verify_checksums = verify_checksums
        self.dedupe = dedupe
        self.digest = digest

    def open(self, path: str, file_idx: int = 0, *, batch_size: int = DEFAULT_BATCH) -> FastReader:
        return FastReader(
            path,
            file_idx,
            batch_size,
            verify_checksums=self.verify_checksums,
            dedupe=self.dedupe,
            digest=self.digest,
        )


def _ints(values: tuple[kernels.Int, ...]) -> tuple[int, ...]:
    """numba returns numpy integers; the reader works with Python ints."""
    return tuple(int(v) for v in values)
