"""Remediation: the catalogue is data, entries are chosen by conditions and filled with names."""

from __future__ import annotations

import pytest
from analysis_factory import VIP, B, seed_config

from pcapflow.errors import ConfigError
from pcapflow.model.result import Finding, Label
from pcapflow.remediation import load_catalogue, remediations_for
from pcapflow.remediation.catalogue import Situation, _entry


def finding(label: Label, frontend: str = f"{VIP}:80") -> Finding:
    return Finding(
        id="F1",
        label=label,
        title="t",
        explanation="e",
        caller=B,
        frontend=frontend,
        rule="ilb-web/http",
        flow_ids=("0:C1",),
        evidence=(),
        count=1,
        first_ts=0.0,
        last_ts=0.0,
    )


def ids(label: Label, os: str | None, **cfg: object) -> list[str]:
    return [r.id for r in remediations_for(finding(label), seed_config(**cfg), os)]  # type: ignore[arg-type]


def test_linux_hairpin_gets_loopback_vip_first_and_no_windows_entries() -> None:
    got = ids(Label.HAIRPIN_SELF, "linux")
    assert got[0] == "loopback-vip-floating-ip-linux"
    assert "second-nic-policy-routing-linux" in got and "nva-reverse-proxy-nginx" in got
    assert not any("windows" in i for i in got)


def test_windows_hairpin_gets_netsh_and_second_nic_route() -> None:
    got = ids(Label.HAIRPIN_SELF, "windows")
    assert got[:2] == ["loopback-vip-floating-ip-windows", "second-nic-host-route-windows"]
    assert not any("linux" in i for i in got)


def test_unknown_os_lists_both_variants() -> None:
    got = ids(Label.HAIRPIN_SELF, None)
    assert "loopback-vip-floating-ip-linux" in got and "loopback-vip-floating-ip-windows" in got


def test_commands_carry_the_real_resource_names() -> None:
    (first, *_rest) = remediations_for(finding(Label.HAIRPIN_SELF), seed_config(), "linux")
    assert first.commands[0] == (
        "az network lb rule update --resource-group rg-spoke-we-02 --lb-name ilb-web "
        "--name http --floating-ip true"
    )
    assert any(c.startswith(f"sudo ip addr add {VIP}/32 dev lo") for c in first.commands)
    assert any(
        name.endswith("60-ilb-vip.yaml") and f"{VIP}/32" in body for name, body in first.files
    )
    assert first.rank == 1 and first.tradeoffs and "linux" in first.applies_because


def test_policy_routing_form_uses_the_gateway_and_the_caller() -> None:
    rems = remediations_for(finding(Label.HAIRPIN_SELF), seed_config(), "linux")
    pr = next(r for r in rems if r.id == "second-nic-policy-routing-linux")
    assert f"sudo ip rule add from {B} to <NIC2-IP> iif lo lookup 100 pref 500" in pr.commands
    assert any("table 100" in c and "onlink" in c and "10.2.1.1" in c for c in pr.commands)


def test_nginx_upstream_lists_the_declared_pool() -> None:
    rems = remediations_for(finding(Label.HAIRPIN_SELF), seed_config(), "linux")
    nva = next(r for r in rems if r.id == "nva-reverse-proxy-nginx")
    ((_name, conf),) = nva.files
    assert "upstream be_web {" in conf
    assert "server 10.2.1.4:80;" in conf and "server 10.2.1.6:80;" in conf


def test_application_gateway_only_for_http() -> None:
    assert "application-gateway" in ids(Label.HAIRPIN_SELF, "linux")
    rems = remediations_for(finding(Label.HAIRPIN_SELF, f"{VIP}:5432"), seed_config(), "linux")
    assert "application-gateway" not in [r.id for r in rems]  # no HTTP port, no HTTP probe


def test_floating_ip_state_selects_disable_floating_ip() -> None:
    assert "disable-floating-ip" in ids(
        Label.FLOATING_IP_GUEST_UNCONFIGURED, "linux", floating_ip=True
    )
    assert "disable-floating-ip" not in ids(Label.FLOATING_IP_GUEST_UNCONFIGURED, "linux")


def test_non_hairpin_findings_get_their_own_fixes() -> None:
    assert ids(Label.REFUSED, "linux") == ["start-listener"]
    assert ids(Label.FILTERED, "linux") == ["nsg-allow"]
    assert ids(Label.IDLE_TIMEOUT, "linux") == ["keepalive-below-idle", "raise-idle-timeout"]
    assert ids(Label.PROBE_ASYMMETRIC_ROUTE, "linux") == ["probe-policy-routing-linux"]
    keep = remediations_for(finding(Label.IDLE_TIMEOUT), seed_config(idle_timeout=4), "linux")[0]
    assert "net.ipv4.tcp_keepalive_time=180" in keep.commands[0]


def test_every_label_that_is_a_failure_has_a_remediation() -> None:
    labels = {
        lab for e in load_catalogue() for key, v in e.conditions if key == "labels" for lab in v
    }
    assert {lab.value for lab in Label if lab.is_failure} <= labels


def test_catalogue_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError):
        _entry({"id": "x", "title": "t", "colour": "red"})


def test_conditions_are_tested_against_the_situation() -> None:
    entry = next(e for e in load_catalogue() if e.id == "application-gateway")
    base = dict(label="hairpin_self", os="linux", protocol="tcp", floating_ip=False, cloud="azure")
    assert entry.applies(Situation(http=True, **base))  # type: ignore[arg-type]
    assert not entry.applies(Situation(http=False, **base))  # type: ignore[arg-type]


def test_a_second_nic_caller_gets_the_in_place_policy_routing_first() -> None:
    f = finding(Label.HAIRPIN_SELF)
    rems = remediations_for(
        f, seed_config(), "linux", extra={"nic2": "10.2.1.5", "primary": "10.2.1.4"}
    )
    assert rems[0].id == "second-nic-policy-routing-linux-in-place"
    assert (
        "sudo ip rule add from 10.2.1.4 to 10.2.1.5 iif lo lookup 100 pref 500" in rems[0].commands
    )
    assert (
        "sudo ip route add 10.2.1.5/32 via 10.2.1.1 dev eth0 onlink table 100" in rems[0].commands
    )
    assert "second-nic-policy-routing-linux" not in [r.id for r in rems]


def test_yaml_merge_keys_share_the_text_of_an_entry() -> None:
    entries = {e.id: e for e in load_catalogue()}
    plain = entries["second-nic-policy-routing-linux"]
    in_place = entries["second-nic-policy-routing-linux-in-place"]
    assert plain.commands == in_place.commands and in_place.rank < plain.rank


@pytest.mark.parametrize(
    ("cloud", "first"),
    [("azure", "start-the-callers-own-service"), ("gcp", "gcp-start-the-callers-own-service")],
)
def test_served_locally_refused_gets_the_fix_worded_for_its_platform(
    cloud: str, first: str
) -> None:
    applying = [
        e.id
        for e in load_catalogue()
        if e.applies(
            Situation(
                label="served_locally_refused", os="linux", protocol="tcp", floating_ip=True,
                http=False, cloud=cloud,
            )
        )
    ]  # fmt: skip
    assert applying[0] == first
    other = {"start-the-callers-own-service", "gcp-start-the-callers-own-service"} - {first}
    assert not other & set(applying)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "kubernetes", "generic"])
def test_other_platforms_get_no_azure_commands(cloud: str) -> None:
    """Every failure on a balancer of another platform: no `az` command, no Azure probe source
    (168.63.129.16); refused still gets its fix there."""
    import dataclasses

    cfg = seed_config()
    cfg = dataclasses.replace(
        cfg,
        load_balancers=tuple(dataclasses.replace(lb, cloud=cloud) for lb in cfg.load_balancers),
    )
    for label in (lab for lab in Label if lab.is_failure):
        for os in ("linux", "windows", None):
            for rem in remediations_for(finding(label), cfg, os):  # type: ignore[arg-type]
                text = "\n".join(rem.commands)
                assert not any(c.startswith("az ") for c in rem.commands), (cloud, rem.id)
                assert "168.63.129.16" not in text, (cloud, rem.id)
    refused = [r.id for r in remediations_for(finding(Label.REFUSED), cfg, "linux")]
    assert refused == ["start-listener-on-member"]
