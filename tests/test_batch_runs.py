"""Batch reports on the lab's sample captures: index, bad captures, resume, processes and Dask."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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


# ---- a real `dask scheduler` and `dask worker`, started in another folder ------------------------

START_TIMEOUT_S = 120  # bounds the wait for the cluster to come up (not an assertion on speed)
STOP_TIMEOUT_S = 30


def _wait_for(ready: Callable[[], bool], procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            pytest.fail(f"dask cluster did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def _address(scheduler_file: Path) -> str | None:
    """The address the scheduler wrote, once the file is complete."""
    try:
        return str(json.loads(scheduler_file.read_text())["address"])
    except (OSError, ValueError, KeyError):
        return None


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop the processes this test started (each leads its own session), newest first."""
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def dask_cluster(folder: Path, worker_prefix: Sequence[str] = ()) -> Iterator[str]:
    """`dask scheduler` + one `dask worker`, both run in ``folder`` (not the client's folder) on
    127.0.0.1; yields the scheduler address; always torn down."""
    distributed = pytest.importorskip("distributed")
    folder.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    scheduler_file, log = folder / "scheduler.json", folder / "cluster.log"
    dask = [sys.executable, "-m", "dask"]
    procs: list[subprocess.Popen[bytes]] = []
    with log.open("wb") as sink:
        start = {"cwd": folder, "env": env, "stdout": sink, "stderr": subprocess.STDOUT,
                 "start_new_session": True}  # fmt: skip
        try:
            procs.append(subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(scheduler_file), "--idle-timeout", "900s"], **start,
            ))  # fmt: skip
            _wait_for(lambda: _address(scheduler_file) is not None, procs, log)
            address = str(_address(scheduler_file))
            assert address.startswith("tcp://127.0.0.1:")
            procs.append(subprocess.Popen(
                [*worker_prefix, *dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                 "--local-directory", str(folder / "work"), "--death-timeout", "60"], **start,
            ))  # fmt: skip
            with distributed.Client(address, timeout="30s", set_as_default=False) as client:
                _wait_for(lambda: len(client.scheduler_info()["workers"]) >= 1, procs, log)
            yield address
        finally:
            _stop(procs)


@pytest.fixture
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the user types the command: two sites' `web01-eth0.pcap` and the config, all named
    by relative paths."""
    folder = tmp_path / "user"
    for site, source in (("siteA", "web01-eth0.pcap"), ("siteB", "web02-eth0.pcap")):
        (folder / "captures" / site).mkdir(parents=True)
        shutil.copy(SAMPLE / source, folder / "captures" / site / "web01-eth0.pcap")
    shutil.copy(SAMPLE / "lb.yaml", folder / "lb.yaml")
    monkeypatch.chdir(folder)
    return folder


USER_ARGS = ["report", "captures/*/web01-eth0.pcap", "--lb", "lb.yaml", "--format", "json"]


@pytest.mark.timeout(300)  # the whole test, cluster start and stop included
def test_cli_report_with_relative_paths_on_a_cluster_started_elsewhere(
    user_folder: Path, tmp_path: Path
) -> None:
    with dask_cluster(tmp_path / "cluster") as address:
        result = CliRunner().invoke(main, [*USER_ARGS, "--out", "out", "--scheduler", address])
    assert result.exit_code == 3, result.output  # analysed, and the hairpins found
    rows = json.loads((user_folder / "out" / "summary.json").read_text())["reports"]
    assert [(r["name"], r["captures"], r["error"]) for r in rows] == [
        ("siteA_web01-eth0.pcap", ["captures/siteA/web01-eth0.pcap"], None),
        ("siteB_web01-eth0.pcap", ["captures/siteB/web01-eth0.pcap"], None),
    ]
    assert rows[0]["verdict"] == "hairpin failure" and rows[1]["verdict"]
    # the reports name the captures as typed, exactly as a local run does
    local = CliRunner().invoke(main, [*USER_ARGS, "--out", "local", "-j", "1"])
    assert local.exit_code == 3
    for row in rows:
        (name,) = row["reports"]
        assert (user_folder / "out" / name).read_bytes() == (
            user_folder / "local" / name
        ).read_bytes()


def _can_unshare_mounts() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare_mounts(), reason="needs mount namespaces (root)")
@pytest.mark.timeout(300)  # the whole test, cluster start and stop included
def test_a_worker_without_the_shared_filesystem_fails_each_capture_in_one_line(
    user_folder: Path, tmp_path: Path
) -> None:
    """The worker gets its own mount namespace with an empty tmpfs over `captures/`: siteA's path
    holds another file there, siteB's nothing."""
    captures = user_folder / "captures"
    other = tmp_path / "other.pcap"
    shutil.copy(SAMPLE / "client-eth0.pcap", other)
    own_view = (
        'mount -t tmpfs pcapflow-test "$1" && mkdir "$1/siteA"'
        ' && cp "$2" "$1/siteA/web01-eth0.pcap" && shift 2 && exec "$@"'
    )
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", own_view, "sh",
              str(captures), str(other)]  # fmt: skip
    with dask_cluster(tmp_path / "cluster", prefix) as address:
        result = CliRunner().invoke(main, [*USER_ARGS, "--out", "out", "--scheduler", address])
    assert result.exit_code == 1, result.output  # captures that could not be analysed
    rows = json.loads((user_folder / "out" / "summary.json").read_text())["reports"]
    errors = {r["name"]: r["error"] for r in rows}
    assert (
        errors["siteA_web01-eth0.pcap"].startswith("captures/siteA/web01-eth0.pcap: Dask worker ")
        and "has another file at that path" in errors["siteA_web01-eth0.pcap"]
    )
    assert errors["siteB_web01-eth0.pcap"].startswith("captures/siteB/web01-eth0.pcap: not on Dask")
    for error in errors.values():
        assert "the cluster needs a shared filesystem" in error and "\n" not in error
        assert str(captures) in error  # the absolute path the worker looked for
    index = (user_folder / "out" / "index.html").read_text()
    assert index.count("the cluster needs a shared filesystem") >= 2
    assert all(r["verdict"] is None and r["reports"] == [] for r in rows)


def test_worker_problem_finds_missing_and_other_files(tmp_path: Path) -> None:
    from pcapflow.batch import Settings, file_sha256, task_for, worker_problem

    capture = tmp_path / "web01-eth0.pcap"
    shutil.copy(SAMPLE / "web01-eth0.pcap", capture)
    job = Job("web01-eth0", (str(capture),))
    task = task_for(job, Settings(), [file_sha256(str(capture))])
    assert worker_problem(task) is None
    capture.write_bytes(capture.read_bytes()[:-1])  # same path, other content
    problem = worker_problem(task)
    assert problem is not None and "has another file at that path" in problem
    capture.unlink()
    problem = worker_problem(task)
    assert problem is not None and ": not on Dask worker " in problem
    assert "the cluster needs a shared filesystem" in problem


def test_tasks_carry_absolute_paths_and_reports_name_captures_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pcapflow.batch import Settings, run_job, task_for

    (tmp_path / "caps").mkdir()
    shutil.copy(SAMPLE / "web01-eth0.pcap", tmp_path / "caps" / "web01-eth0.pcap")
    monkeypatch.chdir(tmp_path)
    job = Job("web01-eth0", ("caps/web01-eth0.pcap",))
    assert task_for(job, Settings()).paths == (str(tmp_path / "caps" / "web01-eth0.pcap"),)
    done = run_job(job, Settings(config=config(), formats=("json",)))
    assert done.outcome.error is None and done.outcome.captures == ("caps/web01-eth0.pcap",)
    report = json.loads(done.rendered["web01-eth0.json"])
    assert [c["path"] for c in report["captures"]] == ["caps/web01-eth0.pcap"]
    assert {f["capture"] for f in report["flows"]} == {"caps/web01-eth0.pcap"}
    evidence = {e["file"] for f in report["findings"] for e in f["evidence"]}
    assert evidence == {"caps/web01-eth0.pcap"}
    missing = run_job(Job("gone", ("caps/gone.pcap",)), Settings())
    assert missing.outcome.error == "caps/gone.pcap: no such capture file"


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
