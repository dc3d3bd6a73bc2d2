"""``pcapflow flows``: formats, filter language, multiple captures, one-line errors."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.cli import main
from pcapflow.errors import InputError
from pcapflow.flows.filter import parse
from pcapflow.flows.zeeklog import CONN_FIELDS

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO.parent / "shared" / "corpus" / "zeek" / "Traces"
WIKIPEDIA = str(TRACES / "wikipedia.pcap")
GET = str(TRACES / "http" / "get.pcap")
pytestmark = pytest.mark.skipif(not Path(WIKIPEDIA).exists(), reason="Zeek corpus not available")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["flows", *args])
    return result.exit_code, result.stdout, result.stderr


def zeek_cut(log: str, *columns: str) -> list[list[str]]:
    """What ``zeek-cut COLUMNS`` prints: the columns named in #fields, comment lines dropped."""
    fields: list[str] = []
    out = []
    for line in log.splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            values = dict(zip(fields, line.split("\t"), strict=True))
            out.append([values[c] for c in columns])
    return out


def test_default_table_is_readable() -> None:
    code, out, _err = run(GET)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "UID"]
    assert "141.142.228.5:59856" in lines[1] and "192.150.187.43:80" in lines[1]
    assert " SF " in lines[1] and "ShADadFf" in lines[1] and "7/7" in lines[1]
    assert lines[-1] == "1 flow"


def test_zeek_format_is_a_conn_log_zeek_tools_read() -> None:
    code, out, _err = run("--format", "zeek", GET)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "#separator \\x09"
    assert lines[6] == "#fields\t" + "\t".join(CONN_FIELDS)
    assert lines[7].startswith("#types\ttime\tstring\taddr\tport")
    assert lines[-1].startswith("#close\t")
    row = zeek_cut(out, "id.orig_h", "id.resp_p", "duration", "orig_bytes", "history", "service")
    assert row == [["141.142.228.5", "80", "0.211484", "136", "ShADadFf", "-"]]
    assert lines[8].split("\t")[0] == "1362692526.869344"


def test_zeek_format_unsets_instant_connection_fields() -> None:
    _code, out, _err = run("--format", "zeek", WIKIPEDIA)
    rows = zeek_cut(out, "duration", "orig_bytes", "resp_bytes", "proto")
    instant = [r for r in rows if r[0] == "-"]
    assert instant and all(r[1] == r[2] == "-" for r in instant)


def test_zeek_format_reads_with_zat_when_installed(tmp_path: Path) -> None:
    log_to_dataframe = pytest.importorskip("zat.log_to_dataframe")
    _code, out, _err = run("--format", "zeek", WIKIPEDIA)
    path = tmp_path / "conn.log"
    path.write_text(out)
    frame = log_to_dataframe.LogToDataFrame().create_dataframe(str(path))
    assert len(frame) == 34 and "history" in frame.columns


def test_csv_and_json_carry_zeek_names_and_additions() -> None:
    _code, out, _err = run("--format", "csv", WIKIPEDIA)
    frame = pd.read_csv(io.StringIO(out))
    assert len(frame) == 34
    assert {"id.orig_h", "conn_state", "history", "isn", "first_frame"} <= set(frame.columns)
    _code, out, _err = run("--format", "json", WIKIPEDIA)
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 34 and records[0]["uid"] == frame["uid"][0]
    assert any(r["isn"] is None for r in records)  # UDP flows: no ISN -> null


def _port(f: pd.DataFrame, p: int) -> pd.Series:
    return f["proto"].isin(["tcp", "udp"]) & ((f["id.orig_p"] == p) | (f["id.resp_p"] == p))


def _host(f: pd.DataFrame, h: str) -> pd.Series:
    return (f["id.orig_h"] == h) | (f["id.resp_h"] == h)


FILTER_CASES: list[tuple[str, Callable[[pd.DataFrame], pd.Series]]] = [
    ("udp", lambda f: f["proto"] == "udp"),
    ("not udp", lambda f: f["proto"] != "udp"),
    ("udp and not port 53", lambda f: (f["proto"] == "udp") & ~_port(f, 53)),
    ("host 141.142.220.118 and port 80", lambda f: _host(f, "141.142.220.118") & _port(f, 80)),
    (
        "net 141.142.220.0/24 && (port 80 || port 53)",
        lambda f: (
            (
                f["id.orig_h"].str.startswith("141.142.220.")
                | f["id.resp_h"].str.startswith("141.142.220.")
            )
            & (_port(f, 80) | _port(f, 53))
        ),
    ),
    ("conn_state S0", lambda f: f["conn_state"] == "S0"),
    (
        "src port 5353 or dst port 137",
        lambda f: (f["id.orig_p"] == 5353) | (f["id.resp_p"] == 137),
    ),
    (
        "tcp history ^",
        lambda f: (f["proto"] == "tcp") & f["history"].str.contains("^", regex=False),
    ),
]


@pytest.mark.parametrize(("expr", "predicate"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_filter_selects_flows(expr: str, predicate: Callable[[pd.DataFrame], pd.Series]) -> None:
    _code, out, _err = run("--format", "csv", WIKIPEDIA)
    everything = pd.read_csv(io.StringIO(out), keep_default_na=False)
    code, out, _err = run("--format", "csv", "--filter", expr, WIKIPEDIA)
    assert code == 0
    chosen = pd.read_csv(io.StringIO(out), keep_default_na=False)
    expected = everything[predicate(everything)]
    assert chosen["uid"].tolist() == expected["uid"].tolist()
    assert 0 < len(chosen) < len(everything)


@pytest.mark.parametrize(
    "expr",
    ["host", "port 99999", "host 10.1", "conn_state XX", "(tcp", "tcp )", "bogus 1", "net x/8", ""],
)
def test_bad_filter_is_one_line_error_exit_2(expr: str) -> None:
    code, out, err = run("--filter", expr, GET)
    assert code == 2 and out == ""
    assert err.startswith("pcapflow: error: bad filter") and err.count("\n") == 1


def test_bad_capture_is_one_line_error_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"\x00" * 64)
    code, _out, err = run(str(junk))
    assert code == 2 and err.startswith("pcapflow: error: ") and err.count("\n") == 1
    code, _out, err = run(str(tmp_path / "missing.pcap"))
    assert code == 2 and err.count("\n") == 1


def test_several_captures_are_numbered_and_merged_in_time_order() -> None:
    code, out, _err = run("--format", "csv", WIKIPEDIA, GET)
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert sorted(frame["file_idx"].unique().tolist()) == [0, 1]
    assert frame["ts"].is_monotonic_increasing and len(frame) == 35


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="()!&| abcdefhilnoprstu0123456789./:SR_", max_size=40))
def test_filter_parser_fails_only_with_input_error(text: str) -> None:
    try:
        parse(text)
    except InputError as exc:
        assert "\n" not in str(exc)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_engine_gives_the_same_flows() -> None:
    _code, fast, _err = run("--format", "csv", WIKIPEDIA)
    code, slow, _err = run("--format", "csv", "--engine", "tshark", WIKIPEDIA)
    assert code == 0 and slow == fast


def test_reader_warnings_go_to_stderr(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    data = Path(GET).read_bytes()
    cut.write_bytes(data[: len(data) - 7])  # the last record ends early
    result = CliRunner().invoke(main, ["flows", "--format", "csv", str(cut)])
    assert result.exit_code == 0
    assert "pcapflow: warning: " in result.stderr and str(cut) in result.stderr
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 1


def test_standard_input_is_read_with_dash() -> None:
    result = CliRunner().invoke(
        main, ["flows", "--format", "csv", "-"], input=Path(GET).read_bytes()
    )
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert frame["history"].tolist() == ["ShADadFf"]


SYN_BAD = str(TRACES / "tcp" / "syn-bad.pcap")  # one SYN with a corrupt checksum
LOCALHOST = str(TRACES / "chksums" / "localhost-bad-chksum.pcap")  # offloaded checksums
ANONYMISED = str(TRACES / "ldap" / "simpleauth.pcap")  # every checksum wrong (rewritten)


@pytest.mark.parametrize(
    ("args", "history"),
    [((), "C"), (("--validate-checksums",), "C"), (("-C",), "S"), (("--ignore-checksums",), "S")],
)
def test_a_wrong_checksum_keeps_the_packet_out_unless_ignored(
    args: tuple[str, ...], history: str
) -> None:
    code, out, _err = run("--format", "csv", *args, SYN_BAD)
    assert code == 0
    assert next(csv_rows(out))["history"] == history


@pytest.mark.parametrize(("args", "flows"), [((), 1), (("--validate-checksums",), 2)])
def test_checksums_left_for_offload_count_unless_validated(
    args: tuple[str, ...], flows: int
) -> None:
    code, out, err = run("--format", "csv", *args, LOCALHOST)
    assert code == 0 and len(list(csv_rows(out))) == flows
    assert ("-C (--ignore-checksums)" in err) == bool(args)  # most were left out: the hint


def test_hint_when_most_checksums_are_wrong() -> None:
    code, out, err = run("--format", "csv", ANONYMISED)
    assert code == 0 and "transport checksums are wrong" in err and "-C" in err
    code, out, err = run("--format", "csv", "-C", ANONYMISED)
    assert code == 0 and "checksums" not in err
    assert [r["history"] for r in csv_rows(out)] == ["ShADdR"]


def csv_rows(text: str) -> Iterator[dict[str, str]]:
    import csv

    return iter(csv.DictReader(io.StringIO(text)))
