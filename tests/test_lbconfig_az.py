"""`az network lb show|list` JSON (current, legacy and nested shapes) and --nic resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load, load_text, validate
from pcapflow.lbconfig.problems import Severity
from pcapflow.model.lb import Distribution, ProbeProtocol, Protocol

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"
NICS = [str(FIX / "az-nic-show-web01.json"), str(FIX / "az-nic-list.json")]


def f(name: str) -> str:
    return str(FIX / name)


def test_current_shape_with_nic_vm_and_vnet_documents() -> None:
    cfg = load(
        [f("az-lb-show.json")],
        nic_files=[*NICS, f("az-vm-show-web02.json"), f("az-vnet-show.json")],
    )
    (lb,) = cfg.load_balancers
    assert (lb.name, lb.sku, lb.internal) == ("ilb-we-02-web", "Standard", True)
    assert lb.resource_group == "rg-spoke-we-02" and lb.location == "westeurope"
    assert lb.subscription == "3f2a8d1e-5b7c-4c2a-9e51-2b6f0c9d4a17"
    (fe,) = lb.frontends
    assert (fe.name, fe.address, fe.subnet, fe.zones) == (
        "fe-web",
        "10.2.1.100",
        "10.2.1.0/24",
        ("1", "2", "3"),
    )
    (pool,) = lb.pools
    web01, web02 = pool.members
    assert (web01.address, web01.vm, web01.nic, web01.mac) == (
        "10.2.1.4",
        "vm-we-02-web01",
        "vm-we-02-web01-nic1",
        "00:0d:3a:2b:4c:5d",
    )
    assert web01.ip_config is not None and web01.ip_config.endswith("/ipConfigurations/ipconfig1")
    assert web01.os is None  # no VM document for web01: unknown, not guessed
    assert (web02.address, web02.os) == ("10.2.1.6", "windows")
    (rule,) = lb.rules
    assert (rule.frontend, rule.pool, rule.probe) == ("fe-web", "bepool-web", "probe-tcp-80")
    assert (rule.protocol, rule.frontend_port, rule.backend_port) == (Protocol.TCP, 80, 80)
    assert rule.idle_timeout_min == 4 and not rule.floating_ip and not rule.tcp_reset
    (probe,) = lb.probes
    assert (probe.protocol, probe.port, probe.interval_s, probe.count) == (
        ProbeProtocol.TCP,
        80,
        5,
        1,
    )
    (nat,) = lb.inbound_nat_rules
    assert (nat.frontend_port, nat.backend_port, nat.target) == (50001, 3389, "10.2.1.4")
    match = cfg.explain("10.2.1.100", 80, "10.2.1.6", 80, "tcp")
    assert match is not None and len(match.members) == 2


def test_nic_based_pool_without_nic_documents_is_reported_not_guessed() -> None:
    with pytest.raises(ConfigError) as info:
        load([f("az-lb-show.json")])
    message = str(info.value)
    assert "\n" not in message
    assert "/backendAddressPools/0/backendIPConfigurations/0" in message
    assert "unresolvable NIC reference vm-we-02-web01-nic1/ipconfig1" in message
    assert "--nic" in message
    problems = validate([f("az-lb-show.json")])
    unresolved = [p for p in problems if "unresolvable NIC reference" in p.message]
    assert len(unresolved) == 2  # listed once per ipconfig, though the pool names each twice


def test_legacy_cli_casing() -> None:
    (lb,) = load([f("az-lb-show-legacy.json")], nic_files=NICS).load_balancers
    assert lb.frontends[0].address == "10.2.1.100"
    (rule,) = lb.rules
    assert rule.floating_ip and rule.distribution is Distribution.SOURCE_IP
    assert rule.idle_timeout_min == 15 and rule.frontend == "fe-web"
    (probe,) = lb.probes
    assert (probe.protocol, probe.path, probe.interval_s, probe.count) == (
        ProbeProtocol.HTTP,
        "/healthz",
        15,
        2,
    )
    assert lb.pools[0].addresses == ("10.2.1.4", "10.2.1.6")


def test_nested_rest_shape_ha_ports_ip_pool() -> None:
    (lb,) = load([f("az-rest-nested-haports.json")]).load_balancers
    (rule,) = lb.rules
    assert rule.ha_ports and rule.floating_ip and rule.disable_outbound_snat
    assert rule.distribution is Distribution.SOURCE_IP_PROTOCOL
    assert lb.pools[0].addresses == ("10.0.3.4", "10.0.3.5")
    assert lb.probes[0].count == 2  # probeThreshold
    cfg = load([f("az-rest-nested-haports.json")])
    # HA ports: every port and both protocols on the VIP, no port translation
    match = cfg.explain("10.0.3.10", 5432, "10.0.3.10", 5432, "udp")
    assert match is not None and match.rule.name == "rule-haports"


def test_create_output_wrapper_reads_like_show() -> None:
    created = load([f("az-lb-create-output.json")]).load_balancers
    shown = load([f("az-rest-nested-haports.json")]).load_balancers
    assert created == shown


def test_lb_list_with_public_frontend_and_scale_set_members() -> None:
    with pytest.raises(ConfigError, match="public-ip show"):
        load([f("az-lb-list-aks.json")])
    cfg = load([f("az-lb-list-aks.json")], nic_files=[f("az-aks-extras.json")])
    public, internal = cfg.load_balancers
    assert not public.internal and public.frontends[0].address == "20.67.1.23"
    assert not public.frontends[0].private and public.outbound_rules[0].pool == "kubernetes"
    assert internal.internal and internal.frontends[0].subnet == "10.224.0.0/16"
    assert [m.vm for m in internal.pools[0].members] == [
        "aks-nodepool1-12345678-vmss_0",
        "aks-nodepool1-12345678-vmss_1",
    ]
    assert internal.rules[0].floating_ip


def test_nic_documents_given_as_configs_are_used_as_nic_files() -> None:
    cfg = load([f("az-lb-show.json"), *NICS])
    assert cfg.load_balancers[0].pools[0].addresses == ("10.2.1.4", "10.2.1.6")
    with pytest.raises(ConfigError, match="only NIC/VM documents"):
        load(NICS)
    with pytest.raises(ConfigError, match="not NIC/VM/public-IP JSON"):
        load([f("az-lb-show.json")], nic_files=[f("az-lb-show-legacy.json")])


def test_invalid_document_lists_every_problem_with_pointers() -> None:
    problems = validate([f("az-lb-show-invalid.json")], nic_files=[*NICS, f("az-vnet-show.json")])
    found = {(p.pointer, p.severity, p.message.split(":")[0]) for p in problems}
    assert found == {
        ("/frontendIPConfigurations/1", Severity.ERROR, "duplicate frontend"),
        ("/loadBalancingRules/0/probe", Severity.ERROR, "rule 'rule-http-80' names missing probe"
         " 'probe-https-443'"),
        ("/loadBalancingRules/0/frontendPort", Severity.ERROR, "rule 'rule-http-80'"),
        ("/loadBalancingRules/1/enableTcpReset", Severity.WARNING, "rule 'rule-ha'"),
        ("/backendAddressPools/1/loadBalancerBackendAddresses/0", Severity.ERROR,
         "member 10.9.0.4 of pool 'bepool-ip' is outside frontend 'fe-web''s subnet 10.2.1.0/24"),
    }  # fmt: skip
    assert all(p.file.endswith("az-lb-show-invalid.json") for p in problems)
    lines = (FIX / "az-lb-show-invalid.json").read_text().splitlines()
    port = next(p for p in problems if p.pointer.endswith("frontendPort"))
    assert port.line is not None and '"frontendPort": 70000' in lines[port.line - 1]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"frontendIPConfigurations": [', "not valid JSON at line 1"),
        ('{"name": "x", "frontendIPConfigurations": {}}', "expected a list"),
        (
            '{"name": "x", "frontendIPConfigurations": [{"name": "f", '
            '"privateIPAddress": "1.2.3"}]}',
            "'1.2.3' is not an IP",
        ),
        (
            '{"name": "x", "frontendIPConfigurations": [{"name": "f", "privateIPAddress": '
            '"10.0.0.1"}], "loadBalancingRules": [{"name": "r", "protocol": "Sctp", '
            '"frontendPort": 1, "frontendIPConfiguration": {"id": "/x/frontendIPConfigurations/f"},'
            ' "backendAddressPool": {"id": "/x/backendAddressPools/p"}}]}',
            "unknown protocol 'Sctp'",
        ),
        ('{"cats": 1}', "cannot tell the configuration format"),
        ("[1, 2]", "cannot tell the configuration format"),
    ],
)
def test_bad_az_documents_fail_in_one_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, name="bad.json")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_forced_format_overrides_detection() -> None:
    text = (FIX / "az-rest-nested-haports.json").read_text()
    assert load_text(text, fmt="az").load_balancers[0].name == "ilb-nva"
    with pytest.raises(ConfigError, match="'load_balancers' is a required property"):
        load_text(text, fmt="yaml")
    with pytest.raises(ConfigError, match="unknown config format"):
        load_text(text, fmt="xml")


def test_json_is_stable_and_round_trips_through_yaml_format() -> None:
    from pcapflow.lbconfig import to_dict, to_yaml

    cfg = load([f("az-lb-show.json")], nic_files=NICS)
    again = load_text(to_yaml(cfg))
    assert again.load_balancers == cfg.load_balancers
    first = json.dumps(to_dict(cfg, explicit=True), sort_keys=False)
    second = json.dumps(to_dict(load([f("az-lb-show.json")], nic_files=NICS), explicit=True))
    assert first == second


def test_admin_state_down_and_nat_pools_are_warned_about() -> None:
    from pcapflow.lbconfig import validate_text

    data = json.loads((FIX / "az-rest-nested-haports.json").read_text())
    pool = data["properties"]["backendAddressPools"][0]["properties"]
    pool["loadBalancerBackendAddresses"][1]["properties"]["adminState"] = "Down"
    data["properties"]["inboundNatPools"] = [{"name": "vmss-ssh"}]
    problems = validate_text(json.dumps(data), name="x.json")
    assert [(p.severity, p.message.split(":")[0]) for p in problems] == [
        (Severity.WARNING, "pool 'be-nva'"),
        (Severity.WARNING, "inbound NAT pools (scale sets) are not modelled"),
    ]
    assert "adminState Down" in problems[0].message
