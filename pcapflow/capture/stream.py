"""Byte sources for capture readers: a path or ``-`` (stdin), decompressed when needed, hashed.

Compression is recognised by magic bytes, never by file name: gzip (``1f 8b``), bzip2 (``BZh``)
and xz (``fd 37 7a 58 5a 00``).  Decompression is streamed; the file is never loaded whole.
Every byte handed to the parser also feeds a SHA-256: a copy of each chunk is hashed on a worker
thread, so the parser never waits for the hash unless it is several chunks ahead.
:attr:`Source.sha256` is the hash of the decompressed content once the source has been read to
its end (:meth:`Source.drain`).  ``Source(path, digest=False)`` skips the hash (about 0.5 s of
CPU per GB) for callers that do not report it; ``sha256`` is then ``""``.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Protocol

from pcapflow.errors import CaptureError


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


def _gzip() -> _Decompressor:
    return zlib.decompressobj(wbits=31)


def _bzip2() -> _Decompressor:
    return bz2.BZ2Decompressor()


def _xz() -> _Decompressor:
    return lzma.LZMADecompressor()


COMPRESSIONS: tuple[tuple[bytes, str, Callable[[], _Decompressor]], ...] = (
    (b"\x1f\x8b", "gzip", _gzip),
    (b"BZh", "bzip2", _bzip2),
    (b"\xfd7zXZ\x00", "xz", _xz),
)

DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)
HASH_BACKLOG = 4  # chunks copied for the background hash and not yet hashed, at most
RAW_CHUNK = 1 << 16  # compressed bytes fed per step (bounds the memory a step can produce)


class _Decompressed:
    """A compressed stream decoded incrementally; concatenated members/streams are decoded in
    turn.  Everything decodable before a corruption or a cut is returned; the problem is kept in
    :attr:`problem` instead of being raised."""

    def __init__(self, raw: _Prefixed, magic: bytes, make: Callable[[], _Decompressor]) -> None:
        self._raw = raw
        self._magic = magic
        self._make = make
        self._dec = make()
        self._out = bytearray()
        self._done = False
        self.problem: str | None = None

    def _step(self) -> None:
        chunk = self._raw.read(RAW_CHUNK)
        if not chunk:
            if not self._dec.eof:
                self.problem = "compressed data ends before its end-of-stream marker"
            self._done = True
            return
        try:
            self._out += self._dec.decompress(chunk)
            while self._dec.eof and self._dec.unused_data:
                rest = self._dec.unused_data
                if not rest.startswith(self._magic):
                    self._done = True  # trailing padding after the last member
                    return
                self._dec = self._make()
                self._out += self._dec.decompress(rest)
        except DECOMPRESS_ERRORS as exc:
            self.problem = f"corrupt compressed data: {exc}"
            self._done = True

    def readinto(self, view: memoryview) -> int:
        while len(self._out) < len(view) and not self._done:
            self._step()
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        del self._out[:n]
        return n

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._out) < size) and not self._done:
            self._step()
        n = len(self._out) if size < 0 else min(size, len(self._out))
        data = bytes(self._out[:n])
        del self._out[:n]
        return data


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


class Source:
    """A readable, decompressed, hashed byte stream; ``label`` names it in messages."""

    def __init__(self, path: str, *, digest: bool = True) -> None:
        self.label = "<stdin>" if path == "-" else path
        self.compression = ""
        self.digest = digest
        self._hash = hashlib.sha256()
        self.offset = 0  # decompressed bytes handed out so far
        raw = self._open_raw(path)
        try:
            head = _read_exactly(_Prefixed(b"", raw), 6)
        except OSError as exc:
            raw.close()
            raise CaptureError(f"{self.label}: cannot read: {exc.strerror or exc}") from None
        plain = _Prefixed(head, raw)
        stream: _Prefixed | _Decompressed = plain
        for magic, name, make in COMPRESSIONS:
            if head.startswith(magic):
                self.compression = name
                stream = _Decompressed(plain, magic, make)
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
        except FileNotFoundError:
            raise CaptureError(f"{path}: no such capture file") from None
        except OSError as exc:
            raise CaptureError(f"{path}: cannot open: {exc.strerror or exc}") from None

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at the end of the content)."""
        try:
            data = _read_exactly(self._stream, size)
        except OSError as exc:
            raise CaptureError(f"{self.label}: read error: {exc.strerror or exc}") from None
        self.settle()
        if self.digest:
            self._hash.update(data)
        self.offset += len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the content goes (0 at the end); a copy of those bytes is
        hashed in the background, so the caller may change ``view`` at once (at most
        :data:`HASH_BACKLOG` chunks wait for the hash: memory stays bounded when hashing is the
        slower of the two)."""
        got = 0
        try:
            while got < len(view):
                n = self._stream.readinto(view[got:])
                if not n:
                    break
                got += n
        except OSError as exc:
            raise CaptureError(f"{self.label}: read error: {exc.strerror or exc}") from None
        if got:
            self.offset += got
            if not self.digest:
                return got
            if self._hasher is None:
                self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
            while len(self._pending) >= HASH_BACKLOG:
                self._pending.pop(0).result()
            self._pending.append(self._hasher.submit(self._hash.update, bytes(view[:got])))
        return got

    def seekable(self) -> bool:
        """An uncompressed regular file (a byte offset is a content offset)."""
        if self.compression or self._raw is sys.stdin.buffer:
            return False
        try:
            return stat.S_ISREG(os.fstat(self._raw.fileno()).st_mode)
        except (OSError, ValueError):
            return False

    def seek(self, offset: int) -> None:
        """Go on reading at byte ``offset`` (a :meth:`seekable` source, not hashed)."""
        if self.digest or not self.seekable():
            raise ValueError("only an unhashed, uncompressed file can seek")
        self._raw.seek(offset)
        self._stream = _Prefixed(b"", self._raw)
        self.offset = offset

    def settle(self) -> None:
        """Wait until every byte handed out so far has been hashed."""
        for job in self._pending:
            job.result()
        self._pending.clear()

    def drain(self) -> str | None:
        """Read (and hash) whatever is left; a decompression problem met on the way, or None.

        Without a digest an uncompressed rest is not read (nothing could be found in it)."""
        if not self.digest and not self.compression:
            return None
        try:
            while self.read(1 << 20):
                pass
        except CaptureError as exc:
            return str(exc).removeprefix(f"{self.label}: ")
        problem = getattr(self._stream, "problem", None)
        return f"{self.compression}: {problem}" if problem else None

    @property
    def sha256(self) -> str:
        """The content's SHA-256 (hex); ``""`` when built with ``digest=False``."""
        self.settle()
        return self._hash.hexdigest() if self.digest else ""

    def close(self) -> None:
        self.settle()
        if self._hasher is not None:
            self._hasher.shutdown()
            self._hasher = None
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def _read_exactly(stream: _Prefixed | _Decompressed, size: int) -> bytes:
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
