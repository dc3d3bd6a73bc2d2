"""The native configurations committed with the lab's AWS, Google Cloud and Kubernetes scenarios
describe exactly the topology the lab builds (/work/wt/cloud-topologies.md, the lab's lb.yaml):
the same frontends, members and rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcapflow.lbconfig import load, load_text, to_yaml
from pcapflow.model.lb import Distribution, LbConfig, Protocol

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def _load(scenario: str, sub: str = "") -> LbConfig:
    files = sorted(str(p) for p in (SAMPLES / scenario / sub).glob("*.json"))
    assert files, f"no native configuration in {scenario}/{sub}"
    return load(files)


def _facts(cfg: LbConfig) -> tuple[object, ...]:
    """Frontends, members and rules as the lab's YAML states them (names aside)."""
    (lb,) = cfg.load_balancers
    rules = {
        (
            lb.frontend(r.frontend).address,  # type: ignore[union-attr]
            r.protocol,
            r.frontend_port,
            r.backend_port_for(r.frontend_port),
            r.floating_ip,
            r.preserve_client_ip,
            r.distribution,
        )
        for r in lb.rules
    }
    members = tuple(sorted((m.address, m.node) for p in lb.pools for m in p.members))
    frontends = tuple(sorted((f.address, f.local_on_members) for f in lb.frontends))
    return lb.cloud, lb.internal, frontends, members, frozenset(rules), lb.hairpin_mode


@pytest.mark.parametrize(
    ("scenario", "preserve"),
    [("aws-nlb-preserve-client-ip", True), ("aws-nlb-no-preserve-client-ip", False)],
)
def test_aws_samples_are_the_lab_nlb(scenario: str, preserve: bool) -> None:
    cfg = _load(scenario, "aws")
    rule = (
        "10.2.1.100", Protocol.TCP, 80, 80, False, preserve, Distribution.DEFAULT
    )  # fmt: skip
    assert _facts(cfg) == (
        "aws",
        True,
        (("10.2.1.100", False),),
        (("10.2.1.4", None), ("10.2.1.6", None)),
        frozenset({rule}),
        None,
    )
    assert cfg.load_balancers[0].name == "nlb-web"
    assert [m.vm for m in cfg.load_balancers[0].pools[0].members] == ["i-0aa1web01", "i-0bb2web02"]
    # with preservation off, the NLB's address carries the targets' traffic: never a probe source
    assert cfg.is_probe_source("10.2.1.100") is preserve


@pytest.mark.parametrize("scenario", ["gcp-ilb-local-route", "gcp-ilb-local-route-service-down"])
def test_gcp_samples_are_the_lab_forwarding_rule(scenario: str) -> None:
    cfg = _load(scenario, "gcloud")
    rule = ("10.2.1.100", Protocol.TCP, 80, 80, True, True, Distribution.DEFAULT)
    assert _facts(cfg) == (
        "gcp",
        True,
        (("10.2.1.100", True),),
        (("10.2.1.4", None), ("10.2.1.6", None)),
        frozenset({rule}),
        None,
    )
    assert [f.name for f in cfg.load_balancers[0].frontends] == ["fr-web-ilb"]
    assert [m.vm for m in cfg.load_balancers[0].pools[0].members] == ["web01", "web02"]


@pytest.mark.parametrize(
    ("scenario", "mode"), [("k8s-hairpin-off", "none"), ("k8s-hairpin-on", "hairpin-veth")]
)
def test_kubernetes_samples_are_the_lab_service(scenario: str, mode: str) -> None:
    cfg = _load(scenario, "kubectl")
    rule = ("10.96.0.10", Protocol.TCP, 80, 8080, False, True, Distribution.DEFAULT)
    assert _facts(cfg) == (
        "kubernetes",
        True,
        (("10.96.0.10", False),),
        (("10.244.1.2", "node-1"), ("10.244.1.3", "node-1")),
        frozenset({rule}),
        mode,
    )
    assert cfg.load_balancers[0].name == "default/web"
    assert [m.vm for m in cfg.load_balancers[0].pools[0].members] == ["web1", "web2"]


@pytest.mark.parametrize(
    ("scenario", "sub"),
    [
        ("aws-nlb-preserve-client-ip", "aws"),
        ("aws-nlb-no-preserve-client-ip", "aws"),
        ("gcp-ilb-local-route", "gcloud"),
        ("k8s-hairpin-on", "kubectl"),
    ],
)
def test_the_samples_round_trip_through_pcapflow_yaml(scenario: str, sub: str) -> None:
    cfg = _load(scenario, sub)
    assert load_text(to_yaml(cfg)).load_balancers == cfg.load_balancers


@pytest.mark.parametrize(
    ("scenario", "sub"),
    [("aws-nlb-preserve-client-ip", "aws"), ("gcp-ilb-local-route", "gcloud"),
     ("k8s-hairpin-off", "kubectl")],
)  # fmt: skip
def test_the_lab_yaml_when_present_has_the_same_facts(scenario: str, sub: str) -> None:
    lab = SAMPLES / scenario / "lb.yaml"
    if not lab.exists():
        pytest.skip("the lab's lb.yaml is on the cloudlab branch")
    native, yaml_cfg = _facts(_load(scenario, sub)), _facts(load([str(lab)]))
    assert native[:5] == yaml_cfg[:5]


NATIVE = {
    "aws-nlb-preserve-client-ip": "aws",
    "aws-nlb-no-preserve-client-ip": "aws",
    "gcp-ilb-local-route": "gcloud",
    "gcp-ilb-local-route-service-down": "gcloud",
    "k8s-hairpin-off": "kubectl",
    "k8s-hairpin-on": "kubectl",
}


@pytest.mark.parametrize("scenario", sorted(NATIVE))
def test_the_native_configuration_gives_the_lab_yaml_labels(scenario: str) -> None:
    """Every capture of the scenario analysed with the native set and with the lab's YAML: the
    same verdict, label counts and findings."""
    from pcapflow.pipeline import analyze
    from pcapflow.report.serialize import to_dict

    folder = SAMPLES / scenario
    captures = sorted(str(p) for p in folder.glob("*.pcap"))
    if not (folder / "lb.yaml").exists() or not captures:
        pytest.skip("the lab's captures and lb.yaml are on the cloudlab branch")
    native, lab = _load(scenario, NATIVE[scenario]), load([str(folder / "lb.yaml")])
    results = [to_dict(analyze(captures, cfg)) for cfg in (native, lab)]
    assert results[0]["summary"] == results[1]["summary"]
    findings = [
        sorted((f["label"], json.dumps(f.get("attempts"))) for f in r["findings"]) for r in results
    ]
    assert findings[0] == findings[1]
