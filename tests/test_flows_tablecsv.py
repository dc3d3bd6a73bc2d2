"""The streamed CSV of the flow table (``flows --format csv``) writes, in pieces, exactly what a
plain Python formatting of the flow blocks (and the pandas frame) gives."""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.csvwrite import FLOW_COLUMNS, _micro_reprs
from pcapflow.flows.layout import CONN_STATES, END_REASONS
from pcapflow.flows.output import blocks_csv, flows_csv, flows_json, zeek_conn_log
from pcapflow.flows.records import blocks_frame, flow_uids, proto_name
from pcapflow.flows.tablecsv import (
    HEADER,
    flow_table,
    write_conn_log,
    write_csv,
    write_json_lines,
)

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
HAIRPIN = SAMPLES / "hairpin-two-backends" / "web01-eth0.pcap"
LETTERS = "ShADadFfRrCcTtGgWwIiQq^"
EPOCH_NS = 1_795_851_535 * 10**9


def reference_csv(blocks: list[FlowBlock]) -> str:
    """The flow table as CSV, cell by cell in plain Python (Zeek's precision: ``repr`` of the
    float64 seconds; unset fields empty), sorted by ts then uid."""
    rows: list[tuple[int, str, str]] = []
    for block in blocks:
        c = {k: v.tolist() for k, v in block.cols.items()}
        uids = flow_uids(block.cols)
        for j, uid in enumerate(uids):

            def addr(hi: int, lo: int, ver: int = c["ver"][j]) -> str:
                if ver == 4:
                    return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
                return str(ipaddress.IPv6Address((hi << 64) | lo))

            def opt(value: int, shown: bool) -> str:
                return str(value) if shown else ""

            tcp = c["proto"][j] == 6
            syn = tcp and c["isn"][j] >= 0
            cells = [
                repr(c["start_ns"][j] / 1e9),
                uid,
                addr(c["orig_hi"][j], c["orig_lo"][j]),
                str(c["orig_p"][j]),
                addr(c["resp_hi"][j], c["resp_lo"][j]),
                str(c["resp_p"][j]),
                proto_name(c["proto"][j]),
                repr((c["last_ns"][j] - c["start_ns"][j]) / 1e9),
                str(c["orig_bytes"][j]),
                str(c["resp_bytes"][j]),
                CONN_STATES[c["state"][j]],
                str(c["missed_bytes"][j]),
                block.history[j],
                *(str(c[k][j]) for k in ("orig_pkts", "orig_ip_bytes", "resp_pkts")),
                *(str(c[k][j]) for k in ("resp_ip_bytes", "proto", "file_idx")),
                str(c["first_frame"][j]),
                str(c["last_frame"][j]),
                opt(c["isn"][j], syn),
                opt(c["resp_isn"][j], tcp and c["resp_isn"][j] >= 0),
                opt(c["syn_ip_id"][j], syn),
                opt(c["syn_ttl"][j], syn),
                opt(c["syn_tsval"][j], syn and c["syn_tsval"][j] >= 0),
                str(c["syn_retransmits"][j]),
                str(c["duplicates"][j]),
                repr(c["lastpkt_ns"][j] / 1e9),
                END_REASONS[c["end"][j]],
            ]
            rows.append((c["start_ns"][j], uid, ",".join(cells)))
    rows.sort(key=lambda row: (row[0], row[1]))
    return HEADER + "".join(line + "\n" for _, _, line in rows)


U64 = st.integers(0, 2**64 - 1)
COUNT = st.integers(0, 2**40)
MAYBE = st.one_of(st.just(-1), st.integers(0, 2**32 - 1))  # -1: unset in the flow table
START = st.one_of(
    st.integers(0, 86_400 * 10**6).map(lambda u: EPOCH_NS + u * 1000),  # microsecond clock
    st.integers(0, 86_400 * 10**9).map(lambda n: EPOCH_NS + n),  # nanosecond clock
    st.integers(-(2**62), 2**62),  # anything (negative times, before 1970)
    st.sampled_from([EPOCH_NS, EPOCH_NS + 1000]),  # ties: order by uid
)
DURATION = st.one_of(
    st.integers(0, 10**7).map(lambda u: u * 1000),
    st.integers(0, 10**12),  # ns durations, under 1e-4 s too (repr in e-notation)
    st.integers(-(10**9), 0),
)


@st.composite
def flow_blocks(draw: Any) -> list[FlowBlock]:
    """Finished-flow blocks with random cells (addresses v4 and v6, unset fields, histories)."""
    blocks = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(0, 12))
        starts = [draw(START) for _ in range(n)]
        cols: dict[str, list[int]] = {name: [] for name in FLOW_COLUMNS}
        for j in range(n):
            ver = draw(st.sampled_from([4, 6]))
            span = draw(DURATION)
            values = {
                "start_ns": starts[j],
                "last_ns": starts[j] + span,
                "lastpkt_ns": starts[j] + max(span, 0) // 2,
                "ver": ver,
                "proto": draw(st.sampled_from([6, 17, 1, 58, 132, 0, 255])),
                "state": draw(st.integers(0, len(CONN_STATES) - 1)),
                "end": draw(st.integers(0, len(END_REASONS) - 1)),
                "file_idx": draw(st.integers(0, 3)),
            }
            for side in ("orig", "resp"):
                v6 = draw(st.one_of(U64, st.sampled_from([0, 0xFE80 << 48, 0x20010DB8 << 32])))
                values[f"{side}_hi"] = v6 if ver == 6 else 0
                values[f"{side}_lo"] = draw(U64) if ver == 6 else draw(st.integers(0, 2**32 - 1))
            for name in ("isn", "resp_isn", "syn_tsval"):
                values[name] = draw(MAYBE)
            for name in FLOW_COLUMNS:
                if name not in values:
                    small = name in ("orig_p", "resp_p", "syn_ttl", "syn_ip_id")
                    values[name] = draw(st.integers(0, 65535) if small else COUNT)
            for name in FLOW_COLUMNS:
                cols[name].append(values[name])
        history = [draw(st.text(alphabet=LETTERS, max_size=20)) for _ in range(n)]
        arrays = {
            name: np.array(v, dtype=np.uint64 if name.endswith(("_hi", "_lo")) else np.int64)
            for name, v in cols.items()
        }
        blocks.append(FlowBlock(cols=arrays, history=history))
    return blocks


@settings(max_examples=120, deadline=None)
@given(flow_blocks())
def test_streamed_csv_equals_plain_formatting_of_random_flows(blocks: list[FlowBlock]) -> None:
    expected = reference_csv(blocks)
    assert blocks_csv(blocks) == expected
    pieces: list[bytes] = []
    write_csv(flow_table(iter(blocks)), lambda piece: pieces.append(bytes(piece)), rows=3)
    assert b"".join(pieces).decode() == expected
    assert len(pieces) == 1 + math.ceil(sum(len(b) for b in blocks) / 3)


@settings(max_examples=40, deadline=None)
@given(flow_blocks())
def test_streamed_csv_equals_the_pandas_frame(blocks: list[FlowBlock]) -> None:
    assert blocks_csv(blocks) == flows_csv(blocks_frame(blocks))


def conn_log(blocks: list[FlowBlock], rows: int | None = None) -> tuple[str, int]:
    pieces: list[bytes] = []
    write_conn_log(flow_table(iter(blocks)), lambda p: pieces.append(bytes(p)), rows=rows)
    return b"".join(pieces).decode(), len(pieces)


@settings(max_examples=80, deadline=None)
@given(flow_blocks())
def test_streamed_conn_log_equals_the_pandas_one(blocks: list[FlowBlock]) -> None:
    """Zeek's 6-decimal times and intervals (``"{:.6f}"``, rounded half to even on the exact
    binary value), ``-`` for unset fields, the #open/#close times: as the frame writes them."""
    text, pieces = conn_log(blocks, rows=2)
    assert text == zeek_conn_log(blocks_frame(blocks))
    assert pieces == 2 + math.ceil(sum(len(b) for b in blocks) / 2)


@settings(max_examples=60, deadline=None)
@given(flow_blocks())
def test_streamed_json_lines_equal_the_pandas_ones(blocks: list[FlowBlock]) -> None:
    """One object a flow as ``json.dumps`` of the frame's records: floats as ``repr``, null
    for unset fields."""
    pieces: list[bytes] = []
    write_json_lines(flow_table(iter(blocks)), lambda p: pieces.append(bytes(p)), rows=4)
    assert b"".join(pieces).decode() == flows_json(blocks_frame(blocks))
    assert len(pieces) == math.ceil(sum(len(b) for b in blocks) / 4)


def test_no_flows_is_the_header_pandas_writes() -> None:
    assert blocks_csv([]) == flows_csv(blocks_frame([])) == HEADER
    assert conn_log([])[0] == zeek_conn_log(blocks_frame([]))
    pieces: list[bytes] = []
    write_json_lines(flow_table([]), pieces.append)
    assert pieces == [] and flows_json(blocks_frame([])) == ""


def test_a_large_table_is_written_in_pieces_as_it_is_formatted() -> None:
    from pcapflow.flows.api import capture_blocks

    if not HAIRPIN.exists():
        pytest.skip("sample captures not available")
    blocks, _asm, _info = capture_blocks(HAIRPIN, packets_per_flow=0, digest=False)
    kept = list(blocks)
    table = flow_table(iter(kept))
    pieces: list[bytes] = []
    write_csv(table, lambda piece: pieces.append(bytes(piece)), rows=4)
    assert len(table) > 8
    assert len(pieces) == 1 + math.ceil(len(table) / 4)
    assert all(p.endswith(b"\n") and p.count(b"\n") <= 4 for p in pieces)
    assert b"".join(pieces).decode() == flows_csv(blocks_frame(kept)) == reference_csv(kept)


def test_cli_writes_the_csv_in_pieces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import pcapflow.cli.flows as cli_flows
    from pcapflow.cli import main

    if not HAIRPIN.exists():
        pytest.skip("sample captures not available")
    writes: list[int] = []
    real = cli_flows._ascii_writer

    def counting(output: Any) -> Any:
        write = real(output)
        return lambda piece: (writes.append(len(piece)), write(piece))

    monkeypatch.setattr(cli_flows, "_ascii_writer", counting)
    monkeypatch.setattr("pcapflow.flows.tablecsv.CHUNK_ROWS", 5)
    out = tmp_path / "flows.csv"
    result = CliRunner().invoke(main, ["flows", str(HAIRPIN), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert len(writes) == 1 + math.ceil((text.count("\n") - 1) / 5) and len(writes) > 3
    assert sum(writes) == len(text.encode())
    assert text == CliRunner().invoke(main, ["flows", str(HAIRPIN), "--format", "csv"]).stdout


NS_EPOCHS = st.integers(10**18, 2 * 10**18).map(lambda n: n / 1e9)


@settings(max_examples=200, deadline=None)
@given(st.lists(NS_EPOCHS, min_size=1, max_size=50))
def test_nanosecond_times_are_written_by_the_kernel_itself(values: list[float]) -> None:
    """Times of nanosecond captures (1e9..2e9 s) need 7 decimals: the kernel proves them
    (no ``repr`` left to Python) and they are ``repr``'s text."""
    out = np.zeros((len(values), 32), dtype=np.uint8)
    lens = np.empty(len(values), dtype=np.int64)
    _micro_reprs(np.array(values), out, lens)
    assert (lens > 0).all()
    assert [bytes(o[:n]).decode() for o, n in zip(out, lens, strict=True)] == list(
        map(repr, values)
    )


def test_a_full_disk_is_a_one_line_error() -> None:
    from pcapflow.cli import main

    if not Path("/dev/full").exists() or not HAIRPIN.exists():
        pytest.skip("no /dev/full or no sample captures")
    args = ["flows", str(HAIRPIN), "--format", "csv", "-o", "/dev/full"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr == "pcapflow: error: cannot write the output: No space left on device\n"
    assert isinstance(result.exception, SystemExit)


def block_of(starts: list[int], spans: list[int]) -> FlowBlock:
    """TCP flows 10.0.0.1:1000+j -> 10.0.0.2:80 with these start times and lengths (ns)."""
    n = len(starts)
    cols = {name: np.zeros(n, dtype=np.int64) for name in FLOW_COLUMNS}
    cols["start_ns"] = np.array(starts, dtype=np.int64)
    cols["last_ns"] = cols["start_ns"] + np.array(spans, dtype=np.int64)
    cols["lastpkt_ns"] = cols["last_ns"].copy()
    cols["ver"][:] = 4
    cols["proto"][:] = 6
    cols["orig_p"] = np.arange(1000, 1000 + n, dtype=np.int64)
    cols["resp_p"][:] = 80
    for name in ("orig_hi", "resp_hi"):
        cols[name] = np.zeros(n, dtype=np.uint64)
    cols["orig_lo"] = np.full(n, 0x0A000001, dtype=np.uint64)
    cols["resp_lo"] = np.full(n, 0x0A000002, dtype=np.uint64)
    return FlowBlock(cols=cols, history=["S"] * n)


def test_six_decimals_round_exact_halves_to_even() -> None:
    """k/128 s is a binary fraction whose 7th decimal is exactly 5: Python's ``.6f`` rounds
    it to even, and so must the kernel (0.0078125 -> 0.007812, 0.0234375 -> 0.023438)."""
    eighth = 7_812_500  # ns: 1/128 s
    spans = [k * eighth for k in range(1, 40)] + [1, 499, 500, 501, 999_999_499, 999_999_500]
    starts = [1_795_851_535 * 10**9 + k * eighth for k in range(len(spans))]
    block = block_of(starts, spans)
    text = conn_log([block])[0]
    assert text == zeek_conn_log(blocks_frame([block]))
    assert "\t0.007812\t" in text and "\t0.023438\t" in text
    assert blocks_csv([block]) == reference_csv([block])


def test_sub_microsecond_durations_cost_one_rerun_a_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    """A nanosecond capture's durations (not whole microseconds) are ``repr`` texts made by
    Python: all of a piece's at once, so the kernel runs at most twice a piece (it once ran
    again for every such cell, and rebuilt the text pool each time: quadratic)."""
    import pcapflow.flows.tablecsv as tablecsv

    n = 600
    starts = [EPOCH_NS + 1000 * j for j in range(n)]
    block = block_of(starts, [100_001 + 7 * j for j in range(n)])  # 1.00001e-04 s, ...
    calls: list[int] = []
    kernel = tablecsv.write_table_rows

    def counted(*args: Any) -> Any:
        calls.append(1)
        return kernel(*args)

    monkeypatch.setattr(tablecsv, "write_table_rows", counted)
    pieces: list[bytes] = []
    write_csv(flow_table(iter([block])), lambda piece: pieces.append(bytes(piece)), rows=100)
    assert b"".join(pieces).decode() == reference_csv([block])
    assert len(pieces) == 1 + n // 100
    assert len(calls) == 2 * (n // 100)


def test_the_text_pool_grows_in_place() -> None:
    """Entries are appended to buffers that double; ``arrays`` are views of all entries."""
    from pcapflow.flows.tablecsv import TextPool

    pool = TextPool()
    base = pool.arrays()[1].shape[0] - 1
    texts = [repr(j / 7e5) for j in range(5000)]
    entries = [pool.entry(t) for t in texts]
    assert entries == list(range(base, base + 5000))
    assert pool.entry(texts[17]) == base + 17  # each distinct text once
    data, off = pool.arrays()
    assert off.shape[0] == base + 5001
    got = [bytes(data[off[j] : off[j + 1]]).decode() for j in entries]
    assert got == texts
    assert bytes(data[off[6] : off[7]]).decode() == "tcp"  # entry = protocol number
    assert pool.longest() == max(map(len, texts))
