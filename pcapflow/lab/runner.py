"""Run a scenario end to end: build, capture, generate traffic, record ground truth, clean up."""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from pathlib import Path
from typing import Any

from pcapflow.errors import LabError
from pcapflow.lab import groundtruth, lbfiles
from pcapflow.lab.lab import Lab
from pcapflow.lab.pcapng import pcap_to_pcapng
from pcapflow.lab.plan import attempts, traffic_duration
from pcapflow.lab.scenarios import Scenario
from pcapflow.lab.shell import Log, quiet

OUTPUTS = ("*.pcap", "*.pcapng", "ground_truth.json", "lb.yaml", "lb.az.json")


def _clear(out_dir: Path) -> None:
    """Remove the files a previous run of the lab wrote into ``out_dir`` (only those)."""
    for pattern in OUTPUTS:
        for path in out_dir.glob(pattern):
            path.unlink()


def run_scenario(
    scenario: Scenario, out_dir: Path, *, prefix: str | None = None, log: Log = quiet
) -> dict[str, Any]:
    """Run ``scenario`` and write its captures, configs and ``ground_truth.json`` to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear(out_dir)
    plans = attempts(scenario)
    lifetime = traffic_duration(scenario) + 30
    with Lab(scenario, prefix=prefix, services=False, lifetime_s=lifetime, log=log) as lab:
        lab.start_captures(out_dir)
        lab.start_services()
        lab.watch_conntrack()
        log(f"{scenario.name}: {len(plans)} attempts")
        results = lab.run_attempts(plans)
        time.sleep(0.3)
        entries = lab.conntrack()
        rounds = lab.probe_rounds()
        captured = lab.stop_captures()
        netns = {name: lab.netns(name) for name in ("host", *(vm.name for vm in scenario.vms))}
    for point, path in captured:
        pcap_to_pcapng(
            path, path.with_suffix(".pcapng"), if_name=point.iface, description=point.point
        )
    truth = groundtruth.build(
        scenario,
        plans,
        results,
        entries,
        rounds,
        groundtruth.capture_records([p for p, _ in captured], netns),
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        kernel=platform.release(),
    )
    (out_dir / "lb.yaml").write_text(lbfiles.to_pcapflow_yaml(scenario))
    if scenario.lb.cloud == "azure":  # other platforms: the native formats of pcapflow.lbconfig
        (out_dir / "lb.az.json").write_text(lbfiles.to_az_json(scenario))
    (out_dir / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def run_until_complete(
    scenario: Scenario,
    out_dir: Path,
    *,
    tries: int = 4,
    prefix: str | None = None,
    log: Log = quiet,
) -> dict[str, Any]:
    """Run again (at most ``tries`` times) until the run shows every case the scenario requires.

    The balancer's choice is random per flow, so e.g. all 16 hairpin calls could land on the other
    backend; a committed sample should show both kinds.
    """
    for n in range(1, tries + 1):
        truth = run_scenario(scenario, out_dir, prefix=prefix, log=log)
        missing = groundtruth.missing_cases(scenario, truth)
        if not missing and truth["design_ok"]:
            return truth
        log(f"{scenario.name}: run {n} lacks {missing or 'design outcomes'}; running again")
    raise LabError(f"scenario {scenario.name}: no complete run in {tries} tries (see {out_dir})")
