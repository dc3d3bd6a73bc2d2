"""The lab on a real kernel (root + `ip netns`): a short hairpin run, the Python API, cleanup.

Skipped with a reason where namespaces cannot be created.  About 25 s in all.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pcapflow.errors import LabError
from pcapflow.lab import Lab
from pcapflow.lab.lab import list_namespaces
from pcapflow.lab.plan import attempts
from pcapflow.lab.runner import run_scenario
from pcapflow.lab.scenarios import SCENARIOS, Scenario
from pcapflow.lab.shell import check_namespaces


def _unavailable() -> str | None:
    if not sys.platform.startswith("linux"):
        return "the lab needs Linux"
    if os.geteuid() != 0:
        return "the lab needs root"
    for tool in ("ip", "nft", "tcpdump", "conntrack", "timeout", "stdbuf"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    try:
        check_namespaces()
    except LabError as exc:
        return str(exc)
    return None


REASON = _unavailable()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


def _prefix(tag: str) -> str:
    return f"pfl-{tag}{os.getpid() % 100000}"


def _leftovers(prefix: str) -> list[str]:
    return [n for n in list_namespaces() if n.startswith(prefix + "-")]


def test_hairpin_attempts_mapped_to_the_caller_time_out_and_the_others_connect(
    tmp_path: Path,
) -> None:
    base = SCENARIOS["hairpin-two-backends"]
    client, web01 = base.steps
    scenario = dataclasses.replace(
        base,
        steps=(
            dataclasses.replace(client, count=2),
            dataclasses.replace(web01, count=10, gap_s=0.2),
        ),
    )
    prefix = _prefix("h")
    truth = run_scenario(scenario, tmp_path, prefix=prefix)
    assert not _leftovers(prefix)
    for a in truth["attempts"]:
        if a["caller"] == "client":
            assert (a["outcome"], a["expected_label"]) == ("connected", "ok")
        elif a["member"] == "10.2.1.4":
            assert (a["outcome"], a["expected_label"]) == ("timeout", "hairpin_self")
        else:
            assert a["member"] == "10.2.1.6"
            assert (a["outcome"], a["served_by"]) == ("connected", "web02")
    assert truth["design_ok"]
    for c in truth["captures"]:
        assert (tmp_path / c["file"]).stat().st_size > 0
        assert (tmp_path / c["pcapng"]).is_file()
    assert (tmp_path / "lb.yaml").is_file() and (tmp_path / "lb.az.json").is_file()


def test_the_python_api_runs_commands_in_a_live_topology_and_cleans_up() -> None:
    prefix = _prefix("a")
    with Lab("single-backend", prefix=prefix) as lab:
        assert lab.netns("web01") == f"{prefix}-web01"
        shown = lab.exec("web01", ["ip", "-br", "-4", "addr", "show", "eth0"]).stdout
        assert "10.2.1.4/24" in shown
        results = lab.run_attempts()
        assert {r["outcome"] for r in results.values()} == {"connected", "timeout"}
        assert lab.probe_rounds()[0]["up"] == {"10.2.1.4": True}
        assert len(_leftovers(prefix)) == 3
    assert not _leftovers(prefix)


def test_sigterm_deletes_the_labs_namespaces() -> None:
    prefix = _prefix("s")
    script = textwrap.dedent(
        f"""
        import time
        from pcapflow.lab import Lab
        with Lab("single-backend", prefix="{prefix}", services=False):
            print("up", flush=True)
            time.sleep(30)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "up"
        assert len(_leftovers(prefix)) == 3
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not _leftovers(prefix)


def _healthy(lab: Lab) -> str:
    return lab.exec("host", ["nft", "list", "set", "inet", "pfl_lab", "healthy"]).stdout


def _wait_for_round(lab: Lab, after: int, timeout: float = 8.0) -> dict[str, bool]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rounds = lab.probe_rounds()
        if len(rounds) > after:
            up: dict[str, bool] = rounds[-1]["up"]
            return up
        time.sleep(0.1)
    raise AssertionError("no probe round")


def test_probes_take_a_member_out_of_rotation_and_back() -> None:
    base = SCENARIOS["hairpin-two-backends"]
    scenario = dataclasses.replace(base, lb=dataclasses.replace(base.lb, probe_interval_s=1))
    with Lab(scenario, prefix=_prefix("p")) as lab:
        assert "10.2.1.4, 10.2.1.6" in _healthy(lab)
        blackhole = ["blackhole", "168.63.129.16/32"]  # web02 stops answering probes
        lab.exec("web02", ["ip", "route", "add", *blackhole])
        up = _wait_for_round(lab, len(lab.probe_rounds()))
        assert up == {"10.2.1.4": True, "10.2.1.6": False}
        time.sleep(0.3)  # the nft update follows the round's result
        assert "10.2.1.6" not in _healthy(lab)
        client = dataclasses.replace(base.steps[0], count=4, gap_s=0.1)
        plans = list(attempts(dataclasses.replace(scenario, steps=(client,))))
        results = lab.run_attempts(plans)
        assert {r.get("body") for r in results.values()} == {"served-by web01"}
        lab.exec("web02", ["ip", "route", "del", *blackhole])
        for _ in range(5):
            if _wait_for_round(lab, len(lab.probe_rounds()))["10.2.1.6"]:
                break
        time.sleep(0.3)
        assert "10.2.1.4, 10.2.1.6" in _healthy(lab)


def test_lab_run_writes_a_scenario_directory_and_prints_each_attempt(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main

    prefix = _prefix("c")
    args = ["lab", "run", "single-backend", "--out", str(tmp_path), "--prefix", prefix]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "single-backend"
    assert {"ground_truth.json", "lb.yaml", "lb.az.json", "web01-eth0.pcap"} <= {
        p.name for p in out.iterdir()
    }
    assert result.output.count("expected hairpin_self") == 4
    assert f"pcapflow analyze {out / 'web01-eth0.pcap'} --lb {out / 'lb.yaml'}" in result.output
    assert not _leftovers(prefix)


def _only_web1(name: str) -> Scenario:
    """A Kubernetes scenario whose Service has web1 as its only endpoint: every call of web1 to
    the ClusterIP is sent back to web1 itself."""
    base = SCENARIOS[name]
    web1 = base.steps[1]
    return dataclasses.replace(
        base,
        lb=dataclasses.replace(base.lb, members=(base.lb.members[0],)),
        steps=(dataclasses.replace(web1, count=3),),
        require_cases=(),
    )


@pytest.mark.skipif(shutil.which("iptables-restore") is None, reason="iptables is not installed")
@pytest.mark.parametrize(
    ("name", "outcome"), [("k8s-hairpin-off", "timeout"), ("k8s-hairpin-on", "connected")]
)
def test_a_pod_sent_back_to_itself_needs_hairpin_mode_on_its_bridge_port(
    name: str, outcome: str, tmp_path: Path
) -> None:
    prefix = _prefix("k")
    truth = run_scenario(_only_web1(name), tmp_path, prefix=prefix)
    assert not _leftovers(prefix)
    assert [(a["case"], a["outcome"]) for a in truth["attempts"]] == [("self", outcome)] * 3
    assert truth["design_ok"]
