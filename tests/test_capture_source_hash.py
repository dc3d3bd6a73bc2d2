"""The capture's SHA-256 is hashed from copies on a worker thread: the reader may reuse its
buffer at once, and the backlog of copies waiting for the hash stays bounded."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pcapflow.capture import stream
from pcapflow.capture.stream import HASH_BACKLOG, Source


def test_buffer_reused_at_once_still_hashes_the_content(tmp_path: Path) -> None:
    content = os.urandom(3 << 20)
    path = tmp_path / "blob.bin"
    path.write_bytes(content)
    source = Source(str(path))
    buffer = bytearray(64 << 10)
    backlog = []
    while got := source.readinto(memoryview(buffer)):
        backlog.append(len(source._pending))
        buffer[:got] = b"\xff" * got  # scribble over the bytes the hasher was given
    assert source.sha256 == hashlib.sha256(content).hexdigest()
    assert max(backlog) <= HASH_BACKLOG
    source.close()


def test_a_slow_hash_holds_the_reader_back_to_the_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When hashing is slower than reading, the reader waits rather than copying the whole file."""
    content = os.urandom(1 << 20)
    path = tmp_path / "blob.bin"
    path.write_bytes(content)
    monkeypatch.setattr(stream, "HASH_BACKLOG", 2)
    source = Source(str(path))
    buffer = bytearray(16 << 10)
    most = 0
    while source.readinto(memoryview(buffer)):
        most = max(most, len(source._pending))
    assert most <= 2
    assert source.sha256 == hashlib.sha256(content).hexdigest()
    source.close()
