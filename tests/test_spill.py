"""Background flow tables in a temporary file: the same rows, the same result, no file left."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pcapflow.errors import PcapflowError
from pcapflow.flows import spill as spill_mod
from pcapflow.flows.evidence import read_lean
from pcapflow.flows.spill import SpilledTable, spill
from pcapflow.flows.table import FlowTable
from pcapflow.lbconfig import load
from pcapflow.pipeline import analyze
from pcapflow.report.registry import render_chunks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_capture  # noqa: E402

SAMPLE = ROOT / "sample_captures" / "hairpin-two-backends"


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spill") / "mix.pcap"
    gen_capture.generate(path, 600, 5)  # resets, refusals, unanswered SYNs, DNS
    return path


def _same(a: FlowTable, b: FlowTable) -> None:
    assert list(a.cols) == list(b.cols)
    for k in a.cols:
        assert a.cols[k].dtype == b.cols[k].dtype, k
        assert np.array_equal(a.cols[k], b.cols[k]), k
    assert a.history.tolist() == b.history.tolist()
    assert a.uids.tolist() == b.uids.tolist()


def _check_reads(spilled: SpilledTable, kept: FlowTable) -> None:
    assert len(spilled) == len(kept)
    for k in kept.cols:
        assert np.array_equal(spilled.cols[k], kept.cols[k]), k
    _same(spilled.take(np.arange(len(kept), dtype=np.int64)), kept)
    some = np.array([0, 5, 2, len(kept) - 1], dtype=np.int64)
    _same(spilled.take(some), kept.take(some))
    run = np.arange(7, 40, dtype=np.int64)
    _same(spilled.take(run), kept.take(run))
    parts = list(spilled.chunks(100))
    assert [len(p) for p in parts[:-1]] == [100] * (len(parts) - 1)
    assert sum(map(len, parts)) == len(kept)
    _same(parts[1], kept.take(np.arange(100, 200, dtype=np.int64)))
    assert np.array_equal(spilled.ts, kept.ts) and np.array_equal(spilled.last_ts, kept.last_ts)
    assert np.array_equal(spilled.duration, kept.duration)
    every = np.arange(len(kept), dtype=np.int64)
    assert np.array_equal(spilled.established_at(every), kept.established())
    assert len(spilled.take(np.zeros(0, dtype=np.int64))) == 0


def test_pass_one_writes_a_large_table_to_a_file_with_the_same_rows(
    mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = read_lean(str(mix)).table
    assert isinstance(in_memory, FlowTable) and len(in_memory) > 500
    monkeypatch.setattr(spill_mod, "SPILL_ROWS", 100)  # a few blocks held, then written
    spilled = read_lean(str(mix)).table
    assert isinstance(spilled, SpilledTable)
    _check_reads(spilled, in_memory)


def test_the_background_rows_go_to_a_file_from_memory_or_from_a_file(
    mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = np.flatnonzero(np.arange(len(read_lean(str(mix)).table)) % 3 != 1)
    kept = read_lean(str(mix)).table
    assert isinstance(kept, FlowTable)
    kept = kept.shrink_to(rows)
    table = read_lean(str(mix)).table
    assert isinstance(table, FlowTable)
    monkeypatch.setattr(spill_mod, "SPILL_ROWS", 1)
    spilled = spill(table, rows)
    assert isinstance(spilled, SpilledTable)
    assert not table.cols  # the in-memory columns are released
    _check_reads(spilled, kept)
    from_file = read_lean(str(mix)).table
    assert isinstance(from_file, SpilledTable)
    again = spill(from_file, rows)
    assert isinstance(again, SpilledTable)
    _check_reads(again, kept)


def _json(path: Path) -> str:
    cfg = load([str(SAMPLE / "lb.yaml")])
    return "".join(render_chunks(analyze([path], cfg), "json"))


def test_the_analysis_is_the_same_with_the_background_in_a_file(
    mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = _json(mix)
    made: list[FlowTable | SpilledTable] = []
    real = spill_mod.spill

    def spy(table: FlowTable | SpilledTable, rows: np.ndarray) -> FlowTable | SpilledTable:
        assert isinstance(table, SpilledTable)  # pass 1 wrote it
        made.append(real(table, rows))
        return made[-1]

    monkeypatch.setattr(spill_mod, "SPILL_ROWS", 1)
    monkeypatch.setattr(spill_mod, "spill", spy)
    monkeypatch.setattr("pcapflow.flows.table.CHUNK", 97)  # runs cut inside the file too
    assert _json(mix) == in_memory
    assert isinstance(made[0], SpilledTable) and len(made[0]) > 97


def test_the_file_has_no_name_in_a_private_per_user_folder(
    mix: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(spill_mod.tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("PCAPFLOW_SERVE_DATA_DIR", raising=False)
    folder, fallback = spill_mod.spill_dirs()
    assert folder == str(tmp_path / f"pcapflow-{os.getuid()}" / "spill") and fallback is None
    monkeypatch.setattr(spill_mod, "SPILL_ROWS", 1)
    table = read_lean(str(mix)).table
    spilled = spill(table, np.arange(len(table), dtype=np.int64))
    assert isinstance(spilled, SpilledTable)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert os.listdir(folder) == []  # unlinked at creation: nothing to remove, even on a kill
    spilled.close()


def test_without_a_writable_folder_the_table_stays_in_memory(
    mix: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setattr(spill_mod.tempfile, "tempdir", str(blocked))
    monkeypatch.delenv("PCAPFLOW_SERVE_DATA_DIR", raising=False)
    assert spill_mod.spill_dirs() == (None,)
    monkeypatch.setattr(spill_mod, "SPILL_ROWS", 1)
    table = read_lean(str(mix)).table
    n = len(table)
    kept = spill(table, np.arange(n, dtype=np.int64))
    assert isinstance(kept, FlowTable) and len(kept) == n


def test_serve_workers_fall_back_on_the_data_dir(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    env = spill_mod.CacheEnv(None, None, None, str(tmp_path / "data"), str(blocked), os.getuid())
    assert spill_mod.spill_dirs(env) == (str(tmp_path / "data" / "tmp"), None)
    env = replace(env, temp_dir=str(tmp_path))
    private = str(tmp_path / f"pcapflow-{os.getuid()}" / "spill")
    assert spill_mod.spill_dirs(env) == (private, str(tmp_path / "data" / "tmp"), None)


class _FullDisk:
    """A temporary file on a full disk: every write fails (ENOSPC); closing is recorded."""

    def __init__(self) -> None:
        self.closed = False

    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_a_full_disk_keeps_the_background_rows_in_memory(
    mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spill() falls back on memory when the file cannot be written, from an in-memory table
    or from a spilled one; pass 1, whose blocks are gone once written, says so in one line."""
    rows = np.flatnonzero(np.arange(len(read_lean(str(mix)).table)) % 3 != 1)
    kept = read_lean(str(mix)).table
    in_memory = read_lean(str(mix)).table
    assert isinstance(kept, FlowTable) and isinstance(in_memory, FlowTable)
    kept = kept.shrink_to(rows)
    monkeypatch.setattr(spill_mod, "SPILL_ROWS", 1)
    from_file = read_lean(str(mix)).table  # written while the disk had room
    assert isinstance(from_file, SpilledTable)
    full = _FullDisk()
    monkeypatch.setattr(spill_mod, "_temporary_file", lambda: full)
    for source in (in_memory, from_file):
        full.closed = False
        again = spill(source, rows)
        assert isinstance(again, FlowTable) and full.closed
        _same(again, kept)
    with pytest.raises(PcapflowError, match=r"^temporary flow table: No space left on device"):
        read_lean(str(mix))
