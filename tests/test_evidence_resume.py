"""Pass 2 reads only the stretches of a plain pcap that hold the chosen flows' frames, seeking
from pass 1's resume points, and finds exactly the packets a read of the whole file finds."""

from __future__ import annotations

import itertools
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.capture import fast, stream
from pcapflow.flows.evidence import SPAN_GAP_FRAMES, frame_spans, load_evidence, read_lean

BACKGROUND = 60_000  # packets (about 14 MB: several of the reader's 4 MiB refills)
CHOSEN_AT = (50, 30_000, 59_000)  # where the three chosen flows' packets are


def udp(src: int, sport: int, payload: bytes = b"x" * 160) -> bytes:
    packet = dpkt.udp.UDP(sport=sport, dport=53, data=payload)
    packet.ulen = len(packet)
    ip = dpkt.ip.IP(src=bytes([10, 1, src >> 8, src & 255]), dst=bytes([10, 9, 0, 1]), p=17)
    ip.data = packet
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)
    return bytes(eth)


def capture(path: Path) -> Path:
    """Background flows (a new source port each 4 packets) with three chosen flows of 3
    packets each, early, in the middle and late."""
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for i in range(BACKGROUND):
            chosen = [j for j, at in enumerate(CHOSEN_AT) if at <= i < at + 3]
            if chosen:
                frame = udp(7, 40_000 + chosen[0])
            else:
                frame = udp(1 + (i // 4) % 200, 1024 + (i // 4) % 30_000)
            writer.writepkt(frame, ts=1_700_000_000 + i * 1e-4)
    return path


def chosen_rows(table: object) -> np.ndarray:
    cols = table.cols  # type: ignore[attr-defined]
    return np.flatnonzero(cols["orig_p"] >= 40_000)


def evidence(path: Path, resume: bool) -> list[object]:
    lean = read_lean(str(path), digest=False)
    chosen = lean.table.take(chosen_rows(lean.table))
    assert len(chosen) == 3
    points = lean.resume if resume else ()
    return load_evidence(str(path), chosen.flows(), chosen.cols["key_hash"], resume=points)


def test_pass_two_reads_only_the_stretches_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capture(tmp_path / "busy.pcap")
    whole = evidence(path, resume=False)
    refill = 1 << 16
    monkeypatch.setattr(fast, "CHUNK_BYTES", refill)  # resume points every 64 KiB
    lean = read_lean(str(path), digest=False)
    assert lean.resume[0] == (24, 0)  # the first record, no frame before it
    chosen = lean.table.take(chosen_rows(lean.table))
    read: list[int] = []
    plain = stream.Source.readinto

    def counted(self: stream.Source, view: memoryview) -> int:
        got = plain(self, view)
        read.append(got)
        return got

    monkeypatch.setattr(stream.Source, "readinto", counted)
    sought = load_evidence(str(path), chosen.flows(), chosen.cols["key_hash"], resume=lean.resume)
    assert [f.packets for f in sought] == [f.packets for f in whole]  # type: ignore[attr-defined]
    frames = [p.frame for f in sought for p in f.packets]  # type: ignore[attr-defined]
    assert frames == [at + k + 1 for at in CHOSEN_AT for k in range(3)]
    # three stretches of a few refills each (from the resume point before the flow, and the
    # reader's batch in hand and read ahead), not the 13 MB up to the last flow
    assert sum(read) <= 3 * 5 * refill < path.stat().st_size // 10


def test_a_gzip_capture_has_no_resume_points_and_is_read_whole(tmp_path: Path) -> None:
    import gzip

    path = capture(tmp_path / "busy.pcap")
    packed = tmp_path / "busy.pcap.gz"
    packed.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
    assert read_lean(str(packed), digest=False).resume == ()
    assert read_lean(str(path), digest=False).resume != ()
    got = [f.packets for f in evidence(packed, resume=True)]  # type: ignore[attr-defined]
    assert got == [f.packets for f in evidence(path, resume=False)]  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 50_000)), min_size=1, max_size=30))
def test_frame_spans_cover_every_flow_once(flows: list[tuple[int, int]]) -> None:
    firsts = [first for first, _ in flows]
    lasts = [first + length for first, length in flows]
    spans = frame_spans(firsts, lasts)
    assert spans == sorted(spans)
    for (_, hi), (lo, _) in itertools.pairwise(spans):
        assert lo > hi + SPAN_GAP_FRAMES  # disjoint, and far apart (else one span)
    for first, last in zip(firsts, lasts, strict=True):
        assert any(lo <= first and last <= hi for lo, hi in spans)
