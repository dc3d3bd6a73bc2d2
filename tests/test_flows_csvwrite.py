"""The fast CSV writer of flow frames writes exactly what ``DataFrame.to_csv`` writes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.flows.csvwrite import float_cells, frame_csv

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
INTS = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


def reference(frame: pd.DataFrame) -> str:
    return str(frame.to_csv(index=False, lineterminator="\n"))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(INTS, st.one_of(st.none(), INTS), FLOATS, TEXT),
        min_size=1,
        max_size=12,
    )
)
def test_matches_pandas_on_any_int_float_and_text_cells(
    rows: list[tuple[int, int | None, float, str]],
) -> None:
    frame = pd.DataFrame(
        {
            "n": pd.Series([r[0] for r in rows], dtype="int64"),
            "id.maybe": pd.Series([r[1] for r in rows], dtype="Int64"),
            "ts": pd.Series([r[2] for r in rows], dtype="float64"),
            "history": pd.Series([r[3] for r in rows], dtype="object"),
        }
    )
    assert frame_csv(frame) == reference(frame)


def test_flow_like_frame_is_written_by_the_kernel_and_equals_pandas() -> None:
    frame = pd.DataFrame(
        {
            "ts": [1764312345.123456, 1764312345.5, 0.1 + 0.2],
            "uid": ["CabcdefghijklmnopQ", "C0123456789ABCDEFG", "Czzzzzzzzzzzzzzzzz"],
            "id.orig_h": ["10.2.1.4", "fe80::1", "2001:db8::ff"],
            "id.orig_p": np.array([40001, 0, 65535], dtype=np.int64),
            "history": ["ShADadFf", "", "^h"],
            "isn": pd.array([123, None, 0], dtype="Int64"),
            "duration": [0.0, 1e-05, math.inf],
        }
    )
    assert frame_csv(frame) == reference(frame)
    assert frame_csv(frame).splitlines()[2] == "1764312345.5,C0123456789ABCDEFG,fe80::1,0,,,1e-05"


def test_text_that_needs_quotes_and_empty_frames_go_to_pandas() -> None:
    quoted = pd.DataFrame({"a": ["x,y", 'say "hi"', "two\nlines"], "b": [1, 2, 3]})
    assert frame_csv(quoted) == reference(quoted)
    assert '"x,y"' in frame_csv(quoted)
    empty = pd.DataFrame({"a": pd.Series(dtype="int64"), "b": pd.Series(dtype="object")})
    assert frame_csv(empty) == reference(empty) == "a,b\n"
    mixed = pd.DataFrame({"a": ["x", 3, None], "b": [1, 2, 3]})
    assert frame_csv(mixed) == reference(mixed)
    single = pd.DataFrame({"a": pd.array([None, 1], dtype="Int64")})
    assert frame_csv(single) == reference(single) == 'a\n""\n1\n'
    unnamed = pd.DataFrame({0: [1], "x,y": [2]})
    assert frame_csv(unnamed) == reference(unnamed)


def test_columns_without_pandas_write_what_the_frame_writes() -> None:
    from pcapflow.flows.csvwrite import columns_csv

    columns = {
        "ts": np.array([1.5, 0.25]),
        "uid": np.array(["Ca", "Cb"], dtype=object),
        "host": ["10.0.0.1", "fe80::1"],
        "port": np.array([80, 65535], dtype=np.uint16),
        "isn": (np.array([7, 0]), np.array([False, True])),
    }
    frame = pd.DataFrame(
        {
            "ts": [1.5, 0.25],
            "uid": ["Ca", "Cb"],
            "host": ["10.0.0.1", "fe80::1"],
            "port": [80, 65535],
            "isn": pd.array([7, None], dtype="Int64"),
        }
    )
    assert columns_csv(columns) == reference(frame)
    assert columns_csv({**columns, "host": ["a,b", "c"]}) is None  # quoting: pandas decides
    assert columns_csv({"only": [""]}) is None
    lowest = pd.DataFrame({"a": np.array([-(2**63), 5], dtype=np.int64), "b": ["x", "y"]})
    assert frame_csv(lowest) == reference(lowest)


def test_flows_cli_csv_of_one_capture_equals_the_frame_path(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main
    from pcapflow.flows import read_flows
    from pcapflow.flows.output import flows_csv

    capture = SAMPLES / "hairpin-two-backends" / "web01-eth0.pcap"
    if not capture.exists():
        pytest.skip("sample captures not available")
    result = CliRunner().invoke(main, ["flows", "--format", "csv", str(capture)])
    assert result.exit_code == 0
    assert result.output == flows_csv(read_flows(capture))
    assert result.output.count("\n") > 2


MICROS = st.integers(min_value=0, max_value=2**34 * 10**6)  # whole microseconds up to 2**34 s


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            MICROS.map(lambda u: u / 1e6),  # as a microsecond capture's times and durations
            MICROS.map(lambda u: (u * 1000) / 1e9),  # ns first, as the flow table computes them
            st.integers(0, 2**62).map(lambda n: n / 1e9),  # nanosecond captures
            FLOATS,
        ),
        min_size=1,
        max_size=40,
    )
)
def test_float_cells_are_repr_whatever_the_value(values: list[float]) -> None:
    data, off = float_cells(np.array(values, dtype=np.float64))
    cells = [data[a:b].decode() for a, b in itertools.pairwise(off.tolist())]
    assert cells == ["" if math.isnan(v) else repr(v) for v in values]


def test_float_cells_of_a_capture_clock() -> None:
    """Every microsecond of a day in 2026, and the durations of a second."""
    start = 1_795_851_535 * 10**6
    values = np.array(
        [(start + u) / 1e6 for u in range(0, 86_400 * 10**6, 7_777_777)]
        + [u / 1e6 for u in range(0, 10**6, 997)]
    )
    data, off = float_cells(values)
    cells = [data[a:b].decode() for a, b in itertools.pairwise(off.tolist())]
    assert cells == [repr(v) for v in values.tolist()]


def test_float_cells_of_zero_and_specials() -> None:
    values = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-4, 9.9e-5, 2.0**33, 5.0])
    data, off = float_cells(values)
    cells = [data[a:b].decode() for a, b in itertools.pairwise(off.tolist())]
    assert cells == ["0.0", "-0.0", "inf", "-inf", "", "0.0001", "9.9e-05", "8589934592.0", "5.0"]
