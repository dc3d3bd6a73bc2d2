"""AWS NLB, Google Cloud and Kubernetes: platform facts that decide a member's call to its own
frontend (pure functions: model, pairing across a source NAT, label decisions, lab generators)."""

from __future__ import annotations

import dataclasses
import json

from analysis_factory import VIP, B, flow, pkt, seed_config

from pcapflow.diagnose.facts import ATTEMPT, Facts
from pcapflow.diagnose.registry import decide
from pcapflow.lab import kube
from pcapflow.lab.scenarios import SCENARIOS
from pcapflow.model.lb import LbConfig, RuleMatch
from pcapflow.model.packet import ACK, SYN
from pcapflow.model.result import Label
from pcapflow.reconcile import CaptureView, join_connections, matched_invariants
from pcapflow.remediation.catalogue import load_catalogue

K8S_OFF, K8S_ON = SCENARIOS["k8s-hairpin-off"], SCENARIOS["k8s-hairpin-on"]


def with_platform(
    cfg: LbConfig, *, cloud: str, preserve: bool = True, hairpin: str | None = None
) -> LbConfig:
    lb = cfg.load_balancers[0]
    rules = tuple(dataclasses.replace(r, preserve_client_ip=preserve) for r in lb.rules)
    lb = dataclasses.replace(lb, cloud=cloud, rules=rules, hairpin_mode=hairpin)
    return dataclasses.replace(cfg, load_balancers=(lb,))


def match(cfg: LbConfig) -> RuleMatch:
    (found,) = cfg.rules_for(VIP, 80, "tcp")
    return found


# ---- model: platform facts ------------
def test_a_self_call_works_only_where_the_platform_rewrites_the_source_or_reflects_it() -> None:
    base = seed_config()
    assert match(with_platform(base, cloud="aws")).self_call_works == ""
    assert (
        "preserve_client_ip"
        in match(with_platform(base, cloud="aws", preserve=False)).self_call_works
    )
    assert match(with_platform(base, cloud="kubernetes", hairpin="none")).self_call_works == ""
    on = match(with_platform(base, cloud="kubernetes", hairpin="hairpin-veth"))
    assert "hairpin-veth" in on.self_call_works
    assert match(
        with_platform(base, cloud="kubernetes", hairpin="promiscuous-bridge")
    ).self_call_works


def test_only_rules_that_rewrite_the_source_allow_joining_legs_with_another_source() -> None:
    base = seed_config()
    assert not match(base).source_translated  # Azure: DNAT only
    assert not match(with_platform(base, cloud="aws")).source_translated
    assert match(with_platform(base, cloud="aws", preserve=False)).source_translated
    assert match(with_platform(base, cloud="kubernetes", hairpin="none")).source_translated


# ---- pairing across a source NAT ------------
def snat_call(nat_src: str, nat_port: int) -> list:
    """B calls the VIP; the balancer sends it back to B with the source rewritten."""
    out = [pkt(B, 41001, VIP, 80, SYN, t=0, seq=7, frame=1)]
    back = [
        pkt(nat_src, nat_port, B, 80, SYN, t=0.00003, seq=7, frame=2),
        pkt(B, 80, nat_src, nat_port, SYN | ACK, t=0.00004, seq=99, ack=8, frame=3),
    ]
    answer = [pkt(VIP, 80, B, 41001, SYN | ACK, t=0.00005, seq=99, ack=8, frame=4)]
    return [flow(out + answer), flow(back)]


def attempts(cfg: LbConfig, flows: list) -> list:
    view = CaptureView(0, "web01-eth0.pcap", "web01 eth0", tuple(flows), frozenset({B}))
    return [c for c in join_connections([view], cfg) if c.is_attempt]


def test_a_leg_snatted_to_the_nlb_address_joins_its_call_and_is_paired() -> None:
    cfg = with_platform(seed_config(), cloud="aws", preserve=False)
    (conn,) = attempts(cfg, snat_call(VIP, 23456))
    assert conn.self_mapped and conn.member == B
    (pair,) = conn.pairs
    assert {"seq", "tsval", "ip_id"} <= set(pair.matched_on) and "src" not in pair.matched_on


def test_without_a_source_rewriting_rule_the_snatted_leg_stays_apart() -> None:
    cfg = with_platform(seed_config(), cloud="aws", preserve=True)
    (conn,) = attempts(cfg, snat_call(VIP, 23456))
    assert not conn.self_mapped and not conn.pairs


def test_kube_proxy_masquerade_to_the_node_address_is_joined() -> None:
    cfg = with_platform(seed_config(), cloud="kubernetes", hairpin="hairpin-veth")
    (conn,) = attempts(cfg, snat_call("10.2.1.1", 39186))
    assert conn.self_mapped and len(conn.pairs) == 1


def test_source_translated_invariants_ignore_only_the_source() -> None:
    a = pkt(B, 41001, VIP, 80, SYN, t=0, seq=7)
    moved = dataclasses.replace(a, src="10.2.1.1", sport=39186, dst=B)
    assert matched_invariants(a, moved) is None
    assert matched_invariants(a, moved, source_translated=True) is not None
    assert (
        matched_invariants(a, dataclasses.replace(moved, tsval=1), source_translated=True) is None
    )


# ---- label decisions ------------
def answered_self_call(**extra: object) -> Facts:
    base: dict[str, object] = dict(
        kind=ATTEMPT, proto="tcp", caller=B, caller_in_pool=True, pool_size=2,
        caller_answered=True, translated_seen=True,
    )  # fmt: skip
    return Facts(**(base | extra))  # type: ignore[arg-type]


def test_an_answered_member_call_is_ok_where_the_platform_makes_self_calls_work() -> None:
    verdict = decide(answered_self_call(self_call_works="client IP preservation is off"))
    assert verdict.label is Label.OK and "no hairpin risk" in verdict.reason


def test_an_answered_member_call_keeps_its_hairpin_risk_and_states_the_platform_rate() -> None:
    picks = "kube-proxy (iptables mode) picks an endpoint at random for each SYN"
    verdict = decide(answered_self_call(picks=picks))
    assert verdict.label is Label.HAIRPIN_OTHER_BACKEND
    assert "about 1/2" in verdict.reason and picks in verdict.reason


# ---- the lab's Kubernetes node ------------
def test_kube_proxy_rules_have_kube_proxys_shape() -> None:
    rules = kube.iptables_rules(K8S_OFF)
    assert (
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in rules
    )
    assert "--probability 0.50000000000 -j KUBE-SEP-" in rules
    assert '-s 10.244.1.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ' in rules
    assert "-j DNAT --to-destination 10.244.1.3:8080" in rules
    assert "-j MASQUERADE --random-fully" in rules
    assert rules.count("--probability") == len(K8S_OFF.lb.members) - 1


def test_bridge_ports_follow_the_hairpin_mode() -> None:
    netns = {n: f"pfl-t-{n}" for n in ("host", "web1", "web2", "client")}
    off = [str(c) for c in kube.plan(K8S_OFF, netns)]
    on = [str(c) for c in kube.plan(K8S_ON, netns)]
    assert "[host] ip link set veth-web1 type bridge_slave hairpin off" in off
    assert "[host] ip link set veth-web1 type bridge_slave hairpin on" in on
    assert "[host] sysctl -qw net.bridge.bridge-nf-call-iptables=1" in off


def test_the_witness_names_the_caller_when_any_syn_of_it_was_sent_back() -> None:
    elems = [
        {"elem": {"val": {"concat": ["10.244.1.2", 41001, "10.244.1.3"]}, "expires": 5}},
        {"elem": {"val": {"concat": ["10.244.1.2", 41001, "10.244.1.2"]}, "expires": 5}},
        {"concat": ["10.244.1.2", 41002, "10.244.1.3"]},
    ]
    text = json.dumps({"nftables": [{"metainfo": {}}, {"set": {"name": "picked", "elem": elems}}]})
    entries = {e.orig_sport: e for e in kube.witness_entries(text, K8S_OFF)}
    assert entries[41001].reply_src == "10.244.1.2" and entries[41002].reply_src == "10.244.1.3"
    assert entries[41001].key == ("tcp", "10.244.1.2", 41001, "10.96.0.10", 80)
    assert kube.witness_entries("not json", K8S_OFF) == []


def test_a_call_served_locally_and_reset_is_the_platform_behaviour_not_a_plain_refusal() -> None:
    local = Facts(
        kind=ATTEMPT, proto="tcp", caller=VIP, served_locally=True, caller_refused=True,
        frontend_local=True,
    )  # fmt: skip
    verdict = decide(local)
    assert verdict.label is Label.SERVED_LOCALLY_REFUSED and "by design" in verdict.reason
    elsewhere = dataclasses.replace(local, served_locally=False, translated_seen=True)
    assert decide(elsewhere).label is Label.REFUSED


def test_every_lab_verified_fix_names_a_scenario_of_its_platform_where_nothing_fails() -> None:
    verified = [e for e in load_catalogue() if e.verified_in_lab]
    assert {e.id for e in verified} >= {"aws-disable-client-ip-preservation", "k8s-hairpin-veth"}
    for entry in verified:
        scenario = SCENARIOS[entry.verified_in_lab]
        labels = {x.label for step in scenario.steps for x in step.expect.values()}
        assert not any(Label(label).is_failure for label in labels), entry.id
        clouds = dict(entry.conditions).get("clouds")
        assert clouds is None or scenario.lb.cloud in clouds, entry.id
