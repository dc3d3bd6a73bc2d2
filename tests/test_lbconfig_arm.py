"""ARM templates: the expression evaluator and the template loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load, load_text, validate
from pcapflow.lbconfig.arm_expr import Scope, evaluate, evaluate_value
from pcapflow.lbconfig.node import Unresolved
from pcapflow.model.lb import Distribution, ProbeProtocol

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"


def f(name: str) -> str:
    return str(FIX / name)


SCOPE = Scope(
    parameters={
        "lbName": "ilb-web",
        "ports": [80, 443],
        "location": "[resourceGroup().location]",
        "count": 3,
        "env": "prod",
    },
    variables={
        "feId": "[resourceId('Microsoft.Network/loadBalancers/frontendIPConfigurations', "
        "parameters('lbName'), 'fe-web')]",
        "lbId": "[resourceId('Microsoft.Network/loadBalancers', parameters('lbName'))]",
        "poolId": "[concat(variables('lbId'), '/backendAddressPools/pool')]",
        "map": {"prod": "10.41.1.100", "dev": "10.40.1.100"},
        "loop": "[variables('loop')]",
        "storage": "[uniqueString(resourceGroup().id)]",
    },
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            "[variables('feId')]",
            "/providers/Microsoft.Network/loadBalancers/ilb-web/frontendIPConfigurations/fe-web",
        ),
        (
            "[variables('poolId')]",
            "/providers/Microsoft.Network/loadBalancers/ilb-web/backendAddressPools/pool",
        ),
        (
            "[resourceId('sub-1', 'rg-1', 'Microsoft.Network/loadBalancers', 'x')]",
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/loadBalancers/x",
        ),
        ("[concat('rule-', string(parameters('ports')[1]))]", "rule-443"),
        ("[concat(parameters('ports'), createArray(8080))]", [80, 443, 8080]),
        ("[format('{0}-{1:D2}', 'nic', 7)]", "nic-07"),
        ("[length(range(0, parameters('count')))]", 3),
        ("[range(1, parameters('count'))[copyIndex()]]", None),  # no copy loop: unresolved
        ("[variables('map')[parameters('env')]]", "10.41.1.100"),
        ("[if(equals(parameters('env'), 'prod'), 'p', reference('x').y)]", "p"),
        ("[toLower(concat('ILB-', parameters('env')))]", "ilb-prod"),
        ("[add(mul(2, 3), div(7, 2))]", 9),
        ('[json(\'{"a": {"b": [1, 2]}}\').a.b[1]]', 2),
        ("[not(and(true(), or(false(), equals(1, 2))))]", True),
        ("[split('a/b/c', '/')[2]]", "c"),
        ("[last(createArray('x', 'y'))]", "y"),
        ("[replace('fe_web', '_', '-')]", "fe-web"),
        ("[coalesce(null(), 'z')]", "z"),
    ],
)
def test_expressions(expression: str, expected: Any) -> None:
    result = evaluate(expression, SCOPE)
    if expected is None:
        assert isinstance(result, Unresolved)
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("[parameters('location')]", "resource group"),
        ("[variables('storage')]", "deployment-specific hash"),
        ("[reference('nic').ipConfigurations[0]]", "after deployment"),
        ("[variables('loop')]", "refers to itself"),
        ("[variables('missing')]", "unknown variable"),
        ("[parameters('ports')[5]]", "out of range"),
        ("[concat('a', ]", "malformed"),
        ("[frobnicate(1)]", "not a function"),
        ("[cidrHost('10.0.0.0/24', 3)]", "not evaluated"),
    ],
)
def test_unresolvable_expressions_say_why(expression: str, reason: str) -> None:
    result = evaluate(expression, SCOPE)
    assert isinstance(result, Unresolved), result
    assert reason in str(result)
    assert expression in str(result)


def test_values_escapes_and_property_copy_loops() -> None:
    value = {
        "literal": "[[not an expression]",
        "copy": [
            {
                "name": "rules",
                "count": "[length(parameters('ports'))]",
                "input": {"port": "[parameters('ports')[copyIndex('rules')]]"},
            }
        ],
    }
    assert evaluate_value(value, SCOPE) == {
        "literal": "[not an expression]",
        "rules": [{"port": 80}, {"port": 443}],
    }


def test_seed_template() -> None:
    (lb,) = load([f("arm-seed-template.json")]).load_balancers
    assert (lb.name, lb.sku, lb.location) == ("ilb-we-02-web", "Standard", None)
    assert lb.frontends[0].address == "10.2.1.100" and lb.frontends[0].zones == ("1", "2", "3")
    (pool,) = lb.pools
    # membership is declared on the NICs; web01's second NIC (10.2.1.5) is not in the pool
    assert pool.addresses == ("10.2.1.4", "10.2.1.6")
    assert [m.nic for m in pool.members] == ["vm-we-02-web01-nic1", "vm-we-02-web02-nic1"]
    (rule,) = lb.rules
    assert rule.floating_ip is False and rule.probe == "probe-tcp-80"
    assert lb.inbound_nat_rules[0].target == "10.2.1.4"
    assert validate([f("arm-seed-template.json")]) == []


def test_quickstart_shape_needs_deployed_nics_for_dynamic_addresses() -> None:
    problems = validate([f("arm-quickstart-style.json")])
    dynamic = [p for p in problems if "dynamic allocation" in p.message]
    assert [p.pointer for p in dynamic] == ["/resources/2/properties/ipConfigurations/0"] * 3
    assert "app-nic0" in dynamic[0].message and "--nic" in dynamic[0].message
    with pytest.raises(ConfigError, match="dynamic allocation"):
        load([f("arm-quickstart-style.json")])
    cfg = load([f("arm-quickstart-style.json")], nic_files=[f("arm-quickstart-deployed-nics.json")])
    (lb,) = cfg.load_balancers
    assert lb.frontends[0].address == "10.30.1.10" and lb.frontends[0].subnet == "10.30.1.0/24"
    (pool,) = lb.pools
    assert pool.addresses == ("10.30.1.4", "10.30.1.5", "10.30.1.6")
    assert [m.vm for m in pool.members] == ["app-vm0", "app-vm1", "app-vm2"]
    assert {m.os for m in pool.members} == {"windows"}  # image publisher of the template's VMs
    assert pool.members[0].mac == "00:22:48:0a:10:01"
    rule = lb.rules[0]
    assert (rule.frontend_port, rule.backend_port, rule.idle_timeout_min) == (443, 8443, 15)
    assert lb.probes[0].protocol is ProbeProtocol.HTTPS and lb.probes[0].path == "/health"


def test_parameters_file_copy_loops_children_and_conditions() -> None:
    with pytest.raises(ConfigError, match="has no defaultValue; pass a parameters file"):
        load([f("arm-legacy-concat.json")])
    cfg = load([f("arm-legacy-concat.json"), f("arm-legacy-concat.parameters.json")])
    (lb,) = cfg.load_balancers
    assert lb.name == "ilb-prod-web"
    assert lb.frontends[0].address == "10.41.1.100" and lb.frontends[0].subnet == "10.41.1.0/24"
    assert [(r.name, r.frontend_port) for r in lb.rules] == [
        ("rule-80", 80),
        ("rule-443", 443),
        ("rule-8080", 8080),
    ]
    assert all(
        r.floating_ip and r.distribution is Distribution.SOURCE_IP_PROTOCOL for r in lb.rules
    )
    assert lb.pools[0].addresses == ("10.41.1.4", "10.41.1.5")  # separately declared child
    assert lb.probes[0].interval_s == 15  # REST default when the template omits it
    assert [n.name for n in lb.inbound_nat_rules] == ["ssh-web1"]  # condition true via params


def test_unresolvable_values_are_reported_at_their_pointer() -> None:
    problems = validate(
        [f("arm-unresolvable.json")], nic_files=[f("arm-quickstart-deployed-nics.json")]
    )
    messages = {p.pointer: p.message for p in problems}
    fe = "/resources/3/properties/frontendIPConfigurations/0/properties/privateIPAddress"
    assert "cannot resolve [reference(" in messages[fe]
    port = "/resources/3/properties/loadBalancingRules/0/properties/frontendPort"
    assert "malformed expression" in messages[port]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            '{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/'
            'deploymentTemplate.json#", "resources": []}',
            "declares no Microsoft.Network/loadBalancers",
        ),
        (
            '{"$schema": "x/deploymentTemplate.json#", "resources": [{"type": '
            '"Microsoft.Network/loadBalancers", "name": "[parameters(\'n\')]"}]}',
            "unknown parameter 'n'",
        ),
        (
            '{"$schema": "x/deploymentTemplate.json#", "resources": [{"type": '
            '"Microsoft.Network/loadBalancers", "name": "lb", "copy": {"name": "c", '
            '"count": "[parameters(\'n\')]"}}], "parameters": {"n": {"type": "int"}}}',
            "cannot resolve the copy count",
        ),
    ],
)
def test_bad_templates_fail_in_one_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, name="t.json")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_problems_in_separately_declared_children_point_at_them() -> None:
    template = json.loads((FIX / "arm-legacy-concat.json").read_text())
    pool = template["resources"][2]["properties"]["loadBalancerBackendAddresses"][0]
    pool["properties"]["ipAddress"] = "10.99.0.4"
    template["resources"][1]["sku"]["name"] = "[parameters('sku')]"
    template["parameters"]["sku"] = {"type": "string"}
    params = (FIX / "arm-legacy-concat.parameters.json").read_text()
    from pcapflow.lbconfig.loader import load_parsed, parse_text

    loaded = load_parsed(
        [parse_text(json.dumps(template), "t.json", None), parse_text(params, "p.json", None)]
    )
    found = {(p.pointer, p.severity.value) for p in loaded.problems}
    assert ("/resources/1/sku/name", "warning") in found  # unresolved SKU: said, not assumed
    assert loaded.config.load_balancers[0].sku == "unknown"
    outside = [p for p in validate_loaded(loaded) if "outside" in p.message]
    assert [p.pointer for p in outside] == [
        "/resources/2/properties/loadBalancerBackendAddresses/0"
    ]


def validate_loaded(loaded: object) -> list[Any]:
    from pcapflow.lbconfig.checks import check_loaded
    from pcapflow.lbconfig.draft import Loaded

    assert isinstance(loaded, Loaded)
    return check_loaded(loaded)
