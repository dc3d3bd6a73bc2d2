"""Property tests: mutated captures give rows or a CaptureError, never a crash or a hang.

Seeds are small valid captures (pcap, pcapng with several interfaces, gzip); hypothesis flips
bits, cuts the file, and writes random values into record and block length fields.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_capture_formats import (
    SYN_PKT,
    T0,
    epb,
    eth,
    icmp,
    idb,
    ipv4,
    ipv6,
    pcap,
    shb,
    spb,
    tcp,
    udp,
)

from pcapflow.capture import get_backend, kernels
from pcapflow.capture.hashing import hash32_py
from pcapflow.errors import CaptureError

_FRAMES = [
    eth(SYN_PKT, tags=((0x8100, 5),)),
    eth(ipv4("10.0.0.1", "10.0.0.2", udp(1, 2, b"data" * 10), options=b"\x01\x01\x01\x00")),
    eth(ipv6("2001:db8::1", "2001:db8::2", tcp(3, 4, options=b"\x08\x0a" + b"\0" * 8)), 0x86DD),
    eth(ipv4("10.0.0.1", "10.0.0.2", icmp(3, 1, SYN_PKT))),
]
SEEDS = [
    pcap([(T0 * 10**9 + i, f) for i, f in enumerate(_FRAMES)]),
    pcap([(T0 * 10**9 + i, f[14:]) for i, f in enumerate(_FRAMES[:2])], link=101, nsec=True),
    shb()
    + idb("<", 1, tsresol=9)
    + idb("<", 101)
    + b"".join(
        epb("<", i % 2, 10**6 + i, f if i % 2 == 0 else f[14:]) for i, f in enumerate(_FRAMES)
    )
    + spb("<", _FRAMES[0])
    + shb(">")
    + idb(">", 1)
    + epb(">", 0, 5, _FRAMES[1]),
]

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _read_bounded(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        reader = get_backend("fast").open(str(path))
        rows = sum(len(b) for b in reader.batches())
        info = reader.info()
        assert rows == info.decoded - info.duplicates <= info.frames
    except CaptureError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)


@FUZZ
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), max_size=8),
    cut=st.none() | st.integers(0, 10**6),
    compress=st.booleans(),
)
def test_bit_flips_and_truncation(
    tmp_path: Path, seed: int, flips: list[tuple[int, int]], cut: int | None, compress: bool
) -> None:
    data = bytearray(SEEDS[seed])
    for where, bit in flips:
        data[where % len(data)] ^= 1 << bit
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    content = gzip.compress(bytes(data)) if compress else bytes(data)
    _read_bounded(tmp_path / "fuzz.cap", content)


@FUZZ
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    where=st.integers(0, 10**6),
    value=st.integers(0, 2**32 - 1),
)
def test_random_length_fields(tmp_path: Path, seed: int, where: int, value: int) -> None:
    """Overwrite an aligned 32-bit word (record lengths, block lengths, interface ids...)."""
    data = bytearray(SEEDS[seed])
    offset = (where % (len(data) // 4)) * 4
    data[offset : offset + 4] = struct.pack("<I", value)
    _read_bounded(tmp_path / "fuzz.cap", bytes(data))


@FUZZ
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    method=st.sampled_from(["gzip", "bz2", "xz"]),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), max_size=4),
    cut=st.none() | st.integers(1, 10**6),
)
def test_mutated_compressed_streams(
    tmp_path: Path, seed: int, method: str, flips: list[tuple[int, int]], cut: int | None
) -> None:
    import bz2
    import lzma

    packers = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
    data = bytearray(packers[method](SEEDS[seed]))
    for where, bit in flips:
        data[where % len(data)] ^= 1 << bit
    if cut is not None:
        data = data[: max(1, cut % len(data))]
    _read_bounded(tmp_path / "fuzz.cap", bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 7))
def test_numba_hash_matches_the_python_reference(data: bytes, start: int) -> None:
    buf = np.frombuffer(b"\xaa" * start + data, dtype=np.uint8)
    assert int(kernels.hash32(buf, start, len(buf))) == hash32_py(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(0, 7))
def test_word_checksum_matches_bytewise_sum(data: bytes, start: int) -> None:
    raw = b"\x55" * start + data
    buf = np.frombuffer(raw + b"\0" * (-len(raw) % 8), dtype=np.uint8)
    fast = kernels._csum_fold(kernels._csum_words(buf, buf.view(np.uint64), start, len(raw)))
    slow = kernels._csum_fold(kernels._csum_add(buf, start, len(raw), 0))
    assert fast == slow
