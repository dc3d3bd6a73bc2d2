"""`pcapflow lab list|run|clean` through click's CliRunner (no namespaces needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.errors import LabError
from pcapflow.lab import lab as lab_module
from pcapflow.lab.scenarios import REMEDIATIONS, SCENARIOS


def test_list_names_every_scenario_and_remediation() -> None:
    result = CliRunner().invoke(main, ["lab", "list"])
    assert result.exit_code == 0
    for name in [*SCENARIOS, *REMEDIATIONS]:
        assert name in result.output


def test_run_without_root_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(main, ["lab", "run", "single-backend", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "pcapflow: error: the lab needs root to create network namespaces (run it as root)"
    ]
    assert not list(tmp_path.iterdir())


def test_run_off_linux_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sys.platform", "darwin")
    result = CliRunner().invoke(main, ["lab", "run", "single-backend", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "needs Linux network namespaces" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown lab scenario 'nope'"),
        (["single-backend", "--remediation", "nope"], "unknown remediation 'nope'"),
        (["mixed", "--remediation", "policy-routing"], "does not apply to scenario 'mixed'"),
    ],
)
def test_run_rejects_unknown_names_before_touching_anything(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["lab", "run", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output


def test_clean_without_root_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(main, ["lab", "clean"])
    assert result.exit_code == 2
    assert "needs root" in result.output


def test_a_bad_prefix_is_refused() -> None:
    with pytest.raises(LabError, match="must look like"):
        lab_module.Lab("single-backend", prefix="web01")
    with pytest.raises(LabError, match="must look like"):
        lab_module.Lab("single-backend", prefix="pfl-../x")
