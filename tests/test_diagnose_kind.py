"""The kind of a connection (frontend call, member leg, health probe, direct call, other), as a
pure function of the reconciled connection, the config and which hosts were captured."""

from __future__ import annotations

from analysis_factory import PROBE_SRC, VIP, B, C, T, flow, handshake, pkt, seed_config

from pcapflow.diagnose import diagnose
from pcapflow.diagnose.kind import Kinded, backend_rules, classify
from pcapflow.model.lb import LbConfig
from pcapflow.model.packet import ACK, RST, SYN, PacketRef
from pcapflow.model.result import FlowKind, Label
from pcapflow.reconcile import CaptureView, join_connections
from pcapflow.reconcile.connection import Connection
from pcapflow.reconcile.lbindex import LbIndex

CFG = seed_config()


def connections(*packets: list[PacketRef], cfg: LbConfig = CFG) -> tuple[Connection, ...]:
    flows = tuple(flow(p) for p in packets)
    view = CaptureView(0, "web01.pcap", "web01 eth0", flows, frozenset({B}))
    return join_connections([view], cfg)


def kind_of(packets: list[PacketRef], captured: frozenset[str] = frozenset({B})) -> Kinded:
    (conn,) = connections(packets)
    return classify(conn, LbIndex(CFG), captured)


def test_a_call_to_the_vip_is_a_frontend_call() -> None:
    assert kind_of(handshake(B, 40001, VIP, 80, seq=1, t=0)).kind is FlowKind.FRONTEND_CALL


def test_the_probe_source_is_a_health_probe() -> None:
    assert kind_of(handshake(PROBE_SRC, 50001, B, 80, seq=1, t=0)).kind is FlowKind.HEALTH_PROBE


def test_an_uncaptured_caller_on_the_backend_port_is_a_member_leg_naming_the_rule() -> None:
    k = kind_of(handshake(C, 40001, B, 80, seq=1, t=0))
    assert k.kind is FlowKind.MEMBER_LEG and k.rule == "ilb-web/http"
    assert f"caller's side ({C}) was not captured" in k.note
    assert "ilb-web/http" in k.note and f"{VIP}:80 -> backend port 80" in k.note


def test_a_captured_caller_calling_a_member_is_a_direct_call() -> None:
    k = kind_of(handshake(C, 40001, B, 80, seq=1, t=0), frozenset({B, C}))
    assert k.kind is FlowKind.DIRECT_CALL and k.note == "" and k.rule is None


def test_a_member_port_no_rule_serves_is_a_direct_call() -> None:
    assert kind_of(handshake(C, 40001, B, 22, seq=1, t=0)).kind is FlowKind.DIRECT_CALL


def test_traffic_to_other_hosts_and_icmp_is_other() -> None:
    assert kind_of(handshake(B, 40001, "8.8.8.8", 443, seq=1, t=0)).kind is FlowKind.OTHER
    icmp = [pkt(B, 3, C, 3, 0, t=0, proto=1)]
    assert kind_of(icmp).kind is FlowKind.OTHER


def test_backend_rules_follow_the_backend_port_and_the_pool() -> None:
    assert [m.rule.name for m in backend_rules(CFG, T, 80, "tcp")] == ["http"]
    assert backend_rules(CFG, T, 80, "udp") == ()
    assert backend_rules(CFG, "10.9.9.9", 80, "tcp") == ()
    assert backend_rules(seed_config(floating_ip=True), T, 80, "tcp") == ()


def test_every_flow_gets_its_kind_and_a_label_by_its_own_outcome() -> None:
    conns = connections(
        handshake(PROBE_SRC, 50001, B, 80, seq=1, t=0, frame=1),
        handshake(C, 40001, B, 80, seq=2, t=1, frame=10),
        [
            pkt(C, 40002, B, 81, SYN, t=2, seq=3, frame=20),
            pkt(B, 81, C, 40002, RST | ACK, t=2.001, ack=4, frame=21),
        ],
    )
    results, findings = diagnose(
        conns, CFG, paths={0: "web01.pcap"}, capture_end={0: 9.0}, captured_members=frozenset({B}),
        captured_hosts=frozenset({B}),
    )  # fmt: skip
    got = {(r.flow.orig_p, r.kind, r.label) for r in results}
    assert got == {
        (50001, FlowKind.HEALTH_PROBE, Label.OK),
        (40001, FlowKind.MEMBER_LEG, Label.OK),
        (40002, FlowKind.DIRECT_CALL, Label.REFUSED),
    }
    # what worked outside a frontend call needs no finding; the refused direct call has one
    assert [(f.label, f.frontend, f.kind) for f in findings] == [
        (Label.REFUSED, f"{B}:81", FlowKind.DIRECT_CALL)
    ]


def test_a_failed_member_leg_finding_names_the_rule_and_says_the_caller_was_not_captured() -> None:
    refused = [
        pkt(C, 40003, B, 80, SYN, t=0, seq=5, frame=1),
        pkt(B, 80, C, 40003, RST | ACK, t=0.001, ack=6, frame=2),
    ]
    results, findings = diagnose(
        connections(refused), CFG, paths={0: "web01.pcap"}, capture_end={0: 9.0},
        captured_members=frozenset({B}),
        captured_hosts=frozenset({B}),
    )  # fmt: skip
    ((flow_result,), (finding,)) = (results, findings)
    assert flow_result.label is Label.REFUSED and flow_result.rule == "ilb-web/http"
    assert finding.kind is FlowKind.MEMBER_LEG and finding.rule == "ilb-web/http"
    assert finding.ambiguity == flow_result.note and "not captured" in flow_result.note


def test_failures_of_frontend_calls_come_before_failures_of_other_kinds() -> None:
    silent_call = [pkt(B, 41001, VIP, 80, SYN, t=0, seq=9, frame=30 + n, ip_id=n) for n in (1, 2)]
    refused_direct = [
        pkt(C, 40004, B, 22, SYN, t=0, seq=5, frame=40),
        pkt(B, 22, C, 40004, RST | ACK, t=0.001, ack=6, frame=41),
    ]
    _results, findings = diagnose(
        connections(refused_direct, silent_call), CFG, paths={0: "web01.pcap"},
        capture_end={0: 9.0}, captured_members=frozenset({B}), captured_hosts=frozenset({B}),
    )  # fmt: skip
    # refused ranks before filtered among labels, but the frontend call's failure comes first
    assert [(f.id, f.kind, f.label) for f in findings] == [
        ("F1", FlowKind.FRONTEND_CALL, Label.FILTERED),
        ("F2", FlowKind.DIRECT_CALL, Label.REFUSED),
    ]


def test_a_rule_on_every_port_of_one_protocol_matches_any_backend_port() -> None:
    """A Google Cloud allPorts TCP rule (frontend port 0, protocol tcp) is not HA ports, yet it
    sends every TCP port to the pool, as ``Rule.matches_port`` says."""
    from dataclasses import replace

    (bal,) = CFG.load_balancers
    every_port = replace(
        bal, rules=tuple(replace(r, frontend_port=0, backend_port=0) for r in bal.rules)
    )
    cfg = LbConfig((every_port,))
    (match,) = backend_rules(cfg, T, 8443, "tcp")
    assert match.rule.any_port and not match.rule.ha_ports
    assert backend_rules(cfg, T, 8443, "udp") == ()
