"""Property tests for the batch runner's parsers and naming (hypothesis)."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcapflow.batch import plan_jobs, read_manifest, safe_name
from pcapflow.errors import InputError
from pcapflow.report.markdown import cell

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                max_size=30).filter(lambda s: s.strip() == s and s.strip())  # fmt: skip
files = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\.pcap", fullmatch=True)


@given(st.lists(st.tuples(names, files), min_size=1, max_size=12))
def test_csv_manifest_round_trips(rows: list[tuple[str, str]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["incident", "file"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        path.write_text(text.getvalue(), encoding="utf-8")
        groups = read_manifest(str(path))
        expected: dict[str, list[str]] = {}
        for incident, file in rows:
            expected.setdefault(incident, []).append(str(Path(tmp) / file))
        assert groups == expected


@given(st.text(max_size=60))
def test_safe_name_is_a_plain_file_name(text: str) -> None:
    name = safe_name(text)
    assert name and re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith(".")


@given(st.lists(st.from_regex(r"[a-c]{1,2}/[a-c]{1,2}/[a-c]{1,3}\.pcap(ng)?", fullmatch=True),
                unique=True, max_size=10))  # fmt: skip
def test_report_names_are_unique_and_stable(paths: list[str]) -> None:
    jobs = plan_jobs(paths)
    assert len({j.name for j in jobs}) == len(paths)
    assert plan_jobs(list(reversed(paths))) == jobs


@given(st.text(max_size=80))
def test_markdown_cells_never_break_a_table_row(text: str) -> None:
    out = cell(text)
    assert len(out.splitlines()) <= 1
    assert "|" not in out.replace("\\|", "")


def test_a_worker_that_dies_becomes_that_jobs_error() -> None:
    from concurrent.futures.process import BrokenProcessPool

    from pcapflow.batch import Job, JobResult, _collect

    def died() -> JobResult:
        raise BrokenProcessPool("A child process terminated abruptly")

    done = _collect(died, Job("web01", ("web01.pcap",)))
    assert done.outcome.verdict is None and done.rendered == {}
    assert done.outcome.error == (
        "worker failed: BrokenProcessPool: A child process terminated abruptly"
    )


@given(st.text(max_size=500))
def test_errors_in_the_index_are_one_short_line(text: str) -> None:
    from pcapflow.batch import MAX_ERROR, one_line

    line = one_line(text)
    assert line and len(line) <= MAX_ERROR and len(line.splitlines()) == 1
    assert "\x1b[" not in line


def test_a_multiline_internal_error_keeps_its_first_line() -> None:
    from pcapflow.batch import one_line

    error = "internal error: TypingError: Failed\n\x1b[1mNo implementation\x1b[0m\n  more"
    assert one_line(error) == "internal error: TypingError: Failed"


HOSTILE_MANIFESTS = {
    "binary": ("m.yaml", bytes(range(256)) * 4, "not a text file"),
    "deep-yaml": ("m.yaml", b"INC: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    "bad-yaml": ("m.yaml", b"INC: [a\n  - b: c", "not valid YAML at line 2"),
    "huge-csv-field": ("m.csv", b'incident,file\nINC,"' + b"x" * 200_000 + b'"\n', "field limit"),
    "nul-in-file-name": ("m.csv", b"incident,file\nINC,web01\x00eth0.pcap\n", "NUL byte"),
    "header-only": ("m.csv", b"incident,file\n", "lists no capture"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_MANIFESTS))
def test_a_hostile_manifest_is_one_input_error_naming_it(kind: str, tmp_path: Path) -> None:
    name, content, message = HOSTILE_MANIFESTS[kind]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_manifest(str(path))
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_captures_that_cannot_be_hashed_are_refused_before_reading(tmp_path: Path) -> None:
    import os

    from pcapflow.batch import capture_problem

    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    assert capture_problem(str(fifo)) == f"{fifo}: not a regular file"
    assert capture_problem("/dev/zero") == "/dev/zero: not a regular file"
    assert (
        capture_problem(str(tmp_path / "nope.pcap"))
        == f"{tmp_path / 'nope.pcap'}: no such capture file"
    )
    assert capture_problem(str(tmp_path)) == f"{tmp_path}: not a regular file"
