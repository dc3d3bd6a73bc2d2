"""pcapflow YAML: loading, schema errors with line numbers, round trips, the shipped schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load, load_text, schema, to_dict, to_yaml, validate_text
from pcapflow.model.lb import (
    BackendPool,
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

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "pcapflow" / "lbconfig" / "example.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "lbconfig"


def test_example_loads_into_the_seed_topology() -> None:
    cfg = load([str(EXAMPLE)])
    (lb,) = cfg.load_balancers
    assert lb.name == "ilb-web" and lb.internal and lb.resource_group == "rg-spoke-we-02"
    assert [f.address for f in lb.frontends] == ["10.2.1.100"]
    assert lb.frontends[0].subnet == "10.2.1.0/24"
    assert lb.pools[0].addresses == ("10.2.1.4", "10.2.1.6")
    assert lb.pools[0].members[0].vm == "web01" and lb.pools[0].members[0].os == "linux"
    rule = lb.rules[0]
    assert (rule.protocol, rule.frontend_port, rule.backend_port) == (Protocol.TCP, 80, 80)
    assert rule.probe == "http-probe" and not rule.floating_ip
    assert rule.idle_timeout_min == 4 and rule.distribution is Distribution.DEFAULT
    assert lb.probes[0].protocol is ProbeProtocol.HTTP and lb.probes[0].interval_s == 5
    assert cfg.sources == (str(EXAMPLE),)
    # the queries the analysis uses work on it
    match = cfg.explain("10.2.1.100", 80, "10.2.1.4", 80, "tcp")
    assert match is not None and match.rule.name == "http" and len(match.members) == 2
    assert cfg.is_probe_source("168.63.129.16") and cfg.is_member("10.2.1.6")


def test_example_validates_against_the_published_schema() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    jsonschema.Draft202012Validator(schema()).validate(data)


def test_docs_publish_the_shipped_schema() -> None:
    published = ROOT / "docs" / "lb-config.schema.json"
    assert json.loads(published.read_text()) == schema()


def test_short_hand_document() -> None:
    text = """
load_balancers:
  - name: quick
    frontends: [{name: fe, address: 10.0.0.100}]
    pools: [{name: be, members: [10.0.0.4, 10.0.0.5]}]
    rules: [{name: web, protocol: TCP, frontend_port: 443}]
"""
    (lb,) = load_text(text).load_balancers
    rule = lb.rules[0]
    assert (rule.frontend, rule.pool, rule.backend_port) == ("fe", "be", 443)
    assert rule.protocol is Protocol.TCP and lb.internal
    assert lb.pools[0].addresses == ("10.0.0.4", "10.0.0.5")


def test_ipv6_addresses_are_canonical() -> None:
    text = """
load_balancers:
  - name: v6
    frontends: [{name: fe, address: "FD00:0:0:0::100"}]
    pools: [{name: be, members: ["fd00::0004"]}]
    rules: [{name: web, protocol: tcp, frontend_port: 80}]
"""
    (lb,) = load_text(text).load_balancers
    assert lb.frontends[0].address == "fd00::100"
    assert lb.pools[0].addresses == ("fd00::4",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("load_balancers: [{name: a, frontends: [{name: f}]}]\n", "'address' is a required"),
        (
            "load_balancers:\n  - name: a\n    rules:\n      - {name: r, protocol: tcp,\n"
            "         frontend_port: eighty}\n",
            "bad.yaml:5: /load_balancers/0/rules/0/frontend_port",
        ),
        ("load_balancers:\n  - name: a\n    fronends: []\n", "unknown key(s) ('fronends'"),
        (
            "load_balancers:\n- name: a\n  rules: [{name: r, protocol: sctp, frontend_port: 1}]\n",
            "'sctp' is not one of",
        ),
        (
            "load_balancers:\n  - name: a\n    frontends: [{name: f, address: 10.0.0.300}]\n",
            "not an IP address",
        ),
        ("load_balancers:\n  - name: a\n    name: b\n", "duplicate key 'name'"),
        ("load_balancers: [\n", "not valid YAML at line"),
        ("version: 2\nload_balancers: []\n", "1 was expected"),
    ],
)
def test_bad_documents_give_one_line_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, name="bad.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("bad.yaml")
    assert needle in message


def test_schema_errors_carry_line_numbers() -> None:
    text = (
        "load_balancers:\n"
        "  - name: a\n"
        "    frontends:\n"
        "      - name: f\n"
        "        address: 10.0.0.1\n"
        "    probes:\n"
        "      - {name: p, protocol: tcp, port: 80, interval: 0}\n"
    )
    (problem,) = validate_text(text, name="x.yaml")
    assert problem.line == 7 and problem.pointer == "/load_balancers/0/probes/0/interval"
    assert problem.file == "x.yaml"


def test_rule_without_frontend_needs_a_single_frontend() -> None:
    text = """
load_balancers:
  - name: a
    frontends: [{name: f1, address: 10.0.0.1}, {name: f2, address: 10.0.0.2}]
    pools: [{name: be, members: [10.0.0.4]}]
    rules: [{name: r, protocol: tcp, frontend_port: 80}]
"""
    with pytest.raises(ConfigError, match="'frontend' is required"):
        load_text(text)


def test_json_form_is_loadable_and_round_trips() -> None:
    cfg = load([str(EXAMPLE)])
    text = json.dumps(to_dict(cfg, explicit=True))
    again = load_text(text, name="show.json")
    assert again.load_balancers == cfg.load_balancers


def test_yaml_round_trip_of_the_example() -> None:
    cfg = load([str(EXAMPLE)])
    text = to_yaml(cfg)
    assert text.startswith("# pcapflow load-balancer config")
    assert load_text(text).load_balancers == cfg.load_balancers
    assert to_yaml(load_text(text)).split("\n", 2)[2] == text.split("\n", 2)[2]


# ---- property test: any model the YAML format can hold survives model -> YAML -> model ------

_names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
_ipv4 = st.ip_addresses(v=4).map(str)
_addr = st.one_of(_ipv4, st.ip_addresses(v=6).map(str))
_text = st.one_of(st.none(), st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s))
_ports = st.integers(min_value=0, max_value=65535)


@st.composite
def _lbs(draw: st.DrawFn) -> LoadBalancer:
    fe_names = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
    pool_names = draw(st.lists(_names, min_size=1, max_size=2, unique=True))
    probe_names = draw(st.lists(_names, max_size=2, unique=True))
    frontends = tuple(
        Frontend(
            n,
            draw(_addr),
            private=draw(st.booleans()),
            subnet=draw(st.one_of(st.none(), st.just("10.2.1.0/24"))),
            zones=tuple(draw(st.lists(st.sampled_from(["1", "2", "3"]), max_size=3))),
        )
        for n in fe_names
    )
    members = st.builds(
        Member,
        address=_addr,
        vm=_text,
        nic=_text,
        ip_config=_text,
        mac=st.one_of(st.none(), st.just("00:0d:3a:2b:4c:5d")),
        os=st.sampled_from([None, "linux", "windows"]),
    )
    pools = tuple(BackendPool(n, tuple(draw(st.lists(members, max_size=3)))) for n in pool_names)
    probes = tuple(
        Probe(
            n,
            draw(st.sampled_from(list(ProbeProtocol))),
            draw(_ports),
            path=draw(_text),
            interval_s=draw(st.integers(1, 300)),
            count=draw(st.integers(1, 10)),
            source=draw(_ipv4),
        )
        for n in probe_names
    )
    rules = tuple(
        Rule(
            name=draw(_names),
            frontend=draw(st.sampled_from(fe_names)),
            protocol=draw(st.sampled_from(list(Protocol))),
            frontend_port=draw(_ports),
            backend_port=draw(_ports),
            pool=draw(st.sampled_from(pool_names)),
            probe=draw(st.one_of(st.none(), st.sampled_from(probe_names or ["x"]))),
            floating_ip=draw(st.booleans()),
            idle_timeout_min=draw(st.integers(4, 100)),
            tcp_reset=draw(st.booleans()),
            distribution=draw(st.sampled_from(list(Distribution))),
            disable_outbound_snat=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    nats = tuple(
        InboundNatRule(
            draw(_names),
            draw(st.sampled_from(fe_names)),
            draw(st.sampled_from([Protocol.TCP, Protocol.UDP])),
            draw(_ports),
            draw(_ports),
            target=draw(st.one_of(st.none(), _ipv4)),
            floating_ip=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    outbound = tuple(
        OutboundRule(
            draw(_names),
            tuple(draw(st.lists(st.sampled_from(fe_names), min_size=1, max_size=2))),
            draw(st.sampled_from(pool_names)),
            allocated_ports=draw(st.one_of(st.none(), st.integers(0, 64000))),
            idle_timeout_min=draw(st.integers(4, 100)),
        )
        for _ in range(draw(st.integers(0, 1)))
    )
    return LoadBalancer(
        name=draw(_names),
        frontends=frontends,
        pools=pools,
        rules=rules,
        probes=probes,
        inbound_nat_rules=nats,
        outbound_rules=outbound,
        cloud=draw(st.sampled_from(["azure", "aws", "gcp", "kubernetes", "generic"])),
        sku=draw(st.sampled_from(["Standard", "Basic", "Gateway"])),
        internal=draw(st.booleans()),
        resource_group=draw(_text),
        subscription=draw(_text),
        location=draw(_text),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(_lbs(), min_size=1, max_size=2))
def test_yaml_round_trip_property(lbs: list[LoadBalancer]) -> None:
    cfg = LbConfig(tuple(lbs), sources=("generated",))
    again = load_text(to_yaml(cfg), name="generated.yaml")
    assert again.load_balancers == cfg.load_balancers
    json_again = load_text(json.dumps(to_dict(cfg, explicit=True)), name="generated.json")
    assert json_again.load_balancers == cfg.load_balancers
