"""Options several commands share, declared once.

The load-balancer configuration options: every command that takes a configuration takes the
same ones.  ``analyze``, ``report``, ``slice``, ``probe``, ``watch`` and ``explain`` use
:func:`lb_options` (files with ``--lb``); ``lb show`` and ``lb validate`` take the files as
arguments and add :func:`nic_and_format_options` and :func:`declaration_options`.  The values
become a configuration in :mod:`pcapflow.lbconfig.options` (``config_from_options``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from pcapflow.capture.base import ENGINES
from pcapflow.lbconfig.loader import FORMATS
from pcapflow.model.checksums import CHECKSUM_POLICIES as CHECKSUM_POLICIES  # for the commands
from pcapflow.model.checksums import DEFAULT_POLICY

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

# ---- load-balancer configuration ---------------------------------------------------------------

LB_FILE_OPTION = click.option(
    "--lb",
    "lb",
    multiple=True,
    metavar="FILE",
    help="Load-balancer config: pcapflow YAML, `az network lb show|list` JSON, ARM template, "
    "`terraform show -json`, `aws elbv2 describe-*` JSON, `gcloud ... --format json`, "
    "`kubectl get ... -o json`, or a folder of them (repeatable; - = stdin).",
)

LB_FORMAT_OPTION = click.option(
    "--lb-format",
    "lb_format",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="Format of the config files (auto detects it).",
)

NIC_OPTION = click.option(
    "--nic",
    "nic",
    multiple=True,
    metavar="FILE",
    help="`az network nic show|list` JSON (also VM / public-IP / subnet JSON) resolving "
    "NIC-based pool members to IPs, MACs and VMs (repeatable).",
)

DECLARATION_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--vip",
        "vip",
        multiple=True,
        metavar="ADDR[:PORT][/PROTO]",
        help="Declare a frontend on the command line, e.g. 10.2.1.100:80/tcp (no port = HA "
        "ports; repeatable).",
    ),
    click.option(
        "--backend",
        "backend",
        multiple=True,
        metavar="ADDR[:PORT]",
        help="A backend pool member of the declared VIPs, e.g. 10.2.1.4:80 (repeatable).",
    ),
    click.option(
        "--floating-ip",
        "floating_ip",
        is_flag=True,
        default=False,
        help="The declared rules use floating IP (DSR): members receive the VIP as destination.",
    ),
)


def _apply(func: F, options: tuple[Callable[[F], F], ...]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def declaration_options(func: F) -> F:
    """Click decorator adding --vip, --backend and --floating-ip (the command-line declaration)."""
    return _apply(func, DECLARATION_OPTIONS)


def nic_and_format_options(func: F) -> F:
    """Click decorator adding --lb-format and --nic (for commands taking config files)."""
    return _apply(func, (LB_FORMAT_OPTION, NIC_OPTION))


def lb_options(func: F) -> F:
    """Click decorator adding --lb, --lb-format, --nic, --vip, --backend and --floating-ip."""
    return _apply(func, (LB_FILE_OPTION, LB_FORMAT_OPTION, NIC_OPTION, *DECLARATION_OPTIONS))


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
            default=DEFAULT_POLICY,
            hidden=True,
            type=click.Choice(sorted(CHECKSUM_POLICIES)),
        )(command)
    )


def warn_config(message: str) -> None:
    """A loading warning of the --lb config, on stderr (``pcapflow lb validate`` lists them too)."""
    click.echo(f"pcapflow: {message}", err=True)
