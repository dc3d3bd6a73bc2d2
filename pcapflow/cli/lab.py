"""`pcapflow lab list|run|clean`: reproduce load-balancer scenarios in network namespaces."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import click

from pcapflow.cli import main
from pcapflow.lab import lab as lab_module
from pcapflow.lab.runner import run_scenario
from pcapflow.lab.scenarios import REMEDIATIONS, SCENARIOS, get_scenario


@main.group()
def lab() -> None:
    """Reproduce load-balancer scenarios in network namespaces (needs root on Linux)."""


@lab.command("list")
def list_scenarios() -> None:
    """List the scenarios and the remediations that can be applied to them."""
    for scenario in SCENARIOS.values():
        click.echo(f"{scenario.name}  [{scenario.signature}]")
        click.echo(textwrap.indent(textwrap.fill(scenario.description, 96), "    "))
    click.echo("\nremediations (pcapflow lab run SCENARIO --remediation NAME):")
    for rem in REMEDIATIONS.values():
        click.echo(f"{rem.name}  (for {', '.join(rem.applies_to)})")
        click.echo(textwrap.indent(textwrap.fill(rem.description, 96), "    "))


@lab.command("run")
@click.argument("scenarios", nargs=-1, required=True)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the captures; each scenario gets OUT/<scenario>/.",
)
@click.option("--remediation", default=None, help="Apply a remediation (see `pcapflow lab list`).")
@click.option("--prefix", default=None, help="Namespace prefix (pfl-xxxx); random by default.")
def run(scenarios: tuple[str, ...], out: Path, remediation: str | None, prefix: str | None) -> None:
    """Run SCENARIO... and write captures, lb.yaml, lb.az.json and ground_truth.json."""
    chosen = [get_scenario(name, remediation) for name in scenarios]
    lab_module.check_environment(nginx=any(v.role == "nva" for s in chosen for v in s.vms))
    for scenario in chosen:
        target = out / scenario.name
        truth = run_scenario(scenario, target, prefix=prefix, log=_log)
        _summary(truth, target)


def _log(message: str) -> None:
    click.echo(message, err=True)


def _summary(truth: dict[str, Any], target: Path) -> None:
    click.echo(f"\n{truth['scenario']}: {target}")
    for a in truth["attempts"]:
        member = a["member"] or "-"
        click.echo(
            f"  #{a['id']:<3} {a['proto']} {a['client']}:{a['client_port']} -> "
            f"{a['frontend']}:{a['frontend_port']}  {a['outcome']:<9} member {member:<12} "
            f"expected {a['expected_label']}"
        )
    for p in truth["probes"]:
        click.echo(
            f"  probe {p['member']}:{p['port']} up {p['up_rounds']}/{p['rounds']} "
            f"expected {p['expected_label']}"
        )
    if not truth["design_ok"]:
        click.echo("  note: some outcomes differ from the scenario design (see ground_truth.json)")
    calls = [a for a in truth["attempts"] if a.get("caller", "client") != "client"]
    caller = calls[0]["caller"] if calls else "web01"
    own = [c["file"] for c in truth["captures"] if c["file"].startswith(f"{caller}-")]
    if own:  # the calling VM's or pod's eth0; with its lo when its calls stayed local
        local = any(a.get("case") == "none" for a in calls)
        files = f"{caller}-*.pcap" if local and len(own) > 1 else own[0]
        click.echo(f"  next: pcapflow analyze {target / files} --lb {target / 'lb.yaml'}")


@lab.command("clean")
def clean() -> None:
    """Delete leftover lab namespaces (names starting with pfl-) and their processes."""
    removed = lab_module.clean(log=_log)
    click.echo(f"removed {len(removed)} lab namespace(s)")
