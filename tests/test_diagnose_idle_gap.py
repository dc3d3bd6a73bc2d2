"""The idle-gap decision: the longest silence of an established connection, and whether the
connection died right after it (S9: data nobody acknowledges, or RSTs from the balancer)."""

from __future__ import annotations

from analysis_factory import VIP, B, flow, handshake, pkt

from pcapflow.diagnose.facts import idle_gap
from pcapflow.model.packet import ACK, PSH, RST, PacketRef

PORT = 41001


def session(*after_gap: tuple[str, int, float]) -> list[PacketRef]:
    """A handshake, one request/answer, 300 s of silence, then ``after_gap`` packets given as
    (direction "out"/"in", TCP flags, seconds after the silence ended)."""
    packets = [
        *handshake(B, PORT, VIP, 80, seq=100, t=0.0),
        pkt(B, PORT, VIP, 80, PSH | ACK, t=0.01, seq=101, ack=778, payload_len=10, frame=4),
        pkt(VIP, 80, B, PORT, ACK, t=0.02, seq=778, ack=111, frame=5),
    ]
    for i, (way, flags, dt) in enumerate(after_gap):
        src, sport, dst, dport = (B, PORT, VIP, 80) if way == "out" else (VIP, 80, B, PORT)
        length = 10 if flags & PSH else 0
        packets.append(pkt(src, sport, dst, dport, flags, t=300.02 + dt, seq=111,
                           ack=778, payload_len=length, frame=6 + i))  # fmt: skip
    return packets


def test_data_retransmitted_unanswered_after_the_silence_is_a_death() -> None:
    gap = idle_gap([flow(session(("out", PSH | ACK, 0), ("out", PSH | ACK, 0.2)))])
    assert round(gap.seconds) == 300 and gap.dies
    assert gap.edges[0].frame == 5  # the last packet before the silence comes first


def test_resets_after_the_silence_are_a_death() -> None:
    gap = idle_gap([flow(session(("out", PSH | ACK, 0), ("in", RST, 0.001)))])
    assert gap.dies


def test_an_answered_request_after_the_silence_is_not_a_death() -> None:
    gap = idle_gap([flow(session(("out", PSH | ACK, 0), ("in", ACK, 0.001)))])
    assert round(gap.seconds) == 300 and not gap.dies


def test_a_handshake_alone_has_no_idle_gap() -> None:
    assert idle_gap([flow(handshake(B, PORT, VIP, 80, seq=100, t=0.0)[:1])]).seconds == 0.0
