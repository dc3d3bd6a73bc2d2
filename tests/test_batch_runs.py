"""Batch reports on the lab's sample captures: index, bad captures, resume, processes and Dask."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapflow.batch import (
    STATE_FILE,
    Job,
    Outcome,
    expand_inputs,
    plan_jobs,
    read_manifest,
    run_batch,
    summary_csv,
)
from pcapflow.cli import main
from pcapflow.lbconfig import load
from pcapflow.model.result import Label

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_captures" / "hairpin-two-backends"
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"sample captures missing: {SAMPLE}")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder with two real captures and one that is not a capture at all."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE / "web01-eth0.pcap", folder / "web01-eth0.pcap")
    shutil.copy(SAMPLE / "client-eth0.pcap", folder / "client-eth0.pcap")
    (folder / "broken.pcap").write_bytes(b"this is not a capture file\n" * 4)
    (folder / "notes.txt").write_text("not a capture name: ignored")
    return folder


def config():  # type: ignore[no-untyped-def]
    return load([str(SAMPLE / "lb.yaml")])


def jobs_in(folder: Path) -> list[Job]:
    return plan_jobs(expand_inputs([str(folder)]))


def test_folder_gives_one_job_per_capture_file(inputs: Path) -> None:
    assert [j.name for j in jobs_in(inputs)] == ["broken", "client-eth0", "web01-eth0"]


def test_bad_capture_is_reported_in_the_index_and_does_not_stop_the_batch(
    inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = run_batch(jobs_in(inputs), out, config=config(), formats=("html", "json"), workers=1)
    by_name = {o.name: o for o in done.outcomes}
    assert by_name["web01-eth0"].verdict == "hairpin failure"
    assert by_name["client-eth0"].verdict == "healthy"
    assert by_name["broken"].verdict is None and "broken.pcap" in (by_name["broken"].error or "")
    summary = json.loads((out / "summary.json").read_text())
    assert [r["name"] for r in summary["reports"]] == ["broken", "client-eth0", "web01-eth0"]
    assert summary["reports"][2]["counts"]["hairpin_self"] == 8
    index = (out / "index.html").read_text()
    assert 'href="web01-eth0.html"' in index and "broken.pcap" in index
    assert (out / "web01-eth0.html").read_text().count('<svg class="ladder"') >= 2
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("name,captures,verdict,findings,ok,")
    assert len(csv_lines) == 4
    # counts by kind: the label columns are the calls to a frontend, other kinds after them
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO("\n".join(csv_lines)))}
    by_kind = json.loads((out / "web01-eth0.json").read_text())["summary"]["by_kind"]
    web01 = rows["web01-eth0"]
    for label in Label:
        assert int(web01[label.value]) == by_kind["frontend_call"].get(label.value, 0)
    for kind in ("member_leg", "health_probe", "direct_call", "other"):
        assert int(web01[kind]) == sum(by_kind.get(kind, {}).values())
    assert int(web01["health_probe"]) > 0 and int(web01["health_probe_failed"]) == 0
    assert summary["reports"][2]["by_kind"]["frontend_call"]["hairpin_self"] == 8


def test_rerun_skips_up_to_date_reports_and_retries_errors(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_batch(jobs_in(inputs), out, config=config(), workers=1)
    assert first.ran == ("broken", "client-eth0", "web01-eth0") and first.skipped == ()
    index = (out / "index.html").read_bytes()
    again = run_batch(jobs_in(inputs), out, config=config(), workers=1)
    assert again.skipped == ("client-eth0", "web01-eth0") and again.ran == ("broken",)
    assert (out / "index.html").read_bytes() == index
    shutil.copy(SAMPLE / "web02-eth0.pcap", inputs / "client-eth0.pcap")  # new content
    changed = run_batch(jobs_in(inputs), out, config=config(), workers=1)
    assert changed.ran == ("broken", "client-eth0")


def test_a_different_config_format_or_os_makes_reports_stale(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch(jobs_in(inputs), out, config=config(), workers=1)
    assert run_batch(jobs_in(inputs), out, config=None, workers=1).skipped == ()
    assert run_batch(jobs_in(inputs), out, config=None, formats=("json",), workers=1).skipped == ()
    windows = run_batch(jobs_in(inputs), out, formats=("json",), guest_os="windows", workers=1)
    assert windows.skipped == ()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_batch_resumes_where_it_stopped(
    inputs: Path, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "out"
    jobs = [j for j in jobs_in(inputs) if j.name != "broken"]

    def stop_after_first(outcome: Outcome, skipped: bool) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, out, config=config(), workers=workers, progress=stop_after_first)
    state = json.loads((out / STATE_FILE).read_text())
    assert len(state["jobs"]) == 1
    (done,) = state["jobs"]
    resumed = run_batch(jobs, out, config=config(), workers=workers)
    assert resumed.skipped == (done,) and len(resumed.ran) == 1 and done not in resumed.ran


def test_process_pool_gives_the_same_reports(inputs: Path, tmp_path: Path) -> None:
    jobs = jobs_in(inputs)
    run_batch(jobs, tmp_path / "serial", config=config(), workers=1)
    pooled = run_batch(jobs, tmp_path / "pool", config=config(), workers=2)
    assert pooled.errors == 1 and pooled.failing == 1
    for name in ("index.html", "summary.json", "web01-eth0.html", "client-eth0.html"):
        assert (tmp_path / "pool" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()


def test_dask_local_cluster_runs_the_same_batch(inputs: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    run_batch(jobs_in(inputs), tmp_path / "local", config=config(), workers=1)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        done = run_batch(
            jobs_in(inputs), tmp_path / "dask", config=config(), scheduler=cluster.scheduler_address
        )
    assert done.ran == ("broken", "client-eth0", "web01-eth0")
    for name in ("summary.json", "web01-eth0.html"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_manifest_groups_an_incident_into_one_report(inputs: Path, tmp_path: Path) -> None:
    manifest = inputs / "incidents.csv"
    manifest.write_text("incident,file\nINC-42,web01-eth0.pcap\nINC-42,client-eth0.pcap\n")
    groups = read_manifest(str(manifest))
    assert groups == {"INC-42": [str(inputs / "web01-eth0.pcap"), str(inputs / "client-eth0.pcap")]}
    jobs = plan_jobs(expand_inputs([str(inputs)]), groups)
    assert [(j.name, len(j.captures)) for j in jobs] == [("INC-42", 2), ("broken", 1)]


def test_yaml_manifest_and_bad_manifest(tmp_path: Path) -> None:
    good = tmp_path / "m.yaml"
    good.write_text("INC-7:\n  - a.pcap\n  - /abs/b.pcap\n")
    assert read_manifest(str(good)) == {"INC-7": [str(tmp_path / "a.pcap"), "/abs/b.pcap"]}
    bad = tmp_path / "m.csv"
    bad.write_text("name,path\nx,y\n")
    from pcapflow.errors import InputError

    with pytest.raises(InputError, match="incident,file"):
        read_manifest(str(bad))


def test_same_file_names_in_two_folders_get_distinct_report_names() -> None:
    jobs = plan_jobs(["a/x/web01.pcap", "b/x/web01.pcap", "c/web02.pcapng"])
    assert [j.name for j in jobs] == ["a_x_web01.pcap", "b_x_web01.pcap", "web02"]


def test_cli_report_writes_index_and_exits_1_when_a_capture_is_bad(
    inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cli"
    args = [
        "report",
        str(inputs / "*.pcap"),
        "--lb",
        str(SAMPLE / "lb.yaml"),
        "--out",
        str(out),
        "-j",
        "1",
        "--format",
        "html",
        "--format",
        "markdown",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "[3/3]" in result.output and "could not be analysed" in result.output
    assert (out / "web01-eth0.md").exists() and (out / "index.html").exists()
    (inputs / "broken.pcap").unlink()
    rerun = CliRunner().invoke(main, args)
    assert rerun.exit_code == 3  # failures found, no errors left
    assert "2 up to date" in rerun.output


def test_cli_report_without_inputs_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "give capture files" in result.output


def test_cli_report_runs_on_a_dask_scheduler(inputs: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    (inputs / "broken.pcap").unlink()
    out = tmp_path / "dask-cli"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        args = ["report", str(inputs), "--lb", str(SAMPLE / "lb.yaml"), "--out", str(out),
                "--scheduler", cluster.scheduler_address, "--format", "json"]  # fmt: skip
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["name"], r["verdict"]) for r in summary["reports"]] == [
        ("client-eth0", "healthy"),
        ("web01-eth0", "hairpin failure"),
    ]


def test_a_capture_read_in_part_shows_its_warning_in_the_index(tmp_path: Path) -> None:
    import struct

    folder = tmp_path / "in"
    folder.mkdir()
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 0xFFFFFFF0) + bytes(64)
    (folder / "huge.pcap").write_bytes(header + record)
    shutil.copy(SAMPLE / "client-eth0.pcap", folder / "client-eth0.pcap")
    out = tmp_path / "out"
    done = run_batch(jobs_in(folder), out, workers=1)
    huge = next(o for o in done.outcomes if o.name == "huge")
    assert huge.verdict == "no traffic" and huge.error is None
    assert huge.warnings and "impossible length" in huge.warnings[0]
    rows = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["reports"]}
    assert rows["huge"]["warnings"] == list(huge.warnings) and rows["client-eth0"]["warnings"] == []
    index = (out / "index.html").read_text()
    assert "warning: " + huge.warnings[0] in index
    assert '<div class="k">no traffic</div><div class="v">1</div>' in index
    assert "impossible length" in (out / "summary.csv").read_text()
    rerun = run_batch(jobs_in(folder), out, workers=1)
    assert rerun.skipped == ("client-eth0", "huge")
    assert next(o for o in rerun.outcomes if o.name == "huge").warnings == huge.warnings


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_batch_shows_a_progress_bar_on_a_terminal_and_log_lines_otherwise(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pcapflow.cli.report as report_cli
    from pcapflow.batch import Settings

    (inputs / "broken.pcap").unlink()
    jobs = plan_jobs(expand_inputs([str(inputs)]))
    settings = Settings(config=load([str(SAMPLE / "lb.yaml")]), formats=("json",))
    terminal, pipe = _Terminal(), io.StringIO()
    monkeypatch.setattr(report_cli.sys, "stderr", terminal)
    report_cli._run(jobs, tmp_path / "tty", settings, 1, None)
    monkeypatch.setattr(report_cli.sys, "stderr", pipe)
    report_cli._run(jobs, tmp_path / "pipe", settings, 1, None)
    assert "analysing" in terminal.getvalue() and "[1/" not in terminal.getvalue()
    assert "[1/2]" in pipe.getvalue() and "[2/2]" in pipe.getvalue()
    assert "analysing" not in pipe.getvalue()


def test_summary_csv_counts_frontend_calls_first_then_each_other_kind() -> None:
    by_kind = {"frontend_call": {"ok": 3, "hairpin_self": 1}, "health_probe": {"ok": 2},
               "direct_call": {"refused": 1, "ok": 4}}  # fmt: skip
    made = Outcome("a", ("a.pcap",), "hairpin failure", {"ok": 9}, 2, by_kind=by_kind)
    old = Outcome("b", ("b.pcap",), "healthy", {"ok": 4}, 0)  # made before counts by kind
    rows = list(csv.DictReader(io.StringIO(summary_csv([made, old]))))
    assert (rows[0]["ok"], rows[0]["hairpin_self"]) == ("3", "1")
    assert (rows[0]["health_probe"], rows[0]["health_probe_failed"]) == ("2", "0")
    assert (rows[0]["direct_call"], rows[0]["direct_call_failed"]) == ("5", "1")
    assert (rows[0]["member_leg"], rows[0]["other"]) == ("0", "0")
    assert rows[1]["ok"] == "4" and rows[1]["health_probe"] == "0"
