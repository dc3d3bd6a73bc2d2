"""Which flows the diagnosis reads packets of, decided from the flow table alone."""

from __future__ import annotations

from pcapflow.flows.assembler import FlowAssembler
from pcapflow.flows.synthetic import PacketBuilder
from pcapflow.flows.table import FlowTable
from pcapflow.lbconfig.declaration import from_declaration
from pcapflow.reconcile.relevance import needs_packets

LB = from_declaration(["10.9.0.100:443/tcp"], ["10.9.0.4:8443"])
CLIENT = "10.1.0.7"


def table(build: PacketBuilder, file_idx: int = 0) -> FlowTable:
    asm = FlowAssembler(file_idx=file_idx)
    blocks = [*asm.feed(build.array()), *asm.close()]
    return FlowTable.of_blocks(blocks)


def handshake(b: PacketBuilder, src: str, sport: int, dst: str, dport: int, at: float) -> None:
    b.tcp(src, sport, dst, dport, "S", seq=100, at=at)
    b.tcp(dst, dport, src, sport, "SA", seq=500, ack=101, at=at + 0.001)
    b.tcp(src, sport, dst, dport, "A", seq=101, ack=501, at=at + 0.002)
    b.tcp(src, sport, dst, dport, "FA", seq=101, ack=501, at=at + 0.003)
    b.tcp(dst, dport, src, sport, "FA", seq=501, ack=102, at=at + 0.004)
    b.tcp(src, sport, dst, dport, "A", seq=102, ack=502, at=at + 0.005)


def wanted(t: FlowTable, lb: object = LB) -> dict[tuple[str, int], bool]:
    mask = needs_packets([t], lb)[0]  # type: ignore[arg-type]
    return {
        (str(h), int(p)): bool(w)
        for h, p, w in zip(t.resp_h.tolist(), t.cols["resp_p"].tolist(), mask.tolist(), strict=True)
    }


def test_healthy_background_needs_no_packets_and_the_balancer_does() -> None:
    b = PacketBuilder()
    handshake(b, CLIENT, 40001, "10.2.0.5", 80, 0.0)  # background, healthy
    handshake(b, CLIENT, 40002, "10.9.0.100", 443, 0.1)  # to the frontend
    handshake(b, CLIENT, 40003, "10.9.0.4", 8443, 0.2)  # to a member's backend port
    handshake(b, CLIENT, 40004, "10.9.0.4", 22, 0.3)  # a member, another port
    b.tcp(CLIENT, 40005, "10.2.0.6", 80, "S", seq=1, at=0.4)  # unanswered: its label needs packets
    got = wanted(table(b))
    assert got == {
        ("10.2.0.5", 80): False,
        ("10.9.0.100", 443): True,
        ("10.9.0.4", 8443): True,
        ("10.9.0.4", 22): False,
        ("10.2.0.6", 80): True,
    }


def test_udp_answered_or_near_icmp_and_long_tcp() -> None:
    b = PacketBuilder()
    b.udp(CLIENT, 5000, "10.3.0.53", 53, at=0.0)
    b.udp("10.3.0.53", 53, CLIENT, 5000, at=0.01)  # answered: background
    b.udp(CLIENT, 5001, "10.3.0.9", 514, at=0.02)  # one-way: needs packets
    b.udp(CLIENT, 5002, "10.3.0.7", 9999, at=0.03)
    b.udp("10.3.0.7", 9999, CLIENT, 5002, at=0.04)
    b.icmp("10.3.0.7", CLIENT, 3, 3, at=0.05)  # an ICMP error between those two hosts
    handshake(b, CLIENT, 40010, "10.2.0.8", 80, 1.0)
    b.tcp(CLIENT, 40010, "10.2.0.8", 80, "PA", seq=102, ack=502, payload=10, at=400.0)
    got = wanted(table(b))
    assert got[("10.3.0.53", 53)] is False
    assert got[("10.3.0.9", 514)] is True
    assert got[("10.3.0.7", 9999)] is True
    assert got[("10.2.0.8", 80)] is True  # long enough to hold an idle timeout


def test_a_caller_seen_in_two_captures_is_relevant() -> None:
    first, second = PacketBuilder(), PacketBuilder()
    handshake(first, CLIENT, 40020, "10.2.0.5", 80, 0.0)
    handshake(second, CLIENT, 40020, "10.2.0.5", 80, 0.0)
    handshake(second, CLIENT, 40021, "10.2.0.5", 80, 0.5)
    masks = needs_packets([table(first), table(second, 1)], None)
    assert masks[0].tolist() == [True]
    assert sorted(masks[1].tolist()) == [False, True]


def test_a_reused_port_with_a_new_isn_is_another_connection() -> None:
    b = PacketBuilder()
    handshake(b, CLIENT, 40030, "10.2.0.5", 80, 0.0)
    b.tcp(CLIENT, 40030, "10.2.0.5", 80, "S", seq=90_000, at=30.0)  # a new ISN: a new connection
    b.tcp("10.2.0.5", 80, CLIENT, 40030, "SA", seq=7, ack=90_001, at=30.001)
    b.tcp(CLIENT, 40030, "10.2.0.5", 80, "A", seq=90_001, ack=8, at=30.002)
    assert needs_packets([table(b)], None)[0].tolist() == [False, False]
    b.tcp("10.2.0.5", 80, CLIENT, 40030, "SA", seq=9, ack=5, at=1000.0)  # no SYN: ISN unknown
    assert needs_packets([table(b)], None)[0].tolist() == [True, True, True]
