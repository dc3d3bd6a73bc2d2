"""Semantic checks on in-memory models: one test per rule of what Azure rejects."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pcapflow.lbconfig import check
from pcapflow.lbconfig.problems import Severity
from pcapflow.model.lb import (
    BackendPool,
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

FE = Frontend("fe", "10.2.1.100", subnet="10.2.1.0/24")
POOL = BackendPool("be", (Member("10.2.1.4"), Member("10.2.1.6")))
PROBE = Probe("p", ProbeProtocol.TCP, 80)
RULE = Rule("r", "fe", Protocol.TCP, 80, 80, "be", probe="p")
LB = LoadBalancer("ilb", (FE,), (POOL,), (RULE,), (PROBE,))


def problems(lb: LoadBalancer, *more: LoadBalancer) -> list[tuple[str, str, Severity]]:
    return [(p.pointer, p.message, p.severity) for p in check(LbConfig((lb, *more)))]


def errors(lb: LoadBalancer, *more: LoadBalancer) -> list[str]:
    return [m for _, m, s in problems(lb, *more) if s is Severity.ERROR]


def test_the_seed_topology_is_valid() -> None:
    assert problems(LB) == []


def test_missing_references() -> None:
    lb = replace(LB, rules=(replace(RULE, frontend="nope", pool="gone", probe="x"),))
    assert errors(lb) == [
        "rule 'r' names missing frontend 'nope'",
        "rule 'r' names missing backend pool 'gone'",
        "rule 'r' names missing probe 'x'",
    ]
    nat = InboundNatRule("n", "fe2", Protocol.TCP, 50001, 22)
    out = OutboundRule("o", ("fe",), "be2")
    lb = replace(LB, inbound_nat_rules=(nat,), outbound_rules=(out,), internal=False)
    assert errors(lb) == [
        "inbound NAT rule 'n' names missing frontend 'fe2'",
        "outbound rule 'o' names missing backend pool 'be2'",
    ]


def test_locations_are_model_pointers_for_in_memory_configs() -> None:
    lb = replace(LB, rules=(replace(RULE, probe="x"),))
    assert problems(lb)[0][0] == "/load_balancers/0/rules/0/probe"


def test_duplicates() -> None:
    lb = replace(LB, frontends=(FE, replace(FE, name="fe-b")), rules=(RULE, RULE))
    found = errors(lb)
    assert "duplicate frontend: 10.2.1.100 (ilb/fe-b) is already frontend ilb/fe" in found
    assert "duplicate rule name 'r'" in found
    assert any("already taken by rule 'r'" in m for m in found)
    assert "load balancer name 'ilb' appears more than once" in errors(LB, LB)


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        (replace(RULE, frontend_port=65535), "frontend port 65535 is out of range 0-65534"),
        (replace(RULE, backend_port=70000), "backend port 70000 is out of range 0-65535"),
        (replace(RULE, idle_timeout_min=101), "idle timeout 101 min is outside 4-100"),
        (replace(RULE, protocol=Protocol.ALL), "protocol all is HA ports and needs"),
        (replace(RULE, frontend_port=0), "frontend port 0 (any port) needs protocol all"),
    ],
)
def test_rule_values(rule: Rule, needle: str) -> None:
    assert any(needle in m for m in errors(replace(LB, rules=(rule,))))


def test_an_idle_timeout_shorter_than_azure_allows_is_a_warning() -> None:
    found = problems(replace(LB, rules=(replace(RULE, idle_timeout_min=1),)))
    assert [(m, s) for _, m, s in found] == [
        (
            "rule 'r': idle timeout 1 min is outside 4-100 "
            "(Azure refuses it; analysed as declared)",
            Severity.WARNING,
        )
    ]


def test_ha_ports_rules() -> None:
    ha = replace(RULE, protocol=Protocol.ALL, frontend_port=0, backend_port=0)
    assert problems(replace(LB, rules=(ha,))) == []
    assert errors(replace(LB, rules=(ha,), internal=False)) == [
        "rule 'r': HA ports exist only on internal load balancers"
    ]
    basic = errors(replace(LB, rules=(ha,), sku="Basic"))
    assert basic == ["rule 'r': HA ports need the Standard SKU (this is Basic)"]
    second = replace(ha, name="r2", floating_ip=True)
    assert any(
        "already has the HA-ports rule 'r'" in m for m in errors(replace(LB, rules=(ha, second)))
    )
    warned = problems(replace(LB, rules=(replace(ha, tcp_reset=True),)))
    assert [s for _, _, s in warned] == [Severity.WARNING]


def test_floating_ip_with_ipv6_internal_frontend() -> None:
    fe6 = Frontend("fe", "fd00::100", subnet="fd00::/64")
    pool6 = BackendPool("be", (Member("fd00::4"),))
    lb = replace(LB, frontends=(fe6,), pools=(pool6,), rules=(replace(RULE, floating_ip=True),))
    assert errors(lb) == [
        "rule 'r': floating IP does not work with the IPv6 frontend fd00::100 of an internal "
        "load balancer"
    ]
    public = replace(lb, frontends=(replace(fe6, private=False),), internal=False)
    assert errors(public) == []


def test_members_outside_subnet_or_family() -> None:
    pool = BackendPool("be", (Member("10.2.1.4"), Member("10.2.2.9"), Member("fd00::4")))
    assert errors(replace(LB, pools=(pool,))) == [
        "member 10.2.2.9 of pool 'be' is outside frontend 'fe''s subnet 10.2.1.0/24",
        "member fd00::4 of pool 'be' is IPv6 but frontend 'fe' (10.2.1.100) is not",
    ]
    no_subnet = replace(LB, frontends=(replace(FE, subnet=None),), pools=(pool,))
    assert len(errors(no_subnet)) == 1  # the family mismatch only: the subnet is unknown


def test_pool_members_and_empty_pool() -> None:
    twice = BackendPool("be", (Member("10.2.1.4"), Member("10.2.1.4")))
    assert errors(replace(LB, pools=(twice,))) == ["member 10.2.1.4 is listed twice in pool 'be'"]
    empty = problems(replace(LB, pools=(BackendPool("be"),)))
    assert [(m, s) for _, m, s in empty] == [
        ("rule 'r': backend pool 'be' has no members", Severity.WARNING)
    ]


def test_probes() -> None:
    http = Probe("p", ProbeProtocol.HTTP, 80)
    assert errors(replace(LB, probes=(http,))) == ["probe 'p': an http probe needs a path"]
    smtp = Probe("p", ProbeProtocol.HTTPS, 25, path="/")
    assert errors(replace(LB, probes=(smtp,))) == ["probe 'p': HTTP(S) probes cannot use port 25"]
    fast = Probe("p", ProbeProtocol.TCP, 80, interval_s=2)
    assert errors(replace(LB, probes=(fast,))) == [
        "probe 'p': interval 2 s is below the minimum of 5 s"
    ]
    assert errors(replace(LB, probes=(Probe("p", ProbeProtocol.TCP, 0),))) == [
        "probe 'p': port 0 is out of range 1-65535"
    ]


def test_nat_ports_and_outbound_on_internal() -> None:
    nat = InboundNatRule("n", "fe", Protocol.TCP, 0, 70000)
    assert errors(replace(LB, inbound_nat_rules=(nat,))) == [
        "inbound NAT rule 'n': frontend port 0 is out of range 1-65534",
        "inbound NAT rule 'n': backend port 70000 is out of range 1-65535",
    ]
    out = OutboundRule("o", ("fe",), "be")
    assert errors(replace(LB, outbound_rules=(out,))) == [
        "outbound rule 'o' on an internal load balancer"
    ]


def test_basic_sku_warning() -> None:
    found = problems(replace(LB, sku="Basic"))
    assert [(m, s) for _, m, s in found] == [
        ("Basic SKU load balancers were retired on 30 Sep 2025", Severity.WARNING)
    ]
