"""pcapflow's own YAML format (version 1): load with line numbers, validate, and write back.

The format is described by the JSON Schema shipped beside this module
(``schema/lb-config.schema.json``) and by the annotated ``example.yaml``.  JSON documents with the
same structure (``pcapflow lb show --format json``) are read by the same loader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from pcapflow.errors import ConfigError
from pcapflow.lbconfig.draft import LbDraft, Loaded, Placed, assemble
from pcapflow.lbconfig.problems import Document, pointer_join
from pcapflow.lbconfig.vocab import (
    DISTRIBUTIONS,
    IDLE_TIMEOUT_DEFAULT_MIN,
    PROBE_COUNT_DEFAULT,
    PROBE_PROTOCOLS,
    PROTOCOLS,
    YAML_PROBE_INTERVAL_DEFAULT_S,
    canonical_ip,
    canonical_mac,
    canonical_network,
)
from pcapflow.model.lb import (
    AZURE_PROBE_SOURCE,
    Distribution,
    Frontend,
    InboundNatRule,
    LbConfig,
    LoadBalancer,
    Member,
    OutboundRule,
    Probe,
    ProbeProtocol,
    Protocol,
    Rule,
)

FORMAT_VERSION = 1
SCHEMA_RESOURCE = "schema/lb-config.schema.json"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the build has it


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the YAML format."""
    text = resources.files("pcapflow.lbconfig").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


# ---- parsing with line numbers ---------------------------------------------------------------


def parse(text: str, doc: Document) -> Any:
    """Parse YAML (or JSON) text; fill ``doc.lines``; report duplicate keys.  Raises ConfigError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise doc.fail("", f"not valid YAML{where}: {problem}") from None
    if node is None:
        raise doc.fail("", "empty document")
    if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
        raise ConfigError(
            f"{doc.name}: its YAML aliases expand it beyond {MAX_EXPANDED_NODES:,} values "
            "(a 'billion laughs' document?); write the configuration without nested aliases"
        )
    _index_lines(node, "", doc)
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader
    except yaml.YAMLError as exc:  # pragma: no cover - compose succeeded, construct rarely fails
        raise doc.fail("", f"not valid YAML: {str(exc).splitlines()[0]}") from None


MAX_JSON_LINE_INDEX_BYTES = 8 * 1024 * 1024
MAX_EXPANDED_NODES = 1_000_000  # a 10k-member pool of full member objects is about 110k


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes the document holds once every alias is expanded (shared nodes counted once
    per use); linear in the distinct nodes.  A recursive alias counts once here: it ends later as a
    RecursionError, reported as "nested too deeply"."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1
    total = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            total += _expanded_size(key_node, sizes) + _expanded_size(value_node, sizes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _expanded_size(item, sizes)
    sizes[id(node)] = total
    return total


def index_json_lines(text: str, doc: Document) -> None:
    """Best effort: line numbers for a JSON document's pointers (JSON is, nearly, YAML)."""
    if len(text) > MAX_JSON_LINE_INDEX_BYTES:
        return
    problems = len(doc.problems)
    try:
        node = yaml.compose(text, Loader=_Loader)
        if node is not None:
            _index_lines(node, "", doc)
    except (yaml.YAMLError, RecursionError):
        doc.lines.clear()  # valid JSON that YAML 1.1 rejects (tabs ...): pointers alone
    del doc.problems[problems:]  # json.loads decided already; duplicate keys are not ours


def _index_lines(node: yaml.Node, pointer: str, doc: Document) -> None:
    doc.lines.setdefault(pointer, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = pointer_join(pointer, key)
            if key in seen:
                doc.lines[child + "#dup"] = key_node.start_mark.line + 1
                doc.report(child, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
            doc.lines.setdefault(child, key_node.start_mark.line + 1)
            _index_lines(value_node, child, doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, pointer_join(pointer, i), doc)


# ---- schema validation -----------------------------------------------------------------------


def check_schema(data: Any, doc: Document) -> bool:
    """Report every schema violation; True when there is none."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        pointer = pointer_join("", *error.absolute_path)
        doc.report(pointer, _schema_message(error))
    return not errors


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return _schema_message(best)
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return f"{error.instance!r} is not one of: {allowed}"
    message = str(error.message)
    if error.validator == "additionalProperties":
        return message.replace("Additional properties are not allowed", "unknown key(s)")
    return message


# ---- document -> drafts ----------------------------------------------------------------------


def load_yaml(data: Any, doc: Document) -> Loaded:
    """Turn a parsed pcapflow YAML/JSON document into a loaded configuration."""
    if not check_schema(data, doc):
        return assemble([], doc.problems, doc.name)
    drafts = [
        _lb(lb, pointer_join("/load_balancers", i), doc)
        for i, lb in enumerate(data.get("load_balancers", []))
    ]
    return assemble(drafts, doc.problems, doc.name)


def _address(value: str, pointer: str, doc: Document) -> str:
    canon = canonical_ip(value)
    if canon is None:
        doc.report(pointer, f"{value!r} is not an IP address")
        return value
    return canon


def _lb(data: Mapping[str, Any], at: str, doc: Document) -> LbDraft:
    lb = LbDraft(data["name"], doc.origin(at))
    for key in (
        "cloud",
        "sku",
        "internal",
        "resource_group",
        "subscription",
        "location",
        "hairpin_mode",
    ):
        if data.get(key) is not None:
            lb.attrs[key] = data[key]
    for j, fe in enumerate(data.get("frontends", [])):
        lb.frontends.append(_frontend(fe, pointer_join(at, "frontends", j), doc))
    for j, pool in enumerate(data.get("pools", [])):
        p_at = pointer_join(at, "pools", j)
        draft = lb.pool(pool["name"], doc.origin(p_at))
        if draft.origin.pointer != p_at:
            doc.report(pointer_join(p_at, "name"), f"duplicate pool name {pool['name']!r}")
        for k, member in enumerate(pool.get("members", [])):
            m_at = pointer_join(p_at, "members", k)
            draft.members.append(Placed(_member(member, m_at, doc), doc.origin(m_at)))
    for j, probe in enumerate(data.get("probes", [])):
        lb.probes.append(_probe(probe, pointer_join(at, "probes", j), doc))
    only_fe = lb.frontends[0].value.name if len(lb.frontends) == 1 else None
    only_pool = lb.pools[0].name if len(lb.pools) == 1 else None
    for j, rule in enumerate(data.get("rules", [])):
        lb.rules.append(_rule(rule, pointer_join(at, "rules", j), doc, only_fe, only_pool))
    for j, nat in enumerate(data.get("inbound_nat_rules", [])):
        lb.nats.append(_nat(nat, pointer_join(at, "inbound_nat_rules", j), doc, only_fe))
    for j, out in enumerate(data.get("outbound_rules", [])):
        o_at = pointer_join(at, "outbound_rules", j)
        rule_out = OutboundRule(
            name=out["name"],
            frontends=tuple(out["frontends"]),
            pool=out["pool"],
            protocol=PROTOCOLS[str(out.get("protocol", "all")).casefold()],
            allocated_ports=out.get("allocated_ports"),
            idle_timeout_min=out.get("idle_timeout", IDLE_TIMEOUT_DEFAULT_MIN),
        )
        lb.outbounds.append(Placed(rule_out, doc.origin(o_at), _fields(o_at, out, doc)))
    return lb


def _fields(at: str, data: Mapping[str, Any], doc: Document) -> dict[str, Any]:
    return {key: doc.origin(pointer_join(at, key)) for key in data}


def _frontend(data: Mapping[str, Any], at: str, doc: Document) -> Placed[Frontend]:
    subnet = data.get("subnet")
    if subnet is not None and canonical_network(subnet) is None:
        doc.report(pointer_join(at, "subnet"), f"{subnet!r} is not a CIDR prefix")
    fe = Frontend(
        name=data["name"],
        address=_address(data["address"], pointer_join(at, "address"), doc),
        private=data.get("private", True),
        subnet=(canonical_network(subnet) or subnet) if subnet is not None else None,
        zones=tuple(str(z) for z in data.get("zones", ())),
        local_on_members=data.get("local_on_members", False),
    )
    return Placed(fe, doc.origin(at), _fields(at, data, doc))


def _member(data: str | Mapping[str, Any], at: str, doc: Document) -> Member:
    if isinstance(data, str):
        return Member(_address(data, at, doc))
    address: str = data["address"]
    mac = data.get("mac")
    if mac is not None and canonical_mac(mac) is None:
        doc.report(pointer_join(at, "mac"), f"{mac!r} is not a MAC address")
    return Member(
        address=_address(address, pointer_join(at, "address"), doc),
        vm=data.get("vm"),
        nic=data.get("nic"),
        ip_config=data.get("ip_config"),
        mac=(canonical_mac(mac) or mac) if mac is not None else None,
        os=data.get("os"),
        node=data.get("node"),
    )


def _probe(data: Mapping[str, Any], at: str, doc: Document) -> Placed[Probe]:
    probe = Probe(
        name=data["name"],
        protocol=PROBE_PROTOCOLS[data["protocol"].casefold()],
        port=data["port"],
        path=data.get("path"),
        interval_s=data.get("interval", YAML_PROBE_INTERVAL_DEFAULT_S),
        count=data.get("count", PROBE_COUNT_DEFAULT),
        source=_probe_source(data, at, doc),
        source_ranges=tuple(
            _network(n, pointer_join(at, "source_ranges", i), doc)
            for i, n in enumerate(data.get("source_ranges", ()))
        ),
    )
    return Placed(probe, doc.origin(at), _fields(at, data, doc))


def _probe_source(data: Mapping[str, Any], at: str, doc: Document) -> str:
    """``source``; absent: Azure's address, unless ``source_ranges`` says where probes come from."""
    if "source" not in data:
        return "" if data.get("source_ranges") else AZURE_PROBE_SOURCE
    if data["source"] == "":  # no single source address (see source_ranges; may be none known)
        return ""
    return _address(data["source"], pointer_join(at, "source"), doc)


def _network(value: str, pointer: str, doc: Document) -> str:
    canon = canonical_network(value)
    if canon is None:
        doc.report(pointer, f"{value!r} is not an IP network")
        return value
    return canon


def _needed(
    data: Mapping[str, Any], key: str, only: str | None, at: str, doc: Document, what: str
) -> str:
    value: str | None = data.get(key, only)
    if value is None:
        doc.report(at, f"{key!r} is required when the balancer has more or fewer than one {what}")
        return ""
    return str(value)


def _rule(
    data: Mapping[str, Any], at: str, doc: Document, only_fe: str | None, only_pool: str | None
) -> Placed[Rule]:
    rule = Rule(
        name=data["name"],
        frontend=_needed(data, "frontend", only_fe, at, doc, "frontend"),
        protocol=PROTOCOLS[data["protocol"].casefold()],
        frontend_port=data["frontend_port"],
        backend_port=data.get("backend_port", data["frontend_port"]),
        pool=_needed(data, "pool", only_pool, at, doc, "pool"),
        probe=data.get("probe"),
        floating_ip=data.get("floating_ip", False),
        idle_timeout_min=data.get("idle_timeout", IDLE_TIMEOUT_DEFAULT_MIN),
        tcp_reset=data.get("tcp_reset", False),
        distribution=DISTRIBUTIONS[data.get("distribution", "default")],
        disable_outbound_snat=data.get("disable_outbound_snat", False),
        preserve_client_ip=data.get("preserve_client_ip", True),
    )
    return Placed(rule, doc.origin(at), _fields(at, data, doc))


def _nat(
    data: Mapping[str, Any], at: str, doc: Document, only_fe: str | None
) -> Placed[InboundNatRule]:
    target = data.get("target")
    nat = InboundNatRule(
        name=data["name"],
        frontend=_needed(data, "frontend", only_fe, at, doc, "frontend"),
        protocol=PROTOCOLS[data["protocol"].casefold()],
        frontend_port=data["frontend_port"],
        backend_port=data["backend_port"],
        target=_address(target, pointer_join(at, "target"), doc) if target is not None else None,
        floating_ip=data.get("floating_ip", False),
    )
    return Placed(nat, doc.origin(at), _fields(at, data, doc))


# ---- model -> document -----------------------------------------------------------------------


def to_dict(cfg: LbConfig, *, explicit: bool = False) -> dict[str, Any]:
    """The YAML/JSON structure of ``cfg``.

    ``explicit`` writes every field (None as null): the stable JSON form of ``pcapflow lb show``.
    Otherwise unknown (None) values and empty lists are left out, which is what ``to_yaml`` writes.
    """
    out: dict[str, Any] = {"version": FORMAT_VERSION}
    if explicit:
        out = {"format": "pcapflow-lb", "version": FORMAT_VERSION, "sources": list(cfg.sources)}
    out["load_balancers"] = [_lb_dict(lb, explicit) for lb in cfg.load_balancers]
    return out


def _prune(data: dict[str, Any], explicit: bool) -> dict[str, Any]:
    if explicit:
        return data
    return {k: v for k, v in data.items() if v is not None and v != [] and v != ()}


def _lb_dict(lb: LoadBalancer, explicit: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": lb.name,
        "cloud": lb.cloud,
        "sku": lb.sku,
        "internal": lb.internal,
        "resource_group": lb.resource_group,
        "subscription": lb.subscription,
        "location": lb.location,
        **_unless_default("hairpin_mode", lb.hairpin_mode, None),
        "frontends": [
            _prune(
                {
                    "name": f.name,
                    "address": f.address,
                    "private": f.private,
                    "subnet": f.subnet,
                    "zones": list(f.zones),
                    **_unless_default("local_on_members", f.local_on_members, False),
                },
                explicit,
            )
            for f in lb.frontends
        ],
        "pools": [
            {"name": p.name, "members": [_member_dict(m, explicit) for m in p.members]}
            for p in lb.pools
        ],
        "probes": [_probe_dict(p, explicit) for p in lb.probes],
        "rules": [_rule_dict(r) for r in lb.rules],
        "inbound_nat_rules": [
            _prune(
                {
                    "name": n.name,
                    "frontend": n.frontend,
                    "protocol": n.protocol.value,
                    "frontend_port": n.frontend_port,
                    "backend_port": n.backend_port,
                    "target": n.target,
                    "floating_ip": n.floating_ip,
                },
                explicit,
            )
            for n in lb.inbound_nat_rules
        ],
        "outbound_rules": [
            _prune(
                {
                    "name": o.name,
                    "frontends": list(o.frontends),
                    "pool": o.pool,
                    "protocol": o.protocol.value,
                    "allocated_ports": o.allocated_ports,
                    "idle_timeout": o.idle_timeout_min,
                },
                explicit,
            )
            for o in lb.outbound_rules
        ],
    }
    return _prune(data, explicit)


def _member_dict(m: Member, explicit: bool) -> dict[str, Any]:
    return _prune(
        {
            "address": m.address,
            "vm": m.vm,
            "nic": m.nic,
            "ip_config": m.ip_config,
            "mac": m.mac,
            "os": m.os,
            **_unless_default("node", m.node, None),
        },
        explicit,
    )


def _probe_dict(p: Probe, explicit: bool) -> dict[str, Any]:
    return _prune(
        {
            "name": p.name,
            "protocol": p.protocol.value,
            "port": p.port,
            "path": p.path,
            "interval": p.interval_s,
            "count": p.count,
            **({"source": p.source} if p.source or not p.source_ranges else {}),
            **_unless_default("source_ranges", list(p.source_ranges), []),
        },
        explicit,
    )


def _rule_dict(r: Rule) -> dict[str, Any]:
    return {
        "name": r.name,
        "frontend": r.frontend,
        "protocol": r.protocol.value,
        "frontend_port": r.frontend_port,
        "backend_port": r.backend_port,
        "pool": r.pool,
        "probe": r.probe,
        "floating_ip": r.floating_ip,
        "idle_timeout": r.idle_timeout_min,
        "tcp_reset": r.tcp_reset,
        "distribution": r.distribution.value,
        "disable_outbound_snat": r.disable_outbound_snat,
        **_unless_default("preserve_client_ip", r.preserve_client_ip, True),
    }


def _unless_default(key: str, value: object, default: object) -> dict[str, Any]:
    """Platform-specific fields are written only where they differ from the default, so the
    documents of balancers that do not use them (every Azure one) stay as they were."""
    return {} if value == default else {key: value}


class _FlowMap(dict[str, Any]):
    """A mapping written on one line (members, probes)."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_flow(dumper: yaml.SafeDumper, data: _FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_YAML_BREAKS = ("\x85", "\u2028", "\u2029")  # line breaks to YAML, not to Python


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = '"' if any(c in data for c in _YAML_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(_FlowMap, _represent_flow)
_Dumper.add_representer(str, _represent_str)


def to_yaml(cfg: LbConfig) -> str:
    """``cfg`` as pcapflow YAML (format version 1); ``load_text`` reads it back unchanged."""
    data = to_dict(cfg)
    for lb in data["load_balancers"]:
        for pool in lb.get("pools", []):
            pool["members"] = [_FlowMap(m) for m in pool["members"]]
        lb["probes"] = [_FlowMap(p) for p in lb.get("probes", [])] or None
        if lb["probes"] is None:
            del lb["probes"]
    header = "# pcapflow load-balancer config (format version 1)"
    if cfg.sources:
        header += "\n# loaded from: " + ", ".join(cfg.sources)
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"{header}\n{body}"


__all__ = [
    "FORMAT_VERSION",
    "Distribution",
    "ProbeProtocol",
    "Protocol",
    "load_yaml",
    "parse",
    "schema",
    "to_dict",
    "to_yaml",
]
