"""The ladder model: one arrow per packet, even when two capture points saw the same packet."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from analysis_factory import VIP, B, flow, pkt

from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import ACK, SYN, PacketRef
from pcapflow.model.result import CaptureSummary, FlowResult
from pcapflow.report.facts import connection_heads
from pcapflow.report.golden import CASES, REPO, case_result
from pcapflow.report.ladder import Arrow, clock_notes, ladder, ladder_svg, merge_observations

MS = 1_000_000  # ns


def seen(p: PacketRef, outbound: bool = True) -> tuple[FlowResult, PacketRef, bool]:
    return (FlowResult(id=f"{p.file_idx}:x", flow=flow([p]), capture="c", label=None), p, outbound)


def syn(file_idx: int, t: float, *, ip_id: int = 7, tsval: int | None = 500) -> PacketRef:
    return pkt(B, 41001, VIP, 80, SYN, t=t, file_idx=file_idx, ip_id=ip_id, tsval=tsval,
               frame=10 + file_idx)  # fmt: skip


def test_the_same_packet_at_two_points_is_one_arrow_with_both_observations() -> None:
    merged = merge_observations([seen(syn(0, 0.0)), seen(syn(1, 0.0001))], {})
    assert len(merged) == 1
    ((first, also),) = merged
    assert first[1].file_idx == 0 and [p.file_idx for p in also] == [1]


def test_a_retransmission_in_the_other_capture_is_its_own_arrow() -> None:
    again = syn(1, 0.0001, ip_id=8, tsval=1500)  # a new IP ID and TSval: another packet
    assert len(merge_observations([seen(syn(0, 0.0)), seen(again)], {})) == 2


def test_two_packets_of_one_capture_are_never_merged() -> None:
    assert len(merge_observations([seen(syn(0, 0.0)), seen(syn(0, 0.00003))], {})) == 2


def test_merging_needs_the_same_leg_addresses_and_flags() -> None:
    copy_after_dnat = pkt(B, 41001, B, 80, SYN, t=0.0001, file_idx=1, ip_id=7, tsval=500)
    other_flags = pkt(B, 41001, VIP, 80, SYN | ACK, t=0.0001, file_idx=1, ip_id=7, tsval=500)
    for packet in (copy_after_dnat, other_flags):
        assert len(merge_observations([seen(syn(0, 0.0)), seen(packet)], {})) == 2
    assert len(merge_observations([seen(syn(0, 0.0)), seen(syn(1, 0.0), False)], {})) == 2


def test_clock_offsets_decide_whether_two_observations_are_close_enough() -> None:
    late = syn(1, 2.0)  # 2 s later by its own clock, 2 s ahead of file 0
    assert len(merge_observations([seen(syn(0, 0.0)), seen(late)], {})) == 2
    assert len(merge_observations([seen(syn(0, 0.0)), seen(late)], {1: -2000 * MS})) == 1


def test_a_third_capture_joins_the_same_arrow() -> None:
    merged = merge_observations([seen(syn(i, i * 0.0001)) for i in range(3)], {})
    assert [len(also) for _first, also in merged] == [2]


# ---- on real captures: a VM's NIC and the balancer's side of it ------------------------------
CASE = next(c for c in CASES if c.name == "mixed-web01-nic-and-balancer-side")


def test_every_frame_is_drawn_once_and_shared_packets_name_both_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    result = case_result(CASE)
    both = 0
    for head in connection_heads(result.flows):
        drawn = ladder(result, head, "t")
        frames = Counter(f for arrow in drawn.arrows for f in arrow.frames)
        assert all(n == 1 for n in frames.values()), head.id
        shared = [a for a in drawn.arrows if a.also]
        both += len(shared)
        assert all({a.file, *(f for f, _ in a.also)} == set(CASE.captures) for a in shared)
        assert all([f for f, _ in a.frames] == list(CASE.captures) for a in shared)
        assert len(drawn.clocks) == (1 if shared else 0)
        svg = ladder_svg(drawn)
        for arrow in shared:
            for file, frame in arrow.frames:
                assert f"{Path(file).stem} #{frame}</tspan>" in svg
    assert both > 0


def test_the_clock_offset_is_stated_once_per_pair_of_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    result = case_result(CASE)
    head = next(h for h in connection_heads(result.flows) if h.frontend)
    drawn = ladder(result, head, "t")
    (note,) = drawn.clocks
    offset = result.captures[1].clock_offset_s - result.captures[0].clock_offset_s
    assert f"{offset * 1e6:+.1f} µs" in note and "web01-eth0.pcapng" in note
    assert clock_notes(result.captures, drawn.arrows + drawn.arrows) == drawn.clocks


def capture(i: int, offset_s: float = 0.0, basis: int = 0) -> CaptureSummary:
    info = CaptureInfo(i, f"cap/p{i}.pcap", "pcap", (), 1, 1, 0, None, None)
    return CaptureSummary(info, None, offset_s, basis)


def arrow(file: str, also: tuple[tuple[str, int], ...]) -> Arrow:
    return Arrow(0, 1, 0.0, file, 1, "SYN", "SYN", "", "outbound", "a -> b", also)


def test_clock_notes_name_each_pair_once_earlier_file_first() -> None:
    caps = [capture(0), capture(1, 0.25, 9), capture(2)]
    arrows = [
        arrow("cap/p1.pcap", (("cap/p0.pcap", 3),)),
        arrow("cap/p0.pcap", (("cap/p1.pcap", 4),)),
    ]
    (note,) = clock_notes(caps, arrows)
    assert note.startswith("p0.pcap and p1.pcap saw the same packets")
    assert "p1.pcap times +250000.0 µs to match p0.pcap (estimated from 9 matched packets)" in note
    (unknown,) = clock_notes(caps, [arrow("cap/p2.pcap", (("cap/p0.pcap", 1),))])
    assert "not estimated" in unknown
    assert clock_notes(caps, [arrow("cap/p0.pcap", ())]) == ()
