"""``pcapflow lb show|validate``: the declared load-balancer configuration.

Exit status: 0 fine, 1 ``validate`` found errors, 2 a document cannot be read or parsed.
"""

from __future__ import annotations

import json
import sys

import click

from pcapflow.cli import main
from pcapflow.lbconfig import FORMATS, load, schema, to_dict, to_yaml, validate
from pcapflow.lbconfig.problems import Severity
from pcapflow.lbconfig.render import render_problems, render_text

_FORMAT_OPTION = click.option(
    "--lb-format",
    "lb_format",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="Format of the CONFIG files (auto detects it).",
)
_NIC_OPTION = click.option(
    "--nic",
    "nic",
    multiple=True,
    metavar="FILE",
    help="`az network nic show|list` JSON (also VM / public-IP / subnet JSON) resolving "
    "NIC-based pool members (repeatable).",
)


@main.group()
def lb() -> None:
    """Read, normalise and check load-balancer configurations."""


@lb.command()
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG...")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["text", "json", "yaml"]),
    default="text",
    show_default=True,
    help="text: summary; json: the stable JSON form (docs/lb-config.md); yaml: pcapflow YAML.",
)
@_NIC_OPTION
@_FORMAT_OPTION
def show(configs: tuple[str, ...], out_format: str, nic: tuple[str, ...], lb_format: str) -> None:
    """Show the normalised model of CONFIG files (YAML, az JSON, ARM, terraform show -json)."""
    cfg = load(configs, fmt=lb_format, nic_files=nic)
    if out_format == "json":
        click.echo(json.dumps(to_dict(cfg, explicit=True), indent=2))
    elif out_format == "yaml":
        click.echo(to_yaml(cfg), nl=False)
    else:
        click.echo(render_text(cfg), nl=False)


@lb.command(name="validate")
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG...")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON array.")
@_NIC_OPTION
@_FORMAT_OPTION
def validate_cmd(
    configs: tuple[str, ...], as_json: bool, nic: tuple[str, ...], lb_format: str
) -> None:
    """Check CONFIG files; print every problem (file, location, what is wrong).

    Exit 0 when there is no error (warnings are printed), 1 when there are errors, 2 when a
    document cannot be read or parsed.
    """
    problems = validate(configs, fmt=lb_format, nic_files=nic)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2))
    elif problems:
        click.echo(render_problems(problems), nl=False)
    else:
        click.echo(f"ok: {', '.join(configs)}")
    if any(p.severity is Severity.ERROR for p in problems):
        sys.exit(1)


@lb.command(name="schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the pcapflow YAML format (also docs/lb-config.schema.json)."""
    click.echo(json.dumps(schema(), indent=2))
