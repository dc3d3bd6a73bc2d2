"""Options several commands share, declared once (the load-balancer options live in
:mod:`pcapflow.lbconfig.options`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from pcapflow.capture.base import ENGINES

F = TypeVar("F", bound=Callable[..., Any])

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

CHECKSUM_POLICIES: dict[str, bool | None] = {"offload-aware": None, "ignore": True, "verify": False}


def checksum_options(command: F) -> F:
    """``-C/--ignore-checksums`` and ``--validate-checksums``, one ``checksums`` parameter.

    Default: a packet with a wrong TCP/UDP/ICMP checksum is left out of its connection (history
    ``C``/``c``, as Zeek does) unless the checksum is the unfinished one of checksum offload.
    """
    command = click.option(
        "--validate-checksums",
        "checksums",
        flag_value="verify",
        help="Leave out every packet with a wrong checksum, offloaded ones too (Zeek without -C).",
    )(command)
    return click.option(
        "-C",
        "--ignore-checksums",
        "checksums",
        flag_value="ignore",
        help="Count packets whatever their checksums (zeek -C).  Default: leave out packets "
        "with a wrong checksum unless it is the unfinished one of checksum offload.",
    )(
        click.option(
            "--checksums",
            "checksums",
            default="offload-aware",
            hidden=True,
            type=click.Choice(sorted(CHECKSUM_POLICIES)),
        )(command)
    )
