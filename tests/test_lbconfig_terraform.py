"""`terraform show -json` output: state (with child modules) and saved plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load, load_text, validate
from pcapflow.model.lb import Distribution, ProbeProtocol, Protocol

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"


def f(name: str) -> str:
    return str(FIX / name)


def test_state_with_modules_associations_and_ip_pool() -> None:
    (lb,) = load([f("tf-state.json")]).load_balancers
    assert (lb.name, lb.sku, lb.internal, lb.resource_group) == (
        "ilb-we-02-web",
        "Standard",
        True,
        "rg-spoke-we-02",
    )
    fe = lb.frontends[0]
    assert (fe.address, fe.subnet, fe.zones) == ("10.2.1.100", "10.2.1.0/24", ("1", "2", "3"))
    nic_pool, ip_pool = lb.pools
    assert nic_pool.addresses == ("10.2.1.4", "10.2.1.6")
    web01, web02 = nic_pool.members
    assert (web01.vm, web01.os, web01.mac) == ("vm-we-02-web01", "linux", "00:0d:3a:2b:4c:5d")
    assert (web02.vm, web02.os) == ("vm-we-02-web02", "windows")  # NICs live in child modules
    assert ip_pool.addresses == ("10.2.1.6",)
    http, dns = lb.rules
    assert (http.protocol, http.probe, http.floating_ip, http.pool) == (
        Protocol.TCP,
        "probe-tcp-80",
        False,
        "bepool-web",
    )
    # older provider names enable_floating_ip / enable_tcp_reset are read too
    assert (dns.protocol, dns.floating_ip, dns.probe) == (Protocol.UDP, True, None)
    assert dns.distribution is Distribution.SOURCE_IP
    assert lb.inbound_nat_rules[0].target == "10.2.1.4"
    assert validate([f("tf-state.json")]) == []


def test_plan_links_resources_through_configuration_references() -> None:
    (lb,) = load([f("tf-plan.json")]).load_balancers
    assert (lb.name, lb.location) == ("ilb-app", "northeurope")
    assert lb.frontends[0].subnet == "10.50.1.0/24"  # subnet_id unknown: followed by reference
    (pool,) = lb.pools
    assert pool.addresses == ("10.50.1.10", "10.50.1.11")  # count.index pairs nic[i] with assoc[i]
    assert [m.vm for m in pool.members] == ["vm-app-0", "vm-app-1"]
    assert {m.os for m in pool.members} == {"linux"}
    (rule,) = lb.rules
    assert (rule.frontend_port, rule.backend_port, rule.idle_timeout_min, rule.tcp_reset) == (
        80,
        8080,
        10,
        True,
    )
    assert rule.probe == "probe-http" and rule.pool == "pool-app"
    assert lb.probes[0].protocol is ProbeProtocol.HTTP and lb.probes[0].path == "/healthz"


def test_plan_with_dynamic_nic_addresses_reports_each_member() -> None:
    problems = [p for p in validate([f("tf-plan-dynamic.json")]) if p.severity.value == "error"]
    assert [p.pointer for p in problems] == [
        "/planned_values/root_module/resources/7",
        "/planned_values/root_module/resources/8",
    ]
    assert "nic-app-0" in problems[0].message and "after deployment" in problems[0].message
    with pytest.raises(ConfigError, match="nic-app-0"):
        load([f("tf-plan-dynamic.json")])


def test_rule_attribute_errors_point_at_the_terraform_attribute() -> None:
    data = json.loads((FIX / "tf-state.json").read_text())
    rule = next(r for r in data["values"]["root_module"]["resources"] if r["name"] == "http")
    rule["values"]["protocol"] = "Icmp"
    problems = validate_text_json(data)
    assert any(
        p.pointer == "/values/root_module/resources/5/values/protocol" and "Icmp" in p.message
        for p in problems
    )


def validate_text_json(data: object) -> list[object]:
    from pcapflow.lbconfig import validate_text

    return list(validate_text(json.dumps(data), name="state.json"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"format_version": "1.0", "values": {"root_module": {}}}', "no azurerm_lb resource"),
        ('{"format_version": "1.0", "values": 3}', "no values.root_module"),
    ],
)
def test_bad_terraform_documents_fail_in_one_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, name="tf.json")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_no_lb_fixture() -> None:
    with pytest.raises(ConfigError, match="no azurerm_lb"):
        load([f("tf-no-lb.json")])
