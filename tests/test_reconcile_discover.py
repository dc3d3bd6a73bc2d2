"""Without a config: translations are discovered and a pcapflow YAML config is suggested."""

from __future__ import annotations

from analysis_factory import VIP, B, T, flow, hairpin_self_packets, handshake, pkt

from pcapflow.lbconfig import load_text
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import ACK, SYN
from pcapflow.model.result import Label
from pcapflow.pipeline import analyze_flows
from pcapflow.reconcile import CaptureView, discover_translations, suggest_config


def captures() -> list[list]:
    out, back = hairpin_self_packets(41001, seq=1)
    caller = [flow(out), flow(back), flow(handshake(B, 41002, VIP, 80, seq=2, t=5.0, frame=20))]
    member = [
        flow(
            [
                pkt(B, 41002, T, 8080, SYN, t=5.00002, seq=2, ttl=63, file_idx=1),
                pkt(
                    T,
                    8080,
                    B,
                    41002,
                    SYN | ACK,
                    t=5.0003,
                    seq=777,
                    ack=3,
                    ip_id=0,
                    file_idx=1,
                    frame=2,
                ),
            ]
        )
    ]
    return [caller, member]


def test_translations_are_found_with_the_frontend_first() -> None:
    views = [CaptureView(i, f"{i}.pcap", None, tuple(f)) for i, f in enumerate(captures())]
    found = discover_translations(views)
    assert [(t.vip, t.frontend_port, t.member, t.backend_port) for t in found] == [
        (VIP, 80, B, 80),
        (VIP, 80, T, 8080),
    ]


def test_the_suggested_config_round_trips_through_the_yaml_loader() -> None:
    views = [CaptureView(i, f"{i}.pcap", None, tuple(f)) for i, f in enumerate(captures())]
    cfg = suggest_config(discover_translations(views))
    (lb,) = cfg.load_balancers
    assert lb.frontends[0].address == VIP and lb.pools[0].addresses == (B, T)
    from pcapflow.lbconfig import to_yaml

    again = load_text(to_yaml(cfg))
    assert again.rules_for(VIP, 80, "tcp")[0].pool.addresses == (B, T)


def test_analysis_without_config_uses_and_reports_the_suggestion() -> None:
    infos = [CaptureInfo(i, f"{i}.pcap", "pcap", (), 0, 0, 0, None, None) for i in range(2)]
    result = analyze_flows(list(zip(infos, captures(), strict=True)), ["0.pcap", "1.pcap"])
    assert result.suggested_config and VIP in result.suggested_config
    assert any("discovered" in n for n in result.notes)
    labels = sorted(str(r.label) for r in result.flows if r.role == "outbound")
    assert labels == [Label.HAIRPIN_OTHER_BACKEND.value, Label.HAIRPIN_SELF.value]
