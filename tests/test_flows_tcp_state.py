"""Pure-function tests of Zeek's TCP/UDP/ICMP decisions on hand-built packet arrays."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.flows import assemble
from pcapflow.flows.assembler import ChecksumCounts
from pcapflow.flows.synthetic import PacketBuilder
from pcapflow.model.flow import Flow
from pcapflow.model.packet import PF_BAD_CSUM, PF_CSUM_UNKNOWN, PF_DUP_SEEN, PF_DUPLICATE

C, S = "10.2.1.4", "10.2.1.100"


def flows_of(b: PacketBuilder, **kw: object) -> list[Flow]:
    return assemble([b.array()], file_idx=0, **kw)  # type: ignore[arg-type]


def one(b: PacketBuilder, **kw: object) -> Flow:
    flows = flows_of(b, **kw)
    assert len(flows) == 1, [f.history for f in flows]
    return flows[0]


def handshake(b: PacketBuilder, cport: int = 40000, isn: int = 1000, risn: int = 5000) -> None:
    b.tcp(C, cport, S, 80, "S", seq=isn)
    b.tcp(S, 80, C, cport, "SA", seq=risn, ack=isn + 1)
    b.tcp(C, cport, S, 80, "A", seq=isn + 1, ack=risn + 1)


def test_full_connection_is_sf_with_byte_counts() -> None:
    b = PacketBuilder()
    handshake(b)
    b.tcp(C, 40000, S, 80, "PA", seq=1001, ack=5001, payload=100)
    b.tcp(S, 80, C, 40000, "A", seq=5001, ack=1101)
    b.tcp(S, 80, C, 40000, "PA", seq=5001, ack=1101, payload=300)
    b.tcp(C, 40000, S, 80, "FA", seq=1101, ack=5301)
    b.tcp(S, 80, C, 40000, "FA", seq=5301, ack=1102)
    b.tcp(C, 40000, S, 80, "A", seq=1102, ack=5302)
    f = one(b)
    assert (f.conn_state, f.history) == ("SF", "ShADadFf")
    assert (f.orig_bytes, f.resp_bytes) == (100, 300)
    assert (f.orig_pkts, f.resp_pkts) == (5, 4)
    assert (f.orig_ip_bytes, f.resp_ip_bytes) == (5 * 40 + 100, 4 * 40 + 300)
    assert (f.orig_h, f.orig_p, f.resp_h, f.resp_p, f.proto) == (C, 40000, S, 80, "tcp")
    assert (f.isn, f.resp_isn, f.first_frame, f.last_frame) == (1000, 5000, 1, 9)
    # Zeek's duration stops when both sides have closed: the last ACK does not count.
    assert abs(f.duration - 0.007) < 1e-6 and abs(f.last_ts - f.ts - 0.008) < 1e-6


def test_rst_answer_to_syn_is_rej() -> None:
    b = PacketBuilder()
    b.tcp(C, 40001, S, 80, "S", seq=1)
    b.tcp(S, 80, C, 40001, "RA", seq=0, ack=2)
    f = one(b)
    assert (f.conn_state, f.history) == ("REJ", "Sr")


def test_syn_retransmits_keep_one_s_until_the_attempt_timer() -> None:
    b = PacketBuilder()
    for at in (0.0, 1.0, 3.0):
        b.tcp(C, 40002, S, 80, "S", seq=777, at=at, ip_id=11, ttl=63, tsval=99, opts_hash=5)
    b.tcp(C, 40002, S, 80, "S", seq=777, at=7.0)  # after tcp_attempt_delay (5 s): new conn
    first, second = flows_of(b)
    assert (first.conn_state, first.history, first.orig_pkts) == ("S0", "S", 3)
    assert first.syn_retransmits == 2
    assert (first.syn_ip_id, first.syn_ttl, first.syn_tsval, first.syn_opts_hash) == (11, 63, 99, 5)
    assert (second.conn_state, second.history, second.orig_pkts) == ("S0", "S", 1)
    assert first.uid != second.uid


def test_new_syn_after_close_or_with_other_isn_starts_a_new_connection() -> None:
    b = PacketBuilder()
    handshake(b, cport=40003, isn=100)
    b.tcp(C, 40003, S, 80, "FA", seq=101, ack=5001)
    b.tcp(S, 80, C, 40003, "FA", seq=5001, ack=102)
    b.tcp(C, 40003, S, 80, "A", seq=102, ack=5002)
    b.tcp(C, 40003, S, 80, "S", seq=90000)  # port reuse after close
    b.tcp(C, 40003, S, 80, "S", seq=123456)  # different ISN while SYN_SENT: reuse again
    flows = flows_of(b)
    assert [(f.conn_state, f.history) for f in flows] == [
        ("SF", "ShAFf"),
        ("S0", "S"),
        ("S0", "S"),
    ]
    assert [f.isn for f in flows] == [100, 90000, 123456]


def test_syn_ack_first_then_ack_flips_direction() -> None:
    b = PacketBuilder()
    b.tcp(S, 8888, C, 50000, "SA", seq=5000, ack=1001)
    b.tcp(C, 50000, S, 8888, "A", seq=1001, ack=5001)
    b.tcp(C, 50000, S, 8888, "PA", seq=1001, ack=5001, payload=10)
    f = one(b)
    assert f.history.startswith("^hA")
    assert (f.orig_h, f.orig_p, f.resp_h, f.resp_p) == (C, 50000, S, 8888)
    assert (f.orig_pkts, f.resp_pkts) == (2, 1)


def test_midstream_from_likely_server_port_is_flipped_at_once() -> None:
    b = PacketBuilder()
    b.tcp(S, 80, C, 50001, "PA", seq=9000, ack=100, payload=50)
    b.tcp(C, 50001, S, 80, "A", seq=100, ack=9050)
    f = one(b)
    assert (f.orig_h, f.resp_p, f.history, f.conn_state) == (C, 80, "^dA", "OTH")


def test_syn_then_rst_without_answer_is_rstos0() -> None:
    b = PacketBuilder()
    b.tcp(C, 40004, S, 80, "S", seq=10)
    b.tcp(C, 40004, S, 80, "R", seq=11)
    f = one(b)
    assert (f.conn_state, f.history) == ("RSTOS0", "SR")


def test_syn_then_fin_without_answer_is_sh() -> None:
    b = PacketBuilder()
    b.tcp(C, 40005, S, 80, "S", seq=10)
    b.tcp(C, 40005, S, 80, "FA", seq=11, ack=0)
    f = one(b)
    assert (f.conn_state, f.history) == ("SH", "SF")


def test_byte_counts_survive_32_bit_sequence_wraparound() -> None:
    isn = 0xFFFFFF00
    b = PacketBuilder()
    handshake(b, cport=40006, isn=isn)
    seq = isn + 1
    for _ in range(3):
        b.tcp(C, 40006, S, 80, "PA", seq=seq, ack=5001, payload=1000)
        seq += 1000
        b.tcp(S, 80, C, 40006, "A", seq=5001, ack=seq)
    b.tcp(C, 40006, S, 80, "FA", seq=seq, ack=5001)
    b.tcp(S, 80, C, 40006, "FA", seq=5001, ack=seq + 1)
    f = one(b)
    assert (f.conn_state, f.orig_bytes, f.resp_bytes) == ("SF", 3000, 0)


def test_retransmissions_are_logarithmic_in_history() -> None:
    b = PacketBuilder()
    handshake(b, cport=40007)
    b.tcp(C, 40007, S, 80, "PA", seq=1001, ack=5001, payload=10)
    for _ in range(10):
        b.tcp(C, 40007, S, 80, "PA", seq=1001, ack=5001, payload=10)
    f = one(b)
    assert f.history == "ShADTT"


def test_bad_checksums_keep_the_packet_out_unless_ignored() -> None:
    b = PacketBuilder()
    b.tcp(C, 40008, S, 80, "S", seq=1, bad_checksum=True)
    for policy in (None, False):  # default and --validate-checksums, as Zeek without -C
        f = one(b, ignore_checksums=policy)
        assert (f.history, f.orig_pkts, f.conn_state) == ("C", 0, "OTH")
    assert one(b, ignore_checksums=True).history == "S"  # -C


def test_offloaded_checksums_count_unless_validated() -> None:
    b = PacketBuilder()
    b.tcp(C, 40012, S, 80, "S", seq=1, pflags=PF_BAD_CSUM | PF_CSUM_UNKNOWN)  # unfinished
    assert one(b).history == "S"
    assert one(b, ignore_checksums=True).history == "S"
    assert one(b, ignore_checksums=False).history == "C"


def test_content_gap_acked_by_peer_gives_g_and_missed_bytes() -> None:
    b = PacketBuilder()
    handshake(b, cport=40009)
    b.tcp(C, 40009, S, 80, "PA", seq=1001, ack=5001, payload=100)
    b.tcp(C, 40009, S, 80, "PA", seq=1201, ack=5001, payload=100)  # 1101..1201 never seen
    b.tcp(S, 80, C, 40009, "A", seq=5001, ack=1301)
    f = one(b)
    assert f.history == "ShADaG"  # the ACK is recorded before it reveals the gap
    assert f.missed_bytes == 100


def test_udp_request_reply_and_inactivity_timeout() -> None:
    b = PacketBuilder()
    b.udp(C, 5353, S, 53, payload=30, at=0.0)
    b.udp(S, 53, C, 5353, payload=90, at=0.5)
    b.udp(C, 5353, S, 53, payload=30, at=70.0)  # udp_inactivity_timeout is 60 s
    first, second = flows_of(b)
    assert (first.conn_state, first.history, first.orig_bytes, first.resp_bytes) == (
        "SF",
        "Dd",
        30,
        90,
    )
    assert (second.conn_state, second.history) == ("S0", "D")


def test_udp_reply_from_server_port_first_is_flipped() -> None:
    b = PacketBuilder()
    b.udp(S, 53, C, 40000, payload=90)
    f = one(b)
    assert (f.orig_h, f.resp_p, f.history, f.conn_state) == (C, 53, "^d", "SHR")


def test_icmp_echo_pairs_request_and_reply() -> None:
    b = PacketBuilder()
    b.icmp(C, S, 8, payload=56)
    b.icmp(S, C, 0, payload=56)
    b.icmp(C, S, 3, 1, payload=28)  # unreachable: one-way, its own flow
    echo, unreach = flows_of(b)
    assert (echo.proto, echo.orig_p, echo.resp_p, echo.orig_pkts, echo.resp_pkts) == (
        "icmp",
        8,
        0,
        1,
        1,
    )
    assert (echo.conn_state, echo.orig_bytes, echo.history) == ("OTH", 56, "")
    assert (unreach.orig_p, unreach.resp_p) == (3, 1)


def test_uids_are_deterministic_zeek_like_and_depend_on_file() -> None:
    b = PacketBuilder()
    handshake(b, cport=40010)
    a1 = flows_of(b)[0].uid
    a2 = assemble([b.array()], file_idx=0)[0].uid
    a3 = assemble([b.array()], file_idx=1)[0].uid
    assert a1 == a2 != a3
    assert len(a1) == 18 and a1[0] == "C" and a1[1:].isalnum()


_PEERS = [("10.0.0.1", 1000), ("10.0.0.2", 80), ("10.0.0.3", 53)]
_LETTERS = set("^ShHaAdDfFrRcCgGtTwWiIqQ")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2]),
            st.sampled_from([0, 1, 2]),
            st.sampled_from(["S", "SA", "A", "PA", "FA", "R", "RA", "SF", "SR", "FR", ""]),
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(0, 1500),
            st.floats(0, 400),
        ),
        max_size=40,
    )
)
def test_any_packet_sequence_gives_consistent_flows(
    packets: list[tuple[int, int, str, int, int, int, float]],
) -> None:
    b = PacketBuilder()
    kept = 0
    for a, z, flags, seq, ack, payload, gap in sorted(packets, key=lambda p: p[6]):
        if a == z:
            continue
        (src, sport), (dst, dport) = _PEERS[a], _PEERS[z]
        b.tcp(src, sport, dst, dport, flags, seq=seq, ack=ack, payload=payload, at=gap)
        kept += 1
    flows = assemble([b.array()], file_idx=0, packets_per_flow=0) if kept else []
    assert sum(f.orig_pkts + f.resp_pkts for f in flows) == kept
    for f in flows:
        assert f.conn_state in {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0",
                                "RSTRH", "SH", "SHR", "OTH"}  # fmt: skip
        assert set(f.history) <= _LETTERS
        assert f.duration >= 0 and f.missed_bytes >= 0
        assert f.orig_bytes >= 0 and f.resp_bytes >= 0


def test_duplicates_are_counted_not_processed() -> None:
    b = PacketBuilder()
    b.tcp(C, 40011, S, 80, "S", seq=1, pflags=PF_DUP_SEEN)  # its copy was dropped by the reader
    b.tcp(C, 40011, S, 80, "S", seq=1, pflags=PF_DUPLICATE, iface=1)  # a copy still in the rows
    f = one(b)
    assert (f.orig_pkts, f.duplicates, f.history, f.syn_retransmits) == (1, 2, "S", 0)
    assert f.ifaces == (0, 1)


@pytest.mark.parametrize(
    ("counts", "policy", "hinted"),
    [
        ((10, 9, 0), None, True),  # mostly wrong, not offload's: left out, say so
        ((10, 9, 9), None, False),  # offload's: counted by default
        ((10, 9, 9), False, True),  # ... but left out by --validate-checksums
        ((10, 9, 0), True, False),  # -C: nothing left out
        ((10, 5, 0), None, False),  # not most
        ((0, 0, 0), None, False),
    ],
)
def test_checksum_hint_only_when_most_packets_were_left_out(
    counts: tuple[int, int, int], policy: bool | None, hinted: bool
) -> None:
    hint = ChecksumCounts(*counts).hint(policy)
    assert (hint is not None) == hinted
    assert hint is None or "-C (--ignore-checksums)" in hint
