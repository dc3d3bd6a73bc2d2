"""The SHA-256 of a plain capture file, hashed on a thread of its own while other work runs.

``pcapflow analyze`` reports each capture's SHA-256.  Hashed by the first pass's reader
(:class:`pcapflow.capture.stream.Source`), it costs the pass about as much wall time as the hash
itself on two cores (4 GB: 2 s of SHA-256 beside the reader and the flow kernel).  The pipeline
therefore reads a plain file without hashing it and hashes it with :func:`sha256_of` on a
thread of its own, started with the pass: it takes the share of the cores the pass leaves idle
and goes on beside the single-threaded work that follows (evidence, relevance); the result waits
for it only when it is built (4 GB: 6.0-6.2 s instead of 6.5 s for the whole analysis).  The
CLI's ``analyze`` starts the hash of its captures still earlier (:func:`hash_early`).
A compressed file is hashed by the reader as before (its SHA-256 is of the decompressed content).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, BinaryIO

from pcapflow.errors import CaptureError

# The first bytes of an uncompressed capture: pcap (both byte orders; micro-, nanosecond and
# Kuznetzov's modified) and pcapng, as in :mod:`pcapflow.capture.formats` (which imports the
# kernels, too slow for hash_early; tests/test_capture_digest.py checks the two agree).
CAPTURE_MAGICS = frozenset(
    {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
     b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34", b"\x0a\x0d\x0d\x0a"}
)  # fmt: skip

_Identity = tuple[str, int, int, int]  # real path, inode, size, modification time (ns)
_early: dict[_Identity, Future[str]] = {}


def _identity(path: str) -> _Identity | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns


def hashable_apart(path: str) -> bool:
    """A regular file that is an uncompressed capture (its bytes are the content the reader
    would hash)."""
    if path == "-" or not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in CAPTURE_MAGICS


def engine_of(args: Sequence[str]) -> str:
    """The ``--engine`` a command line names (``fast`` when none)."""
    for i, arg in enumerate(args):
        if arg == "--engine" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--engine="):
            return arg.partition("=")[2]
    return "fast"


def hash_early(args: Sequence[str]) -> None:
    """Start hashing each argument that names an uncompressed capture file, before the command
    that will analyse it has even imported its modules (the CLI's ``analyze``): the hash then
    also takes the start-up's idle core.  :func:`sha256_of` hands the hash over.  Only for the
    fast engine (the pipeline hashes apart only there; another engine's reader hashes itself)."""
    if engine_of(args) != "fast":
        return
    for arg in args:
        identity = _identity(arg) if hashable_apart(arg) else None
        if identity is not None and identity not in _early:
            _early[identity] = sha256_later(arg)


def sha256_of(path: str) -> Future[str]:
    """The file's hash: the one :func:`hash_early` started for this very file (same inode,
    size and modification time), else one started now."""
    identity = _identity(path)
    early = _early.pop(identity, None) if identity is not None else None
    return early if early is not None else sha256_later(path)


MAPPED_PIECE = 32 << 20  # bytes mapped (and hashed) at a time: whole pages (mmap's offsets)


def file_sha256(path: str) -> str:
    """The SHA-256 (hex) of a file's bytes: mapped into memory a piece at a time where it can
    be (no copy of each piece out of the page cache: 4 GB, 0.3 CPU-s and ~0.7 s of an
    analysis less; only one piece counts in the process's resident memory), else read."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):  # a pipe, a device: read
            return hashlib.file_digest(f, "sha256").hexdigest()
        digest = hashlib.sha256()
        for at in range(0, st.st_size, MAPPED_PIECE):
            _hash_mapped(digest, f, at, min(MAPPED_PIECE, st.st_size - at))
        return digest.hexdigest()


def _hash_mapped(digest: Any, f: BinaryIO, at: int, length: int) -> None:
    piece = mmap.mmap(f.fileno(), length, offset=at, access=mmap.ACCESS_READ)
    try:
        digest.update(piece)
    finally:
        piece.close()


def sha256_later(path: str) -> Future[str]:
    """The file's SHA-256 (hex), computed on a daemon thread (hashlib releases the GIL; a
    command that stops early, e.g. on a bad config, does not wait for the hash to exit)."""
    future: Future[str] = Future()

    def run() -> None:
        try:
            future.set_result(file_sha256(path))
        except OSError as exc:  # as the reader says it: one line naming the file
            future.set_exception(CaptureError(f"{path}: read error: {exc.strerror or exc}"))
        except BaseException as exc:  # handed to whoever waits for the hash
            future.set_exception(exc)

    threading.Thread(target=run, name="sha256", daemon=True).start()
    return future
