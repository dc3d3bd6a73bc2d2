"""The lab's scenario registry, remediations, attempt plans and ground-truth decisions (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pcapflow.errors import InputError
from pcapflow.lab import groundtruth, plan
from pcapflow.lab.conntrack import CtEntry
from pcapflow.lab.scenarios import (
    CASES,
    LABELS,
    OUTCOMES,
    REMEDIATIONS,
    SCENARIOS,
    apply_remediation,
    get_scenario,
)
from pcapflow.model.result import Label

CONTRACT_NAMES = {
    "single-backend",
    "hairpin-two-backends",
    "second-nic-plain",
    "second-nic-policy-routing",
    "loopback-vip-floating-ip",
    "floating-ip-no-vip",
    "nva-nginx",
    "probe-asymmetric",
    "mixed",
    "udp-service",
    "ipv6-frontend",
    "idle-timeout",
    "aws-nlb-preserve-client-ip",
    "aws-nlb-no-preserve-client-ip",
    "k8s-hairpin-off",
    "k8s-hairpin-on",
    "gcp-ilb-local-route",
    "gcp-ilb-local-route-service-down",
}


def test_the_registry_holds_every_scenario_the_contract_names() -> None:
    assert set(SCENARIOS) == CONTRACT_NAMES


def test_the_lab_label_vocabulary_is_pcapflows() -> None:
    assert set(LABELS) == {label.value for label in Label}


@pytest.mark.parametrize("name", sorted(CONTRACT_NAMES))
def test_every_expectation_uses_known_cases_outcomes_and_labels(name: str) -> None:
    scenario = SCENARIOS[name]
    for step in scenario.steps:
        assert step.expect, f"{name}: step of {step.caller} expects nothing"
        for case, expect in step.expect.items():
            assert case in CASES
            assert expect.outcome in OUTCOMES
            assert expect.label in LABELS
    for label in scenario.probe_expect.values():
        assert label in LABELS


@pytest.mark.parametrize("name", sorted(CONTRACT_NAMES))
def test_callers_members_and_sources_belong_to_vms_of_the_scenario(name: str) -> None:
    scenario = SCENARIOS[name]
    for step in scenario.steps:
        caller = scenario.vm(step.caller)
        assert step.source == "" or step.source in caller.addresses()
    for member in scenario.lb.members:
        assert scenario.member_vm(member) is not None, member


@pytest.mark.parametrize("name", sorted(CONTRACT_NAMES))
def test_client_ports_are_unique_so_ground_truth_can_name_each_attempt(name: str) -> None:
    attempts = plan.attempts(SCENARIOS[name])
    keys = [(a.caller, a.proto, a.sport) for a in attempts]
    assert len(keys) == len(set(keys))
    assert [a.id for a in attempts] == list(range(1, len(attempts) + 1))


def test_the_hairpin_scenario_calls_the_vip_12_to_20_times_from_web01() -> None:
    attempts = [a for a in plan.attempts(SCENARIOS["hairpin-two-backends"]) if a.caller == "web01"]
    assert 12 <= len(attempts) <= 20
    assert {a.frontend for a in attempts} == {"10.2.1.100"}


def test_steps_follow_one_another_and_attempts_are_spaced() -> None:
    attempts = plan.attempts(SCENARIOS["mixed"])
    delays = [a.delay_s for a in attempts]
    assert delays == sorted(delays)
    assert delays[0] == plan.SETTLE_S
    assert plan.traffic_duration(SCENARIOS["mixed"]) < 30


def test_a_scenario_run_stays_short() -> None:
    for scenario in SCENARIOS.values():
        if scenario.name != "idle-timeout":
            assert plan.traffic_duration(scenario) <= 20, scenario.name


def test_the_idle_timeout_run_outlasts_the_idle_timeout_yet_stays_bounded() -> None:
    scenario = SCENARIOS["idle-timeout"]
    idle_s = min(r.idle_timeout_min for r in scenario.lb.rules) * 60
    sessions = sorted(plan.attempts(scenario), key=lambda a: a.idle_s)
    assert [a.idle_s > idle_s for a in sessions] == [False, True]
    assert [a.step.expect["member"].label for a in sessions] == ["ok", "idle_timeout"]
    assert all(a.agent_json()["idle"] == a.idle_s for a in sessions)
    assert idle_s < plan.traffic_duration(scenario) <= 80


def test_loopback_remediation_turns_on_floating_ip_and_puts_the_vip_on_every_backends_lo() -> None:
    fixed = get_scenario("hairpin-two-backends", "loopback-vip-floating-ip")
    assert fixed.name == "hairpin-two-backends+loopback-vip-floating-ip"
    assert all(rule.floating_ip for rule in fixed.lb.rules)
    for vm in fixed.vms:
        has_vip = "ip addr add 10.2.1.100/32 dev lo" in vm.setup
        assert has_vip == (vm.role == "backend"), vm.name
    for step in fixed.steps:
        assert {e.label for e in step.expect.values()} == {"ok"}
    assert fixed.remediation == "loopback-vip-floating-ip"


def test_a_remediation_refuses_a_scenario_it_does_not_fit() -> None:
    with pytest.raises(InputError, match="does not apply"):
        apply_remediation(SCENARIOS["mixed"], REMEDIATIONS["policy-routing"])


def test_unknown_names_are_one_line_input_errors() -> None:
    with pytest.raises(InputError, match="unknown lab scenario"):
        get_scenario("nope")
    with pytest.raises(InputError, match="unknown remediation"):
        get_scenario("single-backend", "nope")


def test_the_policy_routing_scenario_is_the_plain_one_with_the_remediation() -> None:
    plain, fixed = SCENARIOS["second-nic-plain"], SCENARIOS["second-nic-policy-routing"]
    added = set(fixed.vm("web01").setup) - set(plain.vm("web01").setup)
    assert "ip rule add pref 100 from 10.2.1.4 to 10.2.1.5 iif lo lookup 100" in added
    assert plain.steps[1].expect["self"].label == "hairpin_self"
    assert fixed.steps[1].expect["self"].label == "ok"


# ---- ground truth decisions ---------------------------------------------------------------------
HAIRPIN = SCENARIOS["hairpin-two-backends"]


def test_case_is_self_when_the_balancer_chose_the_calling_vm() -> None:
    assert groundtruth.case_of(HAIRPIN, "web01", "10.2.1.4") == "self"
    assert groundtruth.case_of(HAIRPIN, "web01", "10.2.1.6") == "member"
    assert groundtruth.case_of(HAIRPIN, "web01", None) == "none"
    assert groundtruth.case_of(HAIRPIN, "client", "10.2.1.4") == "member"


def test_case_self_covers_another_nic_of_the_caller() -> None:
    scenario = SCENARIOS["second-nic-plain"]
    assert groundtruth.case_of(scenario, "web01", "10.2.1.4") == "self"


def _entry(sport: int, member: str, mark: int) -> CtEntry:
    return CtEntry("tcp", "10.2.1.4", "10.2.1.100", sport, 80, member, 80, mark, "SYN_SENT")


def _result(plan_: plan.AttemptPlan, outcome: str) -> dict[str, Any]:
    return {"id": plan_.id, "start": 1.0 + plan_.id, "outcome": outcome, "local": plan_.source}


def test_ground_truth_labels_each_attempt_from_the_member_conntrack_recorded() -> None:
    attempts = [a for a in plan.attempts(HAIRPIN) if a.caller == "web01"][:2]
    results = {attempts[0].id: _result(attempts[0], "timeout")}
    results[attempts[1].id] = {**_result(attempts[1], "connected"), "body": "served-by web02"}
    entries = [_entry(attempts[0].sport, "10.2.1.4", 1), _entry(attempts[1].sport, "10.2.1.6", 2)]
    truth = groundtruth.build(
        HAIRPIN, attempts, results, entries, [], [], generated="t", kernel="k"
    )
    first, second = truth["attempts"]
    assert (first["member"], first["case"], first["expected_label"]) == (
        "10.2.1.4",
        "self",
        "hairpin_self",
    )
    assert (second["member"], second["expected_label"], second["served_by"]) == (
        "10.2.1.6",
        "hairpin_other_backend",
        "web02",
    )
    assert truth["design_ok"] is True


def test_ground_truth_flags_an_outcome_the_design_did_not_expect() -> None:
    attempt = next(a for a in plan.attempts(HAIRPIN) if a.caller == "web01")
    truth = groundtruth.build(
        HAIRPIN,
        [attempt],
        {attempt.id: _result(attempt, "connected")},
        [_entry(attempt.sport, "10.2.1.4", 1)],
        [],
        [],
        generated="t",
        kernel="k",
    )
    assert truth["design_ok"] is False
    assert groundtruth.missing_cases(HAIRPIN, truth) == ["member"]


def test_probe_records_count_rounds_each_member_answered() -> None:
    scenario = SCENARIOS["probe-asymmetric"]
    rounds = [{"round": 1, "t": 0.0, "up": {"10.2.1.5": False, "10.2.1.6": True}}]
    records = {r["member"]: r for r in groundtruth.probe_records(scenario, rounds)}
    assert records["10.2.1.5"]["expected_label"] == "probe_asymmetric_route"
    assert records["10.2.1.5"]["up_rounds"] == 0
    assert records["10.2.1.6"]["up_rounds"] == 1


def test_capture_points_cover_every_nic_each_backends_lo_and_every_balancer_port() -> None:
    stems = {p.stem for p in plan.capture_points(SCENARIOS["second-nic-plain"])}
    assert stems == {
        "web01-eth0",
        "web01-eth1",
        "web01-lo",
        "client-eth0",
        "lb-web01-eth0",
        "lb-web01-eth1",
        "lb-client-eth0",
    }


def test_an_unbound_client_source_is_replaced_by_the_address_the_kernel_chose() -> None:
    scenario = SCENARIOS["loopback-vip-floating-ip"]
    attempt = next(a for a in plan.attempts(scenario) if a.caller == "web01")
    assert attempt.source == ""
    result = {"id": attempt.id, "start": 1.0, "outcome": "connected", "local": "10.2.1.100"}
    record = groundtruth.attempt_record(scenario, attempt, result, {})
    assert (record["client"], record["case"], record["expected_label"]) == (
        "10.2.1.100",
        "none",
        "ok",
    )


def test_replacing_a_step_keeps_the_scenario_valid() -> None:
    short = dataclasses.replace(HAIRPIN, steps=HAIRPIN.steps[:1])
    assert len(plan.attempts(short)) == HAIRPIN.steps[0].count


def test_a_remediation_that_does_not_work_keeps_the_failing_expectations() -> None:
    tried = get_scenario("second-nic-plain", "accept-local")
    assert "sysctl -qw net.ipv4.conf.eth0.accept_local=1" in tried.vm("web01").setup
    assert tried.steps[1].expect["self"].label == "hairpin_self"
