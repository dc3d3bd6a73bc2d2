"""The checksum policy in batch reports: every analysis gets it (in-process, process pool, Dask),
the up-to-date key holds it, and a report names a policy other than the default."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pcapflow.batch import STATE_FILE, Job, Settings, run_batch, settings_fingerprint
from pcapflow.cli import main
from pcapflow.errors import InputError
from pcapflow.model.checksums import CHECKSUM_POLICIES, DEFAULT_POLICY

TRACES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "zeek" / "Traces"
SYN_BAD = TRACES / "tcp" / "syn-bad.pcap"  # one SYN whose TCP checksum is wrong (not offload)
LOCALHOST = TRACES / "chksums" / "localhost-bad-chksum.pcap"  # 6 of 10 left for offload
pytestmark = pytest.mark.skipif(not SYN_BAD.exists(), reason="Zeek corpus not available")


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SYN_BAD, folder / "syn-bad.pcap")
    shutil.copy(LOCALHOST, folder / "localhost.pcap")
    return folder


def report(folder: Path, out: Path, *options: str) -> tuple[int, str]:
    args = ["report", str(folder), "--out", str(out), "--format", "json", "-j", "1", *options]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def reports(out: Path) -> dict[str, dict[str, Any]]:
    """The JSON report of each job (not the index, not the state file)."""
    skip = ("summary.json", STATE_FILE)
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json") if p.name not in skip}


def histories(result: dict[str, Any]) -> list[str]:
    return [flow["history"] for flow in result["flows"]]


def policy_notes(result: dict[str, Any]) -> list[str]:
    return [n for n in result["notes"] if n.startswith("checksum policy")]


def test_another_policy_analyses_again_and_changes_what_it_should(
    captures: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, log = report(captures, out)
    assert code == 3 and "0 up to date" in log  # syn-bad: its lone SYN is kept out, unknown
    default = reports(out)
    assert histories(default["syn-bad"]) == ["C"]
    assert histories(default["localhost"]) == ["ShADadFf"]  # offloaded checksums count
    assert policy_notes(default["syn-bad"]) == policy_notes(default["localhost"]) == []

    code, log = report(captures, out, "--validate-checksums")
    assert "0 up to date" in log  # both analysed again, not taken from the first run
    strict = reports(out)
    assert histories(strict["syn-bad"]) == ["C"]  # a wrong checksum: the same either way
    assert len(strict["localhost"]["flows"]) == 2  # the offloaded packets are now left out
    assert strict["localhost"]["summary"]["verdict"] == "failures found"
    assert policy_notes(strict["localhost"]) == [
        "checksum policy 'verify' (--validate-checksums): every packet with a wrong checksum, "
        "offloaded ones too, was left out of its connection (history C/c)"
    ]

    code, log = report(captures, out, "-C")
    assert "0 up to date" in log
    ignored = reports(out)
    assert histories(ignored["syn-bad"]) == ["S"]  # the SYN counts
    assert histories(ignored["localhost"]) == ["ShADadFf"]
    assert [n.split(":")[0] for n in policy_notes(ignored["syn-bad"])] == [
        "checksum policy 'ignore' (-C)"
    ]

    code, log = report(captures, out, "-C")
    assert "2 up to date" in log  # the same policy again: nothing to redo
    code, log = report(captures, out)
    assert "0 up to date" in log and reports(out) == default


def test_process_pool_and_dask_jobs_get_the_policy(captures: Path, tmp_path: Path) -> None:
    jobs = [Job("localhost", (str(captures / "localhost.pcap"),)),
            Job("syn-bad", (str(captures / "syn-bad.pcap"),))]  # fmt: skip
    here = run_batch(jobs, tmp_path / "here", formats=("json",), checksums="verify", workers=1)
    pool = run_batch(jobs, tmp_path / "pool", formats=("json",), checksums="verify", workers=2)
    assert here.ran == pool.ran == ("localhost", "syn-bad")
    assert len(reports(tmp_path / "here")["localhost"]["flows"]) == 2
    assert reports(tmp_path / "pool") == reports(tmp_path / "here")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        run_batch(jobs, tmp_path / "dask", formats=("json",), checksums="verify",
                  scheduler=cluster.scheduler_address)  # fmt: skip
    assert reports(tmp_path / "dask") == reports(tmp_path / "here")


def test_the_default_policy_keeps_the_keys_made_before_it_was_a_setting() -> None:
    """Reports made before the policy was part of the key (all under the default) stay up to
    date; every other policy gives another key."""
    old = hashlib.sha256(repr(Settings()).encode()).hexdigest()
    assert "checksums" not in repr(Settings())
    assert settings_fingerprint(Settings()) == old
    keys = {name: settings_fingerprint(Settings(checksums=name)) for name in CHECKSUM_POLICIES}
    assert keys[DEFAULT_POLICY] == old and len(set(keys.values())) == len(CHECKSUM_POLICIES)


def test_an_unknown_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown checksum policy 'sometimes'"):
        run_batch([], tmp_path / "out", checksums="sometimes")
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["report", str(SYN_BAD), "--out", str(tmp_path),
                                       "--checksums", "sometimes"])  # fmt: skip
    assert result.exit_code == 2 and "'sometimes' is not one of" in result.output


def test_report_help_lists_the_checksum_options() -> None:
    result = CliRunner().invoke(main, ["report", "--help"])
    assert "--ignore-checksums" in result.output and "--validate-checksums" in result.output
