"""The Python API of flow assembly: read_flows / iter_flows / read_capture / assemble, the memory
bound under a SYN flood, and parity of the numba kernel with the same code run interpreted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pcapflow.errors import CaptureError, InputError
from pcapflow.flows import FlowAssembler, Params, assemble, iter_flows, read_capture, read_flows
from pcapflow.flows.keys import packet_keys
from pcapflow.flows.records import FRAME_DTYPES
from pcapflow.flows.synthetic import PacketBuilder, syn_flood, tcp_workload
from pcapflow.model.flow import Flow

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO.parent / "shared" / "corpus" / "zeek" / "Traces"
WIKIPEDIA = TRACES / "wikipedia.pcap"
needs_corpus = pytest.mark.skipif(not WIKIPEDIA.exists(), reason="Zeek corpus not available")


@needs_corpus
def test_read_flows_frame_has_zeek_columns_and_documented_dtypes() -> None:
    frame = read_flows(WIKIPEDIA)
    assert list(frame.columns) == list(FRAME_DTYPES)
    assert {c: str(t) for c, t in frame.dtypes.items()} == FRAME_DTYPES
    assert len(frame) == 34  # Zeek's conn.log for this trace has 34 rows
    assert frame["ts"].is_monotonic_increasing
    assert frame["uid"].str.fullmatch(r"C[0-9A-Za-z]{17}").all()
    assert frame["uid"].is_unique
    assert set(frame["proto"]) == {"tcp", "udp"}


@needs_corpus
def test_iter_flows_read_capture_and_read_flows_agree() -> None:
    info, flows = read_capture(WIKIPEDIA)
    assert info.frames == 136 and info.format.endswith("pcap")
    streamed = sorted(iter_flows(WIKIPEDIA), key=lambda f: (f.ts, f.uid))
    assert [f.uid for f in streamed] == [f.uid for f in flows]
    frame = read_flows(WIKIPEDIA)
    assert frame["uid"].tolist() == [f.uid for f in flows]
    assert frame["history"].tolist() == [f.history for f in flows]
    assert all(isinstance(f, Flow) for f in flows)


@needs_corpus
def test_evidence_packets_are_kept_and_capped() -> None:
    _info, flows = read_capture(WIKIPEDIA, packets_per_flow=2)
    busy = max(flows, key=lambda f: f.orig_pkts + f.resp_pkts)
    assert len(busy.packets) == 2 and busy.packets_truncated
    assert busy.packets[0].frame == busy.first_frame
    assert busy.packets[0].src in (busy.orig_h, busy.resp_h)
    _info, bare = read_capture(WIKIPEDIA, packets_per_flow=0)
    assert all(f.packets == () and not f.packets_truncated for f in bare)


def test_assemble_sorts_by_ts_then_uid_and_streams_batches() -> None:
    rows = tcp_workload(300, 4)
    whole = assemble([rows], file_idx=3, packets_per_flow=0)
    chunked = assemble(np.array_split(rows, 17), file_idx=3, packets_per_flow=0)
    assert [f.uid for f in whole] == [f.uid for f in chunked]
    assert [(f.ts, f.uid) for f in whole] == sorted((f.ts, f.uid) for f in whole)
    assert {f.conn_state for f in whole} == {"SF"} and len(whole) == 300
    assert {f.file_idx for f in whole} == {3}


def test_feed_takes_the_batch_keys_computed_elsewhere() -> None:
    """capture_blocks computes the connection keys on the read-ahead thread: the same blocks."""
    rows = tcp_workload(200, 4)
    batches = np.array_split(rows, 9)

    def blocks(with_keys: bool) -> list[tuple[object, ...]]:
        asm = FlowAssembler(params=Params(packets_per_flow=2))
        out = []
        for batch in batches:
            out += asm.feed(batch, packet_keys(batch)) if with_keys else asm.feed(batch)
        out += asm.close()
        return [
            (b.history, b.cols["start_ns"].tolist(), [len(p) for p in b.packets if p is not None])
            for b in out
        ]

    assert blocks(True) == blocks(False)
    asm = FlowAssembler()
    with pytest.raises(InputError, match="keys do not match"):
        asm.feed(batches[0], packet_keys(batches[1][:3]))


def test_syn_flood_keeps_the_flow_table_bounded_and_emits_every_flow() -> None:
    cap = 2000
    asm = FlowAssembler(params=Params(max_flows=cap, packets_per_flow=1))
    emitted = 0
    for batch in np.array_split(syn_flood(60_000, gap_ns=10_000), 30):
        emitted += sum(len(b) for b in asm.feed(batch))
        assert asm.capacity <= cap
        assert asm.live <= cap
        assert asm.keys <= asm.live  # the key table holds the live flows' keys only
        assert len(asm._stored) <= cap
    emitted += sum(len(b) for b in asm.close())
    assert emitted == 60_000
    assert asm.stats.evicted > 50_000
    assert asm.stats.peak_live <= cap


def test_eviction_prefers_half_open_attempts() -> None:
    b = PacketBuilder()
    for port in range(100):
        b.tcp("10.0.0.1", 20000 + port, "10.0.0.2", 443, "S", seq=port)
        b.tcp("10.0.0.2", 443, "10.0.0.1", 20000 + port, "SA", seq=9, ack=port + 1)
    for port in range(100):  # half-open attempts arrive last (they are not the idlest)
        b.tcp("10.0.0.3", 30000 + port, "10.0.0.2", 443, "S", seq=port)
    asm = FlowAssembler(params=Params(max_flows=120, packets_per_flow=0))
    blocks = asm.feed(b.array())
    evicted = [h for blk in blocks for h, end in zip(blk.history, blk.cols["end"], strict=True)
               if end == 3]  # fmt: skip
    assert evicted and set(evicted) == {"S"}


def test_bad_input_is_one_line_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureError):
        read_flows(junk)
    with pytest.raises(InputError):
        FlowAssembler(params=Params(max_flows=3))
    with pytest.raises(InputError):
        FlowAssembler().feed(np.zeros(3, dtype=np.int32))  # type: ignore[arg-type]


_PARITY_SCRIPT = """
import sys
import pandas as pd
from pcapflow.flows import read_flows, assemble
from pcapflow.flows.synthetic import tcp_workload
frames = [read_flows(p) for p in sys.argv[1:]]
flows = assemble([tcp_workload(40, 3)], file_idx=9, packets_per_flow=0)
frames.append(pd.DataFrame([(f.uid, f.history, f.conn_state, f.orig_bytes) for f in flows]))
print(pd.concat(frames).to_csv(index=False))
"""


def test_numba_kernel_matches_the_same_code_interpreted() -> None:
    traces = [str(p) for p in (TRACES / "http/get.pcap", WIKIPEDIA) if p.exists()]
    outputs = []
    for disable in ("0", "1"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=disable)
        done = subprocess.run(
            [sys.executable, "-c", _PARITY_SCRIPT, *traces],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) > 40


def test_frame_of_no_flows_has_the_columns() -> None:
    asm = FlowAssembler()
    from pcapflow.flows.records import blocks_frame

    frame = blocks_frame(asm.close())
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(FRAME_DTYPES)
    assert len(frame) == 0


@needs_corpus
def test_evidence_packets_equal_the_row_by_row_conversion_and_share_small_values() -> None:
    from pcapflow.capture import get_backend
    from pcapflow.flows.records import _AddrCache, packet_refs
    from pcapflow.model.packet import PF_HAS_TS, packet_ref

    rows = np.concatenate(list(get_backend("fast").open(str(WIKIPEDIA)).batches()))
    assert (rows["pflags"] & PF_HAS_TS).any() and not (rows["pflags"] & PF_HAS_TS).all()
    refs = packet_refs(rows, _AddrCache())
    assert refs == [packet_ref(row) for row in rows]
    big = [r for r in refs if r.sport > 256]  # (CPython caches small ints anyway)
    same_port = [r for r in big if r.sport == big[0].sport]
    assert len(same_port) > 1 and all(r.sport is same_port[0].sport for r in same_port)


@needs_corpus
def test_checksums_are_verified_only_when_something_looks_at_them() -> None:
    from pcapflow.capture import get_backend
    from pcapflow.flows.api import _backend
    from pcapflow.flows.records import blocks_frame

    assert _backend("fast", False, False).verify_checksums is False  # type: ignore[attr-defined]
    asm = FlowAssembler(file_idx=0, params=Params(packets_per_flow=0))
    verified = get_backend("fast").open(str(WIKIPEDIA))
    blocks = [b for batch in verified.batches() for b in asm.feed(batch)] + asm.close()
    pd.testing.assert_frame_equal(read_flows(WIKIPEDIA), blocks_frame(blocks))
