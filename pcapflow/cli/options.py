"""Options several commands share, declared once (the load-balancer options live in
:mod:`pcapflow.lbconfig.options`)."""

from __future__ import annotations

import click

from pcapflow.capture.base import ENGINES

engine_option = click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="fast",
    show_default=True,
    help="Capture parsing engine: fast (numba reader) or tshark (Wireshark's dissectors).",
)

guest_os_option = click.option(
    "--os",
    "guest_os",
    type=click.Choice(["linux", "windows", "auto"]),
    default="auto",
    show_default=True,
    help="Guest OS of the pool members, for the fix commands (auto: from the config or the "
    "TTLs the hosts send with).",
)
