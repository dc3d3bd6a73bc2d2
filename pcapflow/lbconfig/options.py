"""The load-balancer options every command that takes a configuration shares, as a configuration.

The click options themselves are declared once, in :mod:`pcapflow.cli.options`
(``lb_options``, ``declaration_options``).  Usage::

    from pcapflow.cli.options import lb_options
    from pcapflow.lbconfig.options import config_from_options

    @main.command()
    @click.argument("captures", nargs=-1)
    @lb_options
    def analyze(captures, lb, lb_format, nic, vip, backend, floating_ip):
        cfg = config_from_options(lb, lb_format, nic, vip, backend, floating_ip)  # LbConfig | None

or ``cfg = config_from_kwargs(kwargs)`` to pop the six option values out of ``**kwargs``.

Files (``--lb FILE``, with ``--nic FILE`` documents) and a declaration (``--vip
ADDR[:PORT][/PROTO]``, ``--backend ADDR[:PORT]``, ``--floating-ip``) combine into one
configuration.  Bad values raise :class:`~pcapflow.errors.ConfigError` (one line, exit 2 in the
CLI).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from pcapflow.errors import ConfigError, InputError
from pcapflow.lbconfig.declaration import load_declaration
from pcapflow.lbconfig.draft import Loaded, merge
from pcapflow.lbconfig.loader import load_documents
from pcapflow.lbconfig.problems import Severity, raise_first
from pcapflow.model.lb import LbConfig

STDIN = "-"
ONE_STDIN = "standard input can feed only one input"

OPTION_NAMES = ("lb", "lb_format", "nic", "vip", "backend", "floating_ip")


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
    warn: Callable[[str], None] | None = None,
) -> LbConfig | None:
    """The configuration the options describe, or None when none was given.

    Files (``lb``, with ``nic`` documents) and a command-line declaration (``vip``/``backend``)
    combine: the declared balancer (named ``cli``) is added after the files' ones.  ``warn``
    gets each loading warning (a draining target left out, a port range not modelled ...), one
    located line each, so that a command using the config says what it assumed.
    """
    loaded = loaded_from_options(lb, lb_format, nic, vip, backend, floating_ip)
    if loaded is None:
        return None
    raise_first(loaded.problems)
    if warn is not None:
        for problem in loaded.problems:
            if problem.severity is Severity.WARNING:
                warn(str(problem))
    return loaded.config


def loaded_from_options(
    lb: Sequence[str] = (),
    lb_format: str | None = None,
    nic: Sequence[str] = (),
    vip: Sequence[str] = (),
    backend: Sequence[str] = (),
    floating_ip: bool = False,
    *,
    files: str = "an --lb file",
) -> Loaded | None:
    """What :func:`config_from_options` loads, with its origins and loading problems (for
    ``lb validate``); ``files`` names the files in messages."""
    lb, nic, vip, backend = tuple(lb), tuple(nic), tuple(vip), tuple(backend)
    check_one_stdin(lb, nic)
    if nic and not lb:
        raise ConfigError(f"--nic resolves members of {files}; give {files} too")
    if (backend or floating_ip) and not vip:
        raise ConfigError("--backend/--floating-ip declare members of a --vip; add --vip")
    parts = []
    if lb:
        parts.append(load_documents(lb, fmt=lb_format, nic_files=nic))
    if vip:
        parts.append(load_declaration(vip, backend, floating_ip))
    return merge(parts) if parts else None


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
