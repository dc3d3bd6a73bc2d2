"""The JSON of background rows, written from the table's columns (kernels, pooled names), is
exactly the plain ``json.dumps(flow_dict(result), indent=2)`` of each flow's result object."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_flows_tablecsv import flow_blocks

from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.records import _AddrCache
from pcapflow.flows.table import KINDS, Background, FlowTable, background_json_rows
from pcapflow.report.serialize import flow_dict

IFACES = st.sampled_from([0, 1, 2, 5, 0b1011, 1 << 62])  # none, one, several interfaces


def plain_rows(b: Background, start: int, stop: int) -> str:
    """The flow objects' JSON, nested two levels deep, joined by ``,\\n``."""
    pad = "    "
    rows = []
    for result in b.results(start, stop, _AddrCache()):
        text = json.dumps(flow_dict(result), indent=2, ensure_ascii=False, allow_nan=False)
        rows.append(pad + text.replace("\n", "\n" + pad))
    return ",\n".join(rows)


@st.composite
def backgrounds(draw: Any) -> Background:
    """A background table of random flows (IPv4 and IPv6, TCP with and without a SYN, UDP and
    others, unset fields, one or several interfaces), of one capture file or of several."""
    blocks = draw(flow_blocks())
    one_file = draw(st.booleans())
    file_idx = draw(st.integers(0, 12))
    made = []
    for block in blocks:
        n = len(block)
        cols = dict(block.cols)
        cols["ifaces"] = np.array([draw(IFACES) for _ in range(n)], dtype=np.int64)
        cols["syn_opts_hash"] = cols["npkts"] = np.zeros(n, dtype=np.int64)
        if one_file:
            cols["file_idx"] = np.full(n, file_idx, dtype=np.int64)
        made.append(FlowBlock(cols=cols, history=block.history))
    table = FlowTable.of_blocks(made)
    n = len(table)
    kinds = np.array([draw(st.integers(0, len(KINDS) - 1)) for _ in range(n)], dtype=np.int8)
    opened = np.array([draw(st.booleans()) for _ in range(n)], dtype=np.bool_)
    capture = draw(st.sampled_from(["web01-eth0", 'a "quoted" capture', "café\u2028"]))
    reasons = (draw(st.sampled_from(["answered", "ok: é"])), "no SYN seen")
    return Background(table, capture, "frontend", reasons, kinds, opened)


@settings(max_examples=120, deadline=None)
@given(backgrounds(), st.data())
def test_background_rows_equal_the_plain_json_of_their_results(
    b: Background, data: st.DataObject
) -> None:
    n = len(b.table)
    start = data.draw(st.integers(0, n))
    stop = data.draw(st.integers(start, n))
    assert background_json_rows(b, start, stop, depth=2) == plain_rows(b, start, stop)


def test_a_table_of_one_flow_per_address_family_and_protocol() -> None:
    """A fixed case the random ones surely cover too: IPv4 TCP with a SYN, IPv6 UDP."""
    from test_flows_tablecsv import FLOW_COLUMNS

    cols = {name: np.zeros(2, dtype=np.int64) for name in FLOW_COLUMNS}
    cols.update(
        ver=np.array([4, 6]), proto=np.array([6, 17]), isn=np.array([7, -1]),
        resp_isn=np.array([-1, -1]), syn_tsval=np.array([-1, -1]),
        start_ns=np.array([1_700_000_000_123_456_000, 1_700_000_000_5]),
        last_ns=np.array([1_700_000_001_000_000_000, 1_700_000_000_5]),
        lastpkt_ns=np.array([1_700_000_000_900_000_000, 1_700_000_000_5]),
        ifaces=np.array([1, 3]), syn_opts_hash=np.zeros(2), npkts=np.zeros(2),
    )  # fmt: skip
    for side in ("orig", "resp"):
        cols[f"{side}_hi"] = np.array([0, 0x20010DB8 << 32], dtype=np.uint64)
        cols[f"{side}_lo"] = np.array([0x0A000001, 1], dtype=np.uint64)
    table = FlowTable.of_blocks([FlowBlock(cols=cols, history=["ShAdDaFf", "Dd"])])
    b = Background(table, "c", "frontend", ("answered", "no SYN"), np.zeros(2, np.int8),
                   np.array([True, False]))  # fmt: skip
    text = background_json_rows(b, 0, 2, depth=2)
    assert text == plain_rows(b, 0, 2)
    assert '"orig_h": "10.0.0.1"' in text and '"orig_h": "2001:db8::1"' in text
    assert replace(b, capture="d") != b
