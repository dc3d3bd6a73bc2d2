"""The analysis against real Linux captures with known ground truth (sample_captures/).

For every scenario directory (or every one under $PCAPFLOW_SAMPLES_DIR, e.g. a freshly
regenerated lab output), analyze() runs over all its capture files together with its lb.yaml and
every attempt in ground_truth.json must carry its expected label; no flow outside the expected
hairpins may be labelled a hairpin.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pcapflow.lbconfig import load, load_text
from pcapflow.model.lb import REFLECTING_HAIRPIN_MODES
from pcapflow.model.result import AnalysisResult, Label
from pcapflow.pipeline import analyze

REPO = Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    return Path(os.environ.get("PCAPFLOW_SAMPLES_DIR") or REPO / "sample_captures")


def scenarios() -> list[str]:
    base = samples_dir()
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if (d / "ground_truth.json").is_file())


@cache
def run(scenario: str, variant: str) -> tuple[dict[str, Any], AnalysisResult]:
    base = samples_dir() / scenario
    truth = json.loads((base / "ground_truth.json").read_text())
    files = [c.get(variant) or c["file"] for c in truth["captures"]]
    points = [c.get("point") for c in truth["captures"]]
    lb = load([str(base / truth.get("lb_config", "lb.yaml"))])
    result = analyze([str(base / f) for f in files], lb, capture_points=points)
    return truth, result


def attempt_flows(result: AnalysisResult, a: dict[str, Any]) -> list[Any]:
    key = (a["client"], a["client_port"], a["frontend"], a["frontend_port"], a["proto"])
    return [
        r
        for r in result.flows
        if r.role == "outbound"
        and (r.flow.orig_h, r.flow.orig_p, r.flow.resp_h, r.flow.resp_p, r.flow.proto) == key
    ]


SCENARIOS = scenarios()
needs_samples = pytest.mark.skipif(not SCENARIOS, reason=f"no scenario under {samples_dir()}")


@needs_samples
@pytest.mark.parametrize("variant", ["file", "pcapng"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_attempt_gets_its_expected_label(scenario: str, variant: str) -> None:
    truth, result = run(scenario, variant)
    wrong = []
    for a in truth["attempts"]:
        found = attempt_flows(result, a)
        labels = [str(r.label) for r in found]
        if labels != [a["expected_label"]]:
            wrong.append(
                f"attempt {a['id']} {a['client']}:{a['client_port']}: {labels} "
                f"!= {a['expected_label']} ({found[0].reason if found else 'no flow'})"
            )
    assert not wrong, "\n".join(wrong)


@needs_samples
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_false_hairpin(scenario: str) -> None:
    truth, result = run(scenario, "file")
    expected = {
        (a["client"], a["client_port"])
        for a in truth["attempts"]
        if a["expected_label"] == Label.HAIRPIN_SELF.value
    }
    labelled = {
        (r.flow.orig_h, r.flow.orig_p) for r in result.flows if r.label is Label.HAIRPIN_SELF
    }
    assert labelled <= expected, f"false hairpin: {sorted(labelled - expected)}"


@needs_samples
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probes_get_their_expected_label(scenario: str) -> None:
    truth, result = run(scenario, "file")
    for probe in truth.get("probes", []):
        flows = [
            r
            for r in result.flows
            if r.role == "probe"
            and (r.flow.resp_h, r.flow.resp_p) == (probe["member"], probe["port"])
        ]
        labels = {r.label for r in flows}
        if probe["expected_label"] == "ok":
            assert not any(lab is not None and lab.is_failure for lab in labels), labels
        else:
            assert Label(probe["expected_label"]) in labels, labels


@needs_samples
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_failure_findings_exactly_when_the_truth_has_failures(scenario: str) -> None:
    truth, result = run(scenario, "file")
    failing = any(Label(a["expected_label"]).is_failure for a in truth["attempts"]) or any(
        Label(p["expected_label"]).is_failure for p in truth.get("probes", [])
    )
    assert bool(result.failures) == failing, [f.title for f in result.failures]


@cache
def run_without_config(scenario: str) -> tuple[dict[str, Any], AnalysisResult]:
    base = samples_dir() / scenario
    truth = json.loads((base / "ground_truth.json").read_text())
    files = [str(base / c["file"]) for c in truth["captures"]]
    return truth, analyze(files, None, capture_points=[c.get("point") for c in truth["captures"]])


@needs_samples
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_without_config_discovered_translations_give_the_same_labels(scenario: str) -> None:
    declared = load([str(samples_dir() / scenario / "lb.yaml")])
    if any(r.floating_ip for lb in declared.load_balancers for r in lb.rules):
        pytest.skip("floating IP keeps the 5-tuple: nothing to discover")
    if any(
        not r.preserve_client_ip or lb.hairpin_mode in REFLECTING_HAIRPIN_MODES
        for lb in declared.load_balancers
        for r in lb.rules
    ):
        pytest.skip("a declared platform fact (client IP not preserved, hairpin mode) decides")
    truth, result = run_without_config(scenario)
    if result.suggested_config is None:
        pytest.skip("no translation in these captures")
    suggested = load_text(result.suggested_config)
    vips = {f.address for lb in suggested.load_balancers for f in lb.frontends}
    assert vips <= {f.address for lb in declared.load_balancers for f in lb.frontends}
    judged = [  # an idle timeout is a declared value a capture cannot reveal: not judged here
        a
        for a in truth["attempts"]
        if suggested.rules_for(a["frontend"], a["frontend_port"], a["proto"])
        and a["expected_label"] != Label.IDLE_TIMEOUT.value
    ]
    assert judged, "no attempt to a discovered frontend"
    wrong = [
        (a["client_port"], [str(r.label) for r in attempt_flows(result, a)], a["expected_label"])
        for a in judged
        if [str(r.label) for r in attempt_flows(result, a)] != [a["expected_label"]]
    ]
    assert not wrong, wrong


BEFORE_AFTER = [("hairpin-two-backends", "hairpin-two-backends+loopback-vip-floating-ip")]


@pytest.mark.parametrize(("before", "after"), BEFORE_AFTER)
def test_a_remediation_turns_the_failures_into_healthy_flows(before: str, after: str) -> None:
    """`pcapflow lab run SCENARIO --remediation NAME`: the "after" run is reported healthy."""
    if not all((samples_dir() / s / "ground_truth.json").is_file() for s in (before, after)):
        pytest.skip(f"{before} / {after} samples absent under {samples_dir()}")
    _, broken = run(before, "file")
    truth, fixed = run(after, "file")
    assert truth["remediation"] and broken.failures and not fixed.failures
    web01 = [a for a in truth["attempts"] if a["caller"] == "web01"]
    assert web01 and all([str(r.label) for r in attempt_flows(fixed, a)] == ["ok"] for a in web01)
    reasons = {r.reason for a in web01 for r in attempt_flows(fixed, a)}
    assert all("served locally" in reason for reason in reasons), reasons
    assert not any(f.label is Label.HAIRPIN_OTHER_BACKEND for f in fixed.findings)


def test_floating_ip_attempts_mapped_back_to_the_caller_are_guest_unconfigured() -> None:
    """S1b (floating IP on, VIP not in the guest, the balancer picks the caller) is a sub-case
    of S4: `floating_ip_guest_unconfigured`, never `hairpin_self`, with the copy named."""
    scenario = "floating-ip-no-vip"
    if not (samples_dir() / scenario / "ground_truth.json").is_file():
        pytest.skip(f"no {scenario} sample under {samples_dir()}")
    truth, result = run(scenario, "file")
    selfs = [a for a in truth["attempts"] if a["case"] == "self"]
    assert selfs, "the sample must show web01 mapped to itself"
    for a in selfs:
        (flow,) = attempt_flows(result, a)
        assert flow.label is Label.FLOATING_IP_GUEST_UNCONFIGURED
        assert "came back to the caller itself" in flow.reason
    base = samples_dir() / scenario
    alone = analyze([str(base / "web01-eth0.pcap")], load([str(base / "lb.yaml")]))
    for a in selfs:
        (flow,) = attempt_flows(alone, a)
        assert flow.label is Label.FLOATING_IP_GUEST_UNCONFIGURED, flow.reason


def _sample(scenario: str) -> tuple[dict[str, Any], AnalysisResult]:
    if not (samples_dir() / scenario / "ground_truth.json").is_file():
        pytest.skip(f"no {scenario} sample under {samples_dir()}")
    return run(scenario, "file")


def test_an_idle_death_shows_the_silence_and_the_unanswered_data_after_it() -> None:
    truth, result = _sample("idle-timeout")
    (finding,) = [f for f in result.findings if f.label is Label.IDLE_TIMEOUT]
    roles = [e.role for e in finding.evidence]
    before = roles.index(next(r for r in roles if r.startswith("last packet before")))
    assert "after the silence" in roles[before + 1 :]
    gap = next(e for e in finding.evidence if e.role == "after the silence").ts
    assert gap - finding.evidence[before].ts >= 60
    session = next(a for a in truth["attempts"] if a["expected_label"] == "idle_timeout")
    (flow,) = attempt_flows(result, session)
    assert "idle 6" in flow.reason and "never acknowledged" in flow.reason


def test_a_udp_port_without_listener_is_refused_with_the_icmp_error_as_evidence() -> None:
    truth, result = _sample("udp-service")
    refused = [a for a in truth["attempts"] if a["expected_label"] == "refused"]
    if not refused:
        pytest.skip("this udp-service run has no port without listener")
    for a in refused:
        (flow,) = attempt_flows(result, a)
        assert flow.label is Label.REFUSED and "ICMP port unreachable" in flow.reason
    finding = next(
        f for f in result.findings if f.label is Label.REFUSED and f.caller == refused[0]["client"]
    )
    assert any(e.role.startswith("ICMP port unreachable") for e in finding.evidence)
    commands = [c for r in finding.remediations for c in r.commands]
    assert any("ss -lunp" in c for c in commands)


def test_calls_sent_back_by_design_are_joined_across_the_source_nat_and_reported_ok() -> None:
    """kube-proxy's masquerade (hairpin on) and the NLB's SNAT (client IP not preserved) rewrite
    the source of the leg that reaches the caller: the legs are still one connection."""
    for scenario, reason in (
        ("k8s-hairpin-on", "hairpin mode hairpin-veth"),
        ("aws-nlb-no-preserve-client-ip", "preserve_client_ip=false"),
    ):
        truth, result = _sample(scenario)
        selfs = [a for a in truth["attempts"] if a["case"] == "self"]
        assert selfs, f"{scenario}: the sample must show a call sent back to its caller"
        for a in selfs:
            (flow,) = attempt_flows(result, a)
            assert flow.label is Label.OK and "the caller itself was picked" in flow.reason
            assert reason in flow.reason


def test_a_gcp_backend_calling_its_forwarding_rule_always_lands_on_itself() -> None:
    truth, result = _sample("gcp-ilb-local-route")
    web01 = [a for a in truth["attempts"] if a["caller"] == "web01"]
    assert web01 and all(a["served_by"] == "web01" for a in web01)
    for a in web01:
        (flow,) = attempt_flows(result, a)
        assert flow.label is Label.OK and "by design of the platform" in flow.reason
    truth, result = _sample("gcp-ilb-local-route-service-down")
    (finding,) = result.failures
    assert finding.label is Label.SERVED_LOCALLY_REFUSED and finding.count == len(truth["attempts"])


def test_platform_findings_state_how_the_platform_picks() -> None:
    for scenario, words in (
        ("k8s-hairpin-off", "kube-proxy (iptables mode) picks an endpoint at random"),
        ("aws-nlb-preserve-client-ip", "the NLB picks a target per flow"),
    ):
        _, result = _sample(scenario)
        other = [r for r in result.flows if r.label is Label.HAIRPIN_OTHER_BACKEND]
        assert other and all("about 1/2" in r.reason and words in r.reason for r in other)


def test_each_platforms_failure_gets_its_platforms_fix_first() -> None:
    for scenario, label, first in (
        ("aws-nlb-preserve-client-ip", Label.HAIRPIN_SELF, "aws-disable-client-ip-preservation"),
        ("k8s-hairpin-off", Label.HAIRPIN_SELF, "k8s-hairpin-veth"),
        ("gcp-ilb-local-route-service-down", Label.SERVED_LOCALLY_REFUSED,
         "gcp-start-the-callers-own-service"),
    ):  # fmt: skip
        _, result = _sample(scenario)
        finding = next(f for f in result.findings if f.label is label)
        assert finding.remediations[0].id == first
        assert "Verified in the kernel lab" in finding.remediations[0].summary
