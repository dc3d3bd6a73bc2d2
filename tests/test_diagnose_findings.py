"""Findings: flows grouped by cause and (caller, frontend, rule), ids, order, rates, evidence."""

from __future__ import annotations

from analysis_factory import VIP, B, C, flow, hairpin_self_packets, handshake, seed_config

from pcapflow.model.capture import CaptureInfo
from pcapflow.model.result import AnalysisResult, Confidence, Label
from pcapflow.pipeline import analyze_flows


def info(idx: int, path: str) -> CaptureInfo:
    return CaptureInfo(idx, path, "pcap", (), 0, 0, 0, None, None)


def web01_capture(selfs: int, others: int, **cfg: object) -> AnalysisResult:
    flows = []
    for i in range(selfs):
        out, back = hairpin_self_packets(41001 + i, seq=1000 + i, t=i * 10.0, frame=100 * i + 1)
        flows += [flow(out), flow(back)]
    for j in range(others):
        port = 42001 + j
        flows.append(
            flow(handshake(B, port, VIP, 80, seq=5000 + j, t=500 + j, frame=9000 + 10 * j))
        )
    return analyze_flows(
        [(info(0, "web01-eth0.pcap"), flows)],
        ["web01-eth0.pcap"],
        seed_config(**cfg),  # type: ignore[arg-type]
        capture_points=["web01 eth0"],
    )


def test_hairpin_findings_group_by_label_with_rates() -> None:
    result = web01_capture(3, 5)
    ids = [(f.id, f.label) for f in result.findings]
    assert ids == [("F1", Label.HAIRPIN_SELF), ("F2", Label.HAIRPIN_OTHER_BACKEND)]
    self_finding = result.findings[0]
    assert self_finding.count == 3 and self_finding.attempts == 8
    assert self_finding.caller == B and self_finding.frontend == f"{VIP}:80"
    assert self_finding.rule == "ilb-web/http"
    assert self_finding.expected_rate == 0.5 and self_finding.observed_rate == 3 / 8
    assert self_finding.p_value is not None and self_finding.p_value > 0.01
    assert self_finding.confidence is Confidence.HIGH
    assert self_finding.first_ts < self_finding.last_ts
    frames = [(e.file, e.frame) for e in self_finding.evidence]
    assert ("web01-eth0.pcap", 1) in frames and ("web01-eth0.pcap", 2) in frames
    assert all(e.summary for e in self_finding.evidence)


def test_every_attempt_is_an_outbound_flow_from_the_caller_to_the_frontend() -> None:
    result = web01_capture(2, 2)
    outbound = [r for r in result.flows if r.role == "outbound"]
    assert len(outbound) == 4
    assert all((r.flow.orig_h, r.flow.resp_h, r.flow.resp_p) == (B, VIP, 80) for r in outbound)
    translated = [r for r in result.flows if r.role == "translated"]
    assert len(translated) == 2 and all(r.paired_with for r in translated)
    assert all(r.id.startswith("0:") for r in result.flows)


def test_rate_far_from_one_in_n_lowers_the_confidence() -> None:
    result = web01_capture(
        12,
        0,
        members=("10.2.1.4", "10.2.1.6", "10.2.1.7", "10.2.1.8"),
        vms=("web01", "web02", "web03", "web04"),
    )
    (finding,) = result.findings
    assert finding.expected_rate == 0.25 and finding.observed_rate == 1.0
    assert finding.confidence is Confidence.MEDIUM and "inconsistent" in finding.confidence_reason


def test_the_lucky_twin_defers_its_fixes_to_the_failing_finding() -> None:
    result = web01_capture(1, 1)
    assert result.findings[0].remediations and not result.findings[1].remediations


def test_output_is_deterministic() -> None:
    assert web01_capture(2, 3) == web01_capture(2, 3)


def test_outside_client_attempts_are_ok_and_not_failures() -> None:
    flows = [flow(handshake(C, 40001 + i, VIP, 80, seq=10 + i, t=i)) for i in range(3)]
    result = analyze_flows([(info(0, "client.pcap"), flows)], ["client.pcap"], seed_config())
    assert [(f.label, f.count) for f in result.findings] == [(Label.OK, 3)]
    assert not result.failures and result.verdict == "healthy"


def test_an_established_flow_dying_after_the_idle_timeout_is_idle_timeout() -> None:
    from analysis_factory import pkt

    from pcapflow.model.packet import ACK, PSH

    opened = handshake(C, 40001, VIP, 80, seq=10, t=0.0)
    data = pkt(C, 40001, VIP, 80, PSH | ACK, t=0.01, seq=11, ack=778, payload_len=10, frame=4)
    acked = pkt(VIP, 80, C, 40001, ACK, t=0.011, seq=778, ack=21, ip_id=0, ttl=63, frame=5)
    retries = [
        pkt(
            C,
            40001,
            VIP,
            80,
            PSH | ACK,
            t=300.0 + 2**i,
            seq=21,
            ack=778,
            payload_len=10,
            frame=6 + i,
        )
        for i in range(3)
    ]
    f = flow([*opened, data, acked, *retries])
    result = analyze_flows([(info(0, "client.pcap"), [f])], ["client.pcap"], seed_config())
    (finding,) = result.findings
    assert finding.label is Label.IDLE_TIMEOUT
    assert [r.id for r in finding.remediations] == ["keepalive-below-idle", "raise-idle-timeout"]
    assert "--idle-timeout 30 --enable-tcp-reset true" in finding.remediations[1].commands[0]


def test_guest_os_is_inferred_from_the_ttl_when_not_declared() -> None:
    from dataclasses import replace

    out, back = hairpin_self_packets(41001, seq=1)
    out = [replace(p, ttl=128) for p in out]
    back = [replace(p, ttl=127) for p in back]
    result = analyze_flows(
        [(info(0, "web01.pcapng"), [flow(out), flow(back)])],
        ["web01.pcapng"],
        seed_config(os=None),
    )
    assert result.os == "windows"
    assert result.findings[0].remediations[0].id == "loopback-vip-floating-ip-windows"


def test_floating_ip_copy_back_to_the_caller_is_guest_unconfigured_end_to_end() -> None:
    from dataclasses import replace

    from analysis_factory import pkt

    from pcapflow.model.packet import SYN

    packets = []
    for n in range(3):
        syn = pkt(
            B, 41001, VIP, 80, SYN, t=float(n), seq=9, ip_id=50 + n, tsval=7 + n, frame=2 * n + 1
        )
        packets += [syn, replace(syn, frame=2 * n + 2, ttl=63, ts_ns=syn.ts_ns + 25_000)]
    result = analyze_flows(
        [(info(0, "web01-eth0.pcap"), [flow(packets)])],
        ["web01-eth0.pcap"],
        seed_config(floating_ip=True),
        capture_points=["web01 eth0"],
    )
    (finding,) = result.findings
    assert finding.label is Label.FLOATING_IP_GUEST_UNCONFIGURED
    assert [r.id for r in finding.remediations][:2] == [
        "vip-on-loopback-linux",
        "disable-floating-ip",
    ]
    (leg,) = result.legs
    assert leg.inbound_flows == (leg.outbound_flow,) and leg.member == B


def test_without_a_declared_pool_no_expected_rate_is_claimed() -> None:
    """A config discovered from one caller's capture lists only the members it saw (here the
    caller itself): N is unknown, so no 1/N is claimed and the reason says why."""
    flows = []
    for i in range(3):
        out, back = hairpin_self_packets(41001 + i, seq=1000 + i, t=i * 10.0, frame=100 * i + 1)
        flows += [flow(out), flow(back)]
    result = analyze_flows(
        [(info(0, "web01-eth0.pcap"), flows)], ["web01-eth0.pcap"], None, capture_points=["web01"]
    )
    assert result.suggested_config is not None
    (finding,) = result.findings
    assert finding.label is Label.HAIRPIN_SELF
    assert finding.expected_rate is None and finding.p_value is None
    assert finding.observed_rate == 1.0
    assert "pool size N is unknown" in finding.confidence_reason
    assert "1/1" not in finding.confidence_reason


def test_a_declared_single_member_pool_still_expects_every_call_to_fail() -> None:
    result = web01_capture(2, 0, members=(B,), vms=("web01",))
    (finding,) = result.findings
    assert finding.expected_rate == 1.0 and "consistent with 1/1" in finding.confidence_reason
