"""Byte sources for capture readers: a path or ``-`` (stdin), decompressed when needed, hashed.

Compression is recognised by magic bytes, never by file name: gzip (``1f 8b``), bzip2 (``BZh``)
and xz (``fd 37 7a 58 5a 00``).  Decompression is streamed; the file is never loaded whole.
Every byte handed to the parser also feeds a SHA-256 (on a worker thread, overlapping the
parsing), so :attr:`Source.sha256` is the hash of the decompressed content once the source has
been read to its end (:meth:`Source.drain`).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from pcapflow.errors import CaptureError

_Opener = Callable[[BinaryIO], BinaryIO]


def _gzip(raw: BinaryIO) -> BinaryIO:
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


def _bzip2(raw: BinaryIO) -> BinaryIO:
    return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]


def _xz(raw: BinaryIO) -> BinaryIO:
    return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]


COMPRESSIONS: tuple[tuple[bytes, str, _Opener], ...] = (
    (b"\x1f\x8b", "gzip", _gzip),
    (b"BZh", "bzip2", _bzip2),
    (b"\xfd7zXZ\x00", "xz", _xz),
)

DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, ValueError)


class _Prefixed:
    """A read-only stream that first returns ``head`` and then the rest of ``raw``."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._raw.read(size - len(data))
            return data
        return self._raw.read(size)

    def readinto(self, view: memoryview) -> int:
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        return int(self._raw.readinto(view))  # type: ignore[attr-defined]

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


class Source:
    """A readable, decompressed, hashed byte stream; ``label`` names it in messages."""

    def __init__(self, path: str) -> None:
        self.label = "<stdin>" if path == "-" else path
        self.compression = ""
        self._hash = hashlib.sha256()
        self.offset = 0  # decompressed bytes handed out so far
        raw = self._open_raw(path)
        head = _read_exactly(raw, 6)
        stream: BinaryIO = _Prefixed(head, raw)  # type: ignore[assignment]
        for magic, name, opener in COMPRESSIONS:
            if head.startswith(magic):
                self.compression = name
                stream = opener(stream)
                break
        self._stream = stream
        self._raw = raw
        self._hasher: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def _open_raw(self, path: str) -> BinaryIO:
        if path == "-":
            return sys.stdin.buffer
        try:
            return open(path, "rb")
        except OSError as exc:
            raise CaptureError(f"{path}: cannot open: {exc.strerror or exc}") from None

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at the end of the content)."""
        try:
            data = _read_exactly(self._stream, size)
        except DECOMPRESS_ERRORS as exc:
            raise CaptureError(f"{self.label}: corrupt {self.compression} data: {exc}") from None
        self.settle()
        self._hash.update(data)
        self.offset += len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the content goes (0 at the end); hashing of those bytes is
        started in the background: call :meth:`settle` before the bytes in ``view`` change."""
        got = 0
        try:
            while got < len(view):
                n = self._stream.readinto(view[got:])  # type: ignore[attr-defined]
                if not n:
                    break
                got += n
        except DECOMPRESS_ERRORS as exc:
            raise CaptureError(f"{self.label}: corrupt {self.compression} data: {exc}") from None
        if got:
            self.offset += got
            if self._hasher is None:
                self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
            self._pending.append(self._hasher.submit(self._hash.update, view[:got]))
        return got

    def settle(self) -> None:
        """Wait until every byte handed out so far has been hashed."""
        for job in self._pending:
            job.result()
        self._pending.clear()

    def drain(self) -> str | None:
        """Read (and hash) whatever is left; a problem met on the way, or None."""
        try:
            while self.read(1 << 20):
                pass
        except CaptureError as exc:
            return str(exc).split(": ", 1)[-1]
        return None

    @property
    def sha256(self) -> str:
        self.settle()
        return self._hash.hexdigest()

    def close(self) -> None:
        self.settle()
        if self._hasher is not None:
            self._hasher.shutdown()
            self._hasher = None
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def _read_exactly(stream: BinaryIO | _Prefixed, size: int) -> bytes:
    """``size`` bytes, or fewer only when the stream ends (pipes return short reads)."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
