"""Declared load-balancer configuration: every format users already have, one model.

Public API (names are a cross-helper contract)::

    load(paths, fmt=None, nic_files=())          files -> LbConfig   (ConfigError when unloadable)
    load_text(text, fmt=None, name="<text>")     one document -> LbConfig
    from_declaration(vips, backends, floating_ip=False)   --vip/--backend -> LbConfig
    to_yaml(cfg)                                 LbConfig -> pcapflow YAML (round-trips)
    to_dict(cfg, explicit=True)                  the stable JSON form (`lb show --format json`)
    validate(paths, fmt=None, nic_files=())      -> list[Problem] (empty = valid)
    problems_of(loaded)                          the same for a Loaded (files + declaration)
    check(cfg)                                   semantic problems of an in-memory LbConfig

Formats (``fmt``): "yaml", "az", "arm", "terraform", "aws", "gcloud", "kubectl"; None or "auto"
detects.  The aws, gcloud and kubectl documents given together are read as one set.
"""

from __future__ import annotations

from collections.abc import Sequence

from pcapflow.errors import ConfigError
from pcapflow.lbconfig.checks import check_loaded
from pcapflow.lbconfig.declaration import from_declaration
from pcapflow.lbconfig.draft import Loaded
from pcapflow.lbconfig.loader import (
    FORMATS,
    INTERNAL_ERROR,
    detect,
    load_documents,
    load_text_documents,
)
from pcapflow.lbconfig.problems import Problem, Severity, raise_first
from pcapflow.lbconfig.yamlfmt import schema, to_dict, to_yaml
from pcapflow.model.lb import LbConfig


def load(
    paths: Sequence[str], *, fmt: str | None = None, nic_files: Sequence[str] = ()
) -> LbConfig:
    """Load configuration files (and ``--nic`` documents) into one :class:`LbConfig`.

    Raises :class:`~pcapflow.errors.ConfigError` (one line: file, location, problem) when a
    document cannot be read or modelled faithfully (syntax, schema, unresolvable reference).
    Semantic problems (a rule naming a missing probe, a member outside the frontend's subnet ...)
    do not stop loading: :func:`validate` lists them.
    """
    loaded = load_documents(paths, fmt=fmt, nic_files=nic_files)
    raise_first(loaded.problems)
    return loaded.config


def load_text(text: str, *, fmt: str | None = None, name: str = "<text>") -> LbConfig:
    """Load one configuration document given as text (``name`` is used in messages)."""
    loaded = load_text_documents(text, fmt=fmt, name=name)
    raise_first(loaded.problems)
    return loaded.config


def validate(
    paths: Sequence[str], *, fmt: str | None = None, nic_files: Sequence[str] = ()
) -> list[Problem]:
    """Every problem of the given documents (loading and semantic), errors and warnings.

    A document that cannot be parsed at all raises :class:`~pcapflow.errors.ConfigError`.
    """
    return problems_of(load_documents(paths, fmt=fmt, nic_files=nic_files))


def validate_text(text: str, *, fmt: str | None = None, name: str = "<text>") -> list[Problem]:
    return problems_of(load_text_documents(text, fmt=fmt, name=name))


def problems_of(loaded: Loaded) -> list[Problem]:
    """Every problem of a loaded configuration: those found while loading, then the semantic
    ones (what :func:`validate` returns for files, here for any :class:`Loaded`)."""
    return [*loaded.problems, *_checked(loaded)]


def _checked(loaded: Loaded) -> list[Problem]:
    try:
        return check_loaded(loaded)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        source = ", ".join(loaded.config.sources) or "<config>"
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise ConfigError(f"{source}: {INTERNAL_ERROR}: {detail}") from None


def check(cfg: LbConfig) -> list[Problem]:
    """Semantic problems of an in-memory configuration (locations are element paths)."""
    return check_loaded(Loaded(cfg, {}))


__all__ = [
    "FORMATS",
    "LbConfig",
    "Problem",
    "Severity",
    "check",
    "detect",
    "from_declaration",
    "load",
    "load_text",
    "problems_of",
    "schema",
    "to_dict",
    "to_yaml",
    "validate",
    "validate_text",
]
