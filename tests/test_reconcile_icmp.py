"""ICMP port unreachable errors matched to the UDP flows they answer (by addresses and time)."""

from __future__ import annotations

from analysis_factory import VIP, C, T, flow, pkt

from pcapflow.model.packet import PROTO_ICMP, PROTO_ICMP6, PROTO_UDP, PacketRef
from pcapflow.reconcile.connection import flow_id
from pcapflow.reconcile.icmp import is_port_unreachable, port_unreachables

UDP = PROTO_UDP


def datagram(port: int, t: float, dst: str = VIP, frame: int = 1) -> list[PacketRef]:
    return [pkt(C, port, dst, 5001, 0, t=t, proto=UDP, tsval=None, frame=frame)]


def icmp(
    src: str, t: float, kind: int = 3, code: int = 3, frame: int = 50, proto: int = PROTO_ICMP
) -> PacketRef:
    """An ICMP error from ``src`` to the client (type and code ride in sport / dport)."""
    return pkt(src, kind, C, code, 0, t=t, proto=proto, tsval=None, frame=frame)


def test_an_error_right_after_a_datagram_answers_it() -> None:
    udp = flow(datagram(40101, 0.0))
    err = icmp(VIP, 0.0004)
    found = port_unreachables([[udp, flow([err])]])
    assert found == {flow_id(udp): (err,)}


def test_an_error_long_after_the_datagram_answers_nothing() -> None:
    udp = flow(datagram(40101, 0.0))
    assert port_unreachables([[udp, flow([icmp(VIP, 2.0)])]]) == {}


def test_the_error_goes_to_the_flow_whose_datagram_came_last_before_it() -> None:
    first = flow(datagram(40101, 0.000, frame=1))
    second = flow(datagram(40102, 0.010, frame=2))
    err = icmp(VIP, 0.0101)
    found = port_unreachables([[first, second, flow([err])]])
    assert found == {flow_id(second): (err,)}


def test_errors_from_another_host_or_of_another_kind_answer_nothing() -> None:
    udp = flow(datagram(40101, 0.0))
    others = [icmp(T, 0.001), icmp(VIP, 0.001, kind=3, code=1), icmp(VIP, 0.001, kind=0, code=0)]
    assert port_unreachables([[udp, *(flow([o]) for o in others)]]) == {}


def test_icmpv6_port_unreachable_is_type_1_code_4() -> None:
    assert is_port_unreachable(icmp(VIP, 0.0, kind=1, code=4, proto=PROTO_ICMP6))
    assert not is_port_unreachable(icmp(VIP, 0.0, kind=3, code=3, proto=PROTO_ICMP6))


def test_errors_are_matched_within_one_capture_only() -> None:
    udp = flow(datagram(40101, 0.0))
    err = icmp(VIP, 0.0004)
    assert port_unreachables([[udp], [flow([err])]]) == {}
