"""Reconciliation: pairing an outbound leg with its translated leg, within and across captures."""

from __future__ import annotations

from dataclasses import replace

from analysis_factory import VIP, B, C, T, flow, hairpin_self_packets, handshake, pkt, seed_config

from pcapflow.model.packet import ACK, SYN
from pcapflow.reconcile import (
    CaptureView,
    PairingWindow,
    estimate_offsets,
    join_connections,
    matched_invariants,
    to_leg,
)


def view(idx: int, flows: list, local: frozenset[str] = frozenset({B}), offset: float = 0.0):
    return CaptureView(idx, f"f{idx}.pcap", None, tuple(flows), local, offset)


def attempts(conns):
    return [c for c in conns if c.is_attempt]


def test_each_syn_retransmission_is_paired_with_its_own_copy() -> None:
    out, back = hairpin_self_packets(41001, seq=7, retransmits=2)
    conns = join_connections([view(0, [flow(out), flow(back)])], seed_config())
    (conn,) = attempts(conns)
    assert conn.self_mapped and conn.member == B
    assert [(p.outbound.frame, p.translated.frame) for p in conn.pairs] == [(1, 2), (3, 4), (5, 6)]
    assert all({"seq", "ip_id", "tsval"} <= set(p.matched_on) for p in conn.pairs)
    assert all(0 < p.delta_s < 1e-4 for p in conn.pairs)
    leg = to_leg(conn)
    assert leg is not None and leg.rule == "ilb-web/http" and leg.member == B


def test_a_copy_outside_the_window_is_joined_but_not_paired() -> None:
    out, back = hairpin_self_packets(41001, seq=7, retransmits=0)
    late = [replace(p, ts_ns=p.ts_ns + 200_000_000) for p in back]
    (conn,) = attempts(join_connections([view(0, [flow(out), flow(late)])], seed_config()))
    assert conn.translated and not conn.pairs


def test_window_is_configurable() -> None:
    out, back = hairpin_self_packets(41001, seq=7, retransmits=0)
    wide = PairingWindow(same_capture_s=1.0)
    late = [replace(p, ts_ns=p.ts_ns + 200_000_000) for p in back]
    (conn,) = attempts(join_connections([view(0, [flow(out), flow(late)])], seed_config(), wide))
    assert len(conn.pairs) == 1


def test_invariants_differ_means_no_pair() -> None:
    a = pkt(B, 1, VIP, 80, SYN, t=0, ip_id=5, tsval=9)
    assert matched_invariants(a, replace(a, ip_id=6)) is None
    assert matched_invariants(a, replace(a, tsval=10)) is None
    assert matched_invariants(a, replace(a, seq=a.seq + 1)) is None
    assert matched_invariants(a, replace(a, dst=B)) is not None  # the rewritten field may differ


def test_a_translation_no_rule_explains_is_undeclared() -> None:
    out = [pkt(B, 41001, VIP, 80, SYN, t=0, seq=9)]
    odd = [pkt(B, 41001, "10.2.1.77", 8080, SYN, t=30e-6, seq=9, ttl=63, frame=2)]
    (conn,) = attempts(join_connections([view(0, [flow(out), flow(odd)])], seed_config()))
    assert conn.undeclared and "undeclared translation" in conn.notes[0]
    leg = to_leg(conn)
    assert leg is not None and leg.rule is None


def test_legs_seen_at_two_capture_points_are_joined_after_clock_correction() -> None:
    skew = 2.5  # the member's clock runs 2.5 s ahead
    caller = flow(handshake(B, 41004, VIP, 80, seq=55, t=1.0))
    at_member = flow(
        [
            pkt(B, 41004, T, 80, SYN, t=1.0 + skew + 20e-6, seq=55, ttl=63, file_idx=1),
            pkt(
                T,
                80,
                B,
                41004,
                SYN | ACK,
                t=1.0 + skew + 0.0004,
                seq=777,
                ack=56,
                ip_id=0,
                file_idx=1,
                frame=2,
            ),
        ]
    )
    offsets = estimate_offsets([[caller], [at_member]])
    assert abs(offsets[1].offset_s + skew) < 1e-3 and offsets[1].basis == 2
    views = [view(0, [caller]), view(1, [at_member], frozenset({T}), offsets[1].offset_s)]
    (conn,) = attempts(join_connections(views, seed_config()))
    assert conn.member == T and not conn.self_mapped
    assert [leg.role for leg in conn.legs] == ["outbound", "translated"]
    assert len(conn.pairs) == 1 and abs(conn.pairs[0].delta_s) < 1e-3


def test_floating_ip_copy_in_the_same_flow_is_the_translated_leg() -> None:
    syn = pkt(B, 41001, VIP, 80, SYN, t=0, seq=3, ip_id=11, tsval=1)
    copy = replace(syn, frame=2, ts_ns=syn.ts_ns + 30_000, ttl=63)
    (conn,) = attempts(
        join_connections([view(0, [flow([syn, copy])])], seed_config(floating_ip=True))
    )
    assert conn.self_mapped and len(conn.pairs) == 1


def test_a_syn_retransmission_alone_is_not_a_copy() -> None:
    syn = pkt(B, 41001, VIP, 80, SYN, t=0, seq=3, ip_id=11, tsval=1)
    again = replace(syn, frame=2, ts_ns=syn.ts_ns + 30_000, ip_id=12, tsval=2)
    (conn,) = attempts(
        join_connections([view(0, [flow([syn, again])])], seed_config(floating_ip=True))
    )
    assert not conn.self_mapped and not conn.pairs


def test_a_reply_only_flow_joins_its_connection_by_the_ack() -> None:
    syn_only = flow([pkt("168.63.129.16", 5555, T, 80, SYN, t=0, seq=100, iface=1)])
    reply_only = flow(
        [pkt(T, 80, "168.63.129.16", 5555, SYN | ACK, t=1e-4, seq=9, ack=101, file_idx=1)]
    )
    conns = join_connections(
        [view(0, [syn_only]), view(1, [reply_only], frozenset({T}))], seed_config()
    )
    assert len(conns) == 1 and [leg.role for leg in conns[0].legs] == ["probe", "probe"]


def test_the_caller_capture_stands_for_the_attempt() -> None:
    at_client = flow(handshake(C, 40001, VIP, 80, seq=1, t=0.0, file_idx=1))
    at_lb = flow(handshake(C, 40001, VIP, 80, seq=1, t=-1e-5))
    views = [view(0, [at_lb], frozenset({"10.9.9.9"})), view(1, [at_client], frozenset({C}))]
    (conn,) = attempts(join_connections(views, seed_config()))
    assert conn.representative.flow.file_idx == 1 and conn.legs[1].role == "copy"


def test_a_copy_at_another_capture_is_not_self_just_because_its_address_looks_local() -> None:
    # on Azure TTLs are not decremented: a peer VM's address may look local to the caller's
    # capture; only a copy captured on the caller's own capture (or same VM) is "self".
    caller = flow([pkt(B, 41001, VIP, 80, SYN, t=0, seq=5)])
    at_t = flow([pkt(B, 41001, T, 80, SYN, t=2e-5, seq=5, ttl=63, file_idx=1)])
    views = [view(0, [caller], frozenset({B, T})), view(1, [at_t], frozenset({T}))]
    (conn,) = attempts(join_connections(views, seed_config(vms=("web01", "web02"))))
    assert not conn.self_mapped and conn.member == T


def test_a_copy_on_another_nic_of_the_callers_vm_is_self() -> None:
    out = flow([pkt("10.2.1.5", 41001, VIP, 80, SYN, t=0, seq=5)])
    back = flow([pkt("10.2.1.5", 41001, B, 80, SYN, t=3e-5, seq=5, ttl=63, file_idx=1)])
    views = [
        CaptureView(0, "a.pcap", "web01 eth1", (out,), frozenset({"10.2.1.5"})),
        CaptureView(1, "b.pcap", "web01 eth0", (back,), frozenset({B})),
    ]
    (conn,) = attempts(join_connections(views, seed_config(members=(B,), vms=("vm-x",))))
    assert conn.self_mapped and conn.member == B
