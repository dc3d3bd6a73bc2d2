"""The load-balancer options every analysing command shares (``analyze``, ``report`` ...).

Usage::

    from pcapflow.lbconfig.options import lb_options, config_from_options

    @main.command()
    @click.argument("captures", nargs=-1)
    @lb_options
    def analyze(captures, lb, lb_format, nic, vip, backend, floating_ip):
        cfg = config_from_options(lb, lb_format, nic, vip, backend, floating_ip)  # LbConfig | None

or, to receive the loaded config directly as ``lb_config``::

    @main.command()
    @lb_options
    def analyze(**kwargs):
        cfg = config_from_kwargs(kwargs)   # pops the six option values out of kwargs

Options added: ``--lb FILE`` (repeatable), ``--lb-format auto|yaml|az|arm|terraform``,
``--nic FILE`` (repeatable), ``--vip ADDR[:PORT][/PROTO]`` (repeatable), ``--backend ADDR[:PORT]``
(repeatable), ``--floating-ip``.  Files and a declaration combine into one configuration.  Bad
values raise :class:`~pcapflow.errors.ConfigError` (one line, exit 2 in the CLI).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any, TypeVar

import click

from pcapflow.errors import ConfigError, InputError
from pcapflow.lbconfig.declaration import load_declaration
from pcapflow.lbconfig.draft import merge
from pcapflow.lbconfig.loader import FORMATS, load_documents
from pcapflow.lbconfig.problems import raise_first
from pcapflow.model.lb import LbConfig

F = TypeVar("F", bound=Callable[..., Any])

STDIN = "-"
ONE_STDIN = "standard input can feed only one input"

OPTION_NAMES = ("lb", "lb_format", "nic", "vip", "backend", "floating_ip")

_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--lb",
        "lb",
        multiple=True,
        metavar="FILE",
        help="Load-balancer config: pcapflow YAML, `az network lb show|list` JSON, ARM template "
        "or `terraform show -json` output (repeatable; - = stdin).",
    ),
    click.option(
        "--lb-format",
        "lb_format",
        type=click.Choice(["auto", *FORMATS]),
        default="auto",
        show_default=True,
        help="Format of the --lb files (auto detects it).",
    ),
    click.option(
        "--nic",
        "nic",
        multiple=True,
        metavar="FILE",
        help="`az network nic show|list` JSON (also VM / public-IP / subnet JSON) resolving "
        "NIC-based pool members to IPs, MACs and VMs (repeatable).",
    ),
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


def lb_options(func: F) -> F:
    """Click decorator adding --lb, --lb-format, --nic, --vip, --backend and --floating-ip."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def check_one_stdin(*inputs: Sequence[str]) -> None:
    """Refuse ``-`` (standard input) named more than once across the given inputs: the second
    read would find the stream used up."""
    if sum(name == STDIN for names in inputs for name in names) > 1:
        raise InputError(ONE_STDIN)


def config_from_options(
    lb: Sequence[str] = (),
    lb_format: str | None = None,
    nic: Sequence[str] = (),
    vip: Sequence[str] = (),
    backend: Sequence[str] = (),
    floating_ip: bool = False,
) -> LbConfig | None:
    """The configuration the options describe, or None when none was given.

    Files (``lb``, with ``nic`` documents) and a command-line declaration (``vip``/``backend``)
    combine: the declared balancer (named ``cli``) is added after the files' ones.
    """
    lb, nic, vip, backend = tuple(lb), tuple(nic), tuple(vip), tuple(backend)
    check_one_stdin(lb, nic)
    if nic and not lb:
        raise ConfigError("--nic resolves members of an --lb file; give the --lb file too")
    if (backend or floating_ip) and not vip:
        raise ConfigError("--backend/--floating-ip declare members of a --vip; add --vip")
    parts = []
    if lb:
        parts.append(load_documents(lb, fmt=lb_format, nic_files=nic))
    if vip:
        parts.append(load_declaration(vip, backend, floating_ip))
    if not parts:
        return None
    loaded = merge(parts)
    raise_first(loaded.problems)
    return loaded.config


def config_from_kwargs(kwargs: MutableMapping[str, Any]) -> LbConfig | None:
    """Pop the :func:`lb_options` values out of a command's ``kwargs`` and load them."""
    values = {name: kwargs.pop(name, None) for name in OPTION_NAMES}
    return config_from_options(
        lb=values["lb"] or (),
        lb_format=values["lb_format"],
        nic=values["nic"] or (),
        vip=values["vip"] or (),
        backend=values["backend"] or (),
        floating_ip=bool(values["floating_ip"]),
    )
