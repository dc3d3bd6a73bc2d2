"""Loader scaffolding: model objects with the place they came from, assembled into an LbConfig.

Every loader fills :class:`LbDraft` objects (model values plus their :class:`Origin`), then
:func:`assemble` freezes them into a :class:`Loaded`: the :class:`LbConfig` the analysis uses, the
origins the validator needs to say *where* a problem is, and the problems found while loading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pcapflow.lbconfig.problems import Origin, Problem
from pcapflow.model.lb import (
    BackendPool,
    Frontend,
    InboundNatRule,
    LbConfig,
    LoadBalancer,
    Member,
    OutboundRule,
    Probe,
    Rule,
)

T = TypeVar("T")

OriginKey = tuple[Any, ...]
"""("lb", i) | ("frontend", i, j) | ("pool", i, j) | ("member", i, j, k) | ("rule", i, j[, field])
| ("probe", i, j) | ("nat", i, j) | ("outbound", i, j): indexes into the model's tuples."""


@dataclass
class Placed(Generic[T]):
    """A model value and where it (and some of its fields) came from."""

    value: T
    origin: Origin
    fields: dict[str, Origin] = field(default_factory=dict)


@dataclass
class PoolDraft:
    name: str
    origin: Origin
    members: list[Placed[Member]] = field(default_factory=list)


@dataclass
class LbDraft:
    """A load balancer being loaded."""

    name: str
    origin: Origin
    attrs: dict[str, Any] = field(default_factory=dict)  # LoadBalancer scalar fields
    frontends: list[Placed[Frontend]] = field(default_factory=list)
    pools: list[PoolDraft] = field(default_factory=list)
    rules: list[Placed[Rule]] = field(default_factory=list)
    probes: list[Placed[Probe]] = field(default_factory=list)
    nats: list[Placed[InboundNatRule]] = field(default_factory=list)
    outbounds: list[Placed[OutboundRule]] = field(default_factory=list)

    def pool(self, name: str, origin: Origin) -> PoolDraft:
        """The pool called ``name`` (case-insensitive, as Azure names are), created if new."""
        for pool in self.pools:
            if pool.name.casefold() == name.casefold():
                return pool
        pool = PoolDraft(name, origin)
        self.pools.append(pool)
        return pool

    def build(self) -> LoadBalancer:
        attrs = dict(self.attrs)
        attrs.setdefault("internal", all(f.value.private for f in self.frontends))
        return LoadBalancer(
            name=self.name,
            frontends=tuple(f.value for f in self.frontends),
            pools=tuple(BackendPool(p.name, tuple(m.value for m in p.members)) for p in self.pools),
            rules=tuple(r.value for r in self.rules),
            probes=tuple(p.value for p in self.probes),
            inbound_nat_rules=tuple(n.value for n in self.nats),
            outbound_rules=tuple(o.value for o in self.outbounds),
            **attrs,
        )

    def origins(self, i: int) -> dict[OriginKey, Origin]:
        out: dict[OriginKey, Origin] = {("lb", i): self.origin}
        groups: list[tuple[str, Sequence[Placed[Any]]]] = [
            ("frontend", self.frontends),
            ("rule", self.rules),
            ("probe", self.probes),
            ("nat", self.nats),
            ("outbound", self.outbounds),
        ]
        for kind, items in groups:
            for j, item in enumerate(items):
                out[(kind, i, j)] = item.origin
                for name, origin in item.fields.items():
                    out[(kind, i, j, name)] = origin
        for j, pool in enumerate(self.pools):
            out[("pool", i, j)] = pool.origin
            for k, member in enumerate(pool.members):
                out[("member", i, j, k)] = member.origin
        return out


@dataclass(frozen=True)
class Loaded:
    """A loaded configuration with the origin of each element and the problems met on the way."""

    config: LbConfig
    origins: dict[OriginKey, Origin]
    problems: tuple[Problem, ...] = ()

    def origin(self, *key: Any) -> Origin:
        """The most precise known origin for ``key`` (falls back to enclosing elements)."""
        probe: tuple[Any, ...] = tuple(key)
        while probe:
            found = self.origins.get(probe)
            if found is not None:
                return found
            if len(probe) > 2 and probe[0] in {"member"}:
                probe = ("pool", *probe[1:3])
            elif len(probe) > 2:
                probe = probe[:-1] if len(probe) > 3 else ("lb", probe[1])
            else:
                break
        source = self.config.sources[0] if self.config.sources else "<config>"
        return Origin(source)


def assemble(drafts: Iterable[LbDraft], problems: Iterable[Problem], source: str) -> Loaded:
    drafts = list(drafts)
    origins: dict[OriginKey, Origin] = {}
    for i, draft in enumerate(drafts):
        origins.update(draft.origins(i))
    config = LbConfig(tuple(d.build() for d in drafts), sources=(source,))
    return Loaded(config, origins, tuple(problems))


def assemble_set(
    drafts: Iterable[LbDraft], problems: Iterable[Problem], sources: Sequence[str]
) -> Loaded:
    """:func:`assemble` for a configuration read from several documents at once."""
    # a value shared by several elements (a backend service of two forwarding rules) is read,
    # and its problem reported, once per element: each problem is listed once
    unique = list(dict.fromkeys(problems))
    loaded = assemble(drafts, unique, sources[0] if sources else "<config>")
    config = LbConfig(loaded.config.load_balancers, tuple(sources))
    return Loaded(config, loaded.origins, loaded.problems)


def merge(parts: Sequence[Loaded]) -> Loaded:
    """Several loaded documents as one configuration (balancers in the order given)."""
    lbs: list[LoadBalancer] = []
    sources: list[str] = []
    origins: dict[OriginKey, Origin] = {}
    problems: list[Problem] = []
    for part in parts:
        offset = len(lbs)
        for key, origin in part.origins.items():
            origins[(key[0], key[1] + offset, *key[2:])] = origin
        lbs.extend(part.config.load_balancers)
        sources.extend(part.config.sources)
        problems.extend(part.problems)
    return Loaded(LbConfig(tuple(lbs), tuple(sources)), origins, tuple(problems))
