"""The ``pcapflow`` command line: thin click shells over the engine.

Each sub-command lives in its own module of this package and registers itself on :data:`main`.
A :class:`~pcapflow.errors.PcapflowError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from pcapflow.errors import PcapflowError

COMMAND_MODULES = ("flows", "lb", "analyze", "lab", "report", "serve", "live")


class PcapflowGroup(click.Group):
    """A click group that reports pcapflow errors as one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PcapflowError as exc:
            click.echo(f"pcapflow: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            sys.exit(1)


@click.group(cls=PcapflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pcapflow")
def main() -> None:
    """pcapflow: packet-capture analyzer and flow reconciler for load-balancer hairpins."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"pcapflow.cli.{_name}")
