"""``pcapflow lb show|validate``: the declared load-balancer configuration.

The configuration is CONFIG files, a command-line declaration (``--vip/--backend/--floating-ip``,
as for ``analyze``) or both.  Exit status: 0 fine, 1 ``validate`` found errors, 2 a document
cannot be read or parsed, or a declaration is malformed.
"""

from __future__ import annotations

import json
import sys

import click

from pcapflow.cli import main
from pcapflow.cli.options import declaration_options, nic_and_format_options
from pcapflow.lbconfig import problems_of, schema, to_dict, to_yaml
from pcapflow.lbconfig.draft import Loaded
from pcapflow.lbconfig.options import loaded_from_options
from pcapflow.lbconfig.problems import Severity, raise_first
from pcapflow.lbconfig.render import render_problems, render_text

NOTHING_GIVEN = "give CONFIG files, a --vip/--backend declaration, or both"


def _loaded(
    configs: tuple[str, ...],
    lb_format: str,
    nic: tuple[str, ...],
    vip: tuple[str, ...],
    backend: tuple[str, ...],
    floating_ip: bool,
) -> Loaded:
    if not configs and not (vip or backend or floating_ip or nic):
        raise click.UsageError(NOTHING_GIVEN)
    loaded = loaded_from_options(
        configs, lb_format, nic, vip, backend, floating_ip, files="a CONFIG file"
    )
    if loaded is None:  # only --nic: refused by loaded_from_options already
        raise click.UsageError(NOTHING_GIVEN)
    return loaded


def _sources(loaded: Loaded) -> str:
    return ", ".join(loaded.config.sources) or "<config>"


@main.group()
def lb() -> None:
    """Read, normalise and check load-balancer configurations."""


@lb.command()
@click.argument("configs", nargs=-1, metavar="[CONFIG...]")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["text", "json", "yaml"]),
    default="text",
    show_default=True,
    help="text: summary; json: the stable JSON form (docs/lb-config.md); yaml: pcapflow YAML.",
)
@nic_and_format_options
@declaration_options
def show(
    configs: tuple[str, ...],
    out_format: str,
    nic: tuple[str, ...],
    lb_format: str,
    vip: tuple[str, ...],
    backend: tuple[str, ...],
    floating_ip: bool,
) -> None:
    """Show the normalised model of CONFIG files (YAML, az JSON, ARM, terraform show -json)
    and/or of a --vip/--backend declaration."""
    loaded = _loaded(configs, lb_format, nic, vip, backend, floating_ip)
    raise_first(loaded.problems)
    cfg = loaded.config
    if out_format == "json":
        click.echo(json.dumps(to_dict(cfg, explicit=True), indent=2))
    elif out_format == "yaml":
        click.echo(to_yaml(cfg), nl=False)
    else:
        click.echo(render_text(cfg), nl=False)


@lb.command(name="validate")
@click.argument("configs", nargs=-1, metavar="[CONFIG...]")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON array.")
@nic_and_format_options
@declaration_options
def validate_cmd(
    configs: tuple[str, ...],
    as_json: bool,
    nic: tuple[str, ...],
    lb_format: str,
    vip: tuple[str, ...],
    backend: tuple[str, ...],
    floating_ip: bool,
) -> None:
    """Check CONFIG files and/or a --vip/--backend declaration; print every problem (file,
    location, what is wrong).

    Exit 0 when there is no error (warnings are printed), 1 when there are errors, 2 when a
    document cannot be read or parsed.
    """
    loaded = _loaded(configs, lb_format, nic, vip, backend, floating_ip)
    problems = problems_of(loaded)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2))
    elif problems:
        click.echo(render_problems(problems), nl=False)
    else:
        click.echo(f"ok: {_sources(loaded)}")
    if any(p.severity is Severity.ERROR for p in problems):
        sys.exit(1)


@lb.command(name="schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the pcapflow YAML format (also docs/lb-config.schema.json)."""
    click.echo(json.dumps(schema(), indent=2))
