"""Evidence without a fixed cap: a long connection keeps the packets around every silence, so
an idle timeout late in it is found (it was missed after the 64th packet before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pcap_writer import TcpCapture

from pcapflow.flows.evidence import GAP_BUCKET_S, kept_packets
from pcapflow.flows.synthetic import PacketBuilder
from pcapflow.lbconfig import load
from pcapflow.model.packet import ACK, PSH, SYN
from pcapflow.model.result import Label
from pcapflow.pipeline import analyze

ROOT = Path(__file__).resolve().parents[1]
LB = ROOT / "sample_captures" / "idle-timeout" / "lb.yaml"  # VIP 10.2.1.100:7, idle 1 min
CLIENT = ("10.2.1.5", 50000)
VIP = ("10.2.1.100", 7)
ROUNDS = 150  # 300 packets of echo before the silence: far beyond the first 64


def long_session(path: Path, silence_s: float) -> tuple[Path, int, int]:
    """A handshake, ROUNDS echoes, ``silence_s`` of silence, then a line the balancer no longer
    forwards (retransmitted, never answered).  Returns (file, frame of the last packet before
    the silence, frame of the first one after it)."""
    cap = TcpCapture()
    t, c, s = 1_700_000_000.0, 1000, 5000
    cap.segment(t, CLIENT, VIP, SYN, c)
    cap.segment(t + 0.001, VIP, CLIENT, SYN | ACK, s, c + 1)
    c, s = c + 1, s + 1
    cap.segment(t + 0.002, CLIENT, VIP, ACK, c, s)
    for _ in range(ROUNDS):
        t += 0.5
        cap.segment(t, CLIENT, VIP, PSH | ACK, c, s, b"hello\n")
        c += 6
        cap.segment(t + 0.001, VIP, CLIENT, PSH | ACK, s, c, b"hello\n")
        s += 6
        last = cap.segment(t + 0.002, CLIENT, VIP, ACK, c, s)
    t += silence_s
    first = cap.segment(t, CLIENT, VIP, PSH | ACK, c, s, b"again\n")
    for retry in (0.2, 0.6, 1.4, 3.0):
        cap.segment(t + retry, CLIENT, VIP, PSH | ACK, c, s, b"again\n")
    return cap.write(path), last, first


def test_an_idle_timeout_after_hundreds_of_packets_is_found(tmp_path: Path) -> None:
    path, before, after = long_session(tmp_path / "long.pcap", silence_s=90.0)
    result = analyze([path], load([str(LB)]))
    labels = {f.label for f in result.findings}
    assert Label.IDLE_TIMEOUT in labels, labels
    finding = next(f for f in result.findings if f.label is Label.IDLE_TIMEOUT)
    frames = {e.frame: e.role for e in finding.evidence}
    assert frames[before].startswith("last packet before 90 s of silence")
    assert frames[after] == "after the silence"
    flow = next(fr.flow for fr in result.flows if fr.flow.resp_p == VIP[1])
    assert flow.packets_truncated and len(flow.packets) < flow.orig_pkts + flow.resp_pkts


def test_a_short_silence_late_in_a_long_connection_is_no_idle_timeout(tmp_path: Path) -> None:
    path, _before, _after = long_session(tmp_path / "short.pcap", silence_s=20.0)
    result = analyze([path], load([str(LB)]))
    assert Label.IDLE_TIMEOUT not in {f.label for f in result.findings}


def test_kept_packets_keep_every_long_silence_and_invent_none() -> None:
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.choice([0.01, 5.0, 31.0, 400.0], size=3000, p=[0.9, 0.08, 0.015, 0.005]))
    b = PacketBuilder()
    for i, at in enumerate(times.tolist()):
        src, sport, dst, dport = ("10.0.0.1", 40000, "10.0.0.2", 80)
        if i % 3 == 2:
            src, sport, dst, dport = dst, dport, src, sport
        b.tcp(src, sport, dst, dport, "PA" if i % 3 == 0 else "A", payload=10 * (i % 3 == 0), at=at)
    rows = b.array()
    flow = _Flow(orig_h="10.0.0.1", orig_p=40000)
    mask = kept_packets(rows, flow)  # type: ignore[arg-type]
    assert 0 < mask.sum() < rows.shape[0]
    kept = np.flatnonzero(mask)
    ts = rows["ts_ns"] / 1e9
    for a, b_ in zip(kept[:-1].tolist(), kept[1:].tolist(), strict=True):
        gap = ts[b_] - ts[a]
        if b_ != a + 1:  # neighbours only among the kept packets: no invented silence
            assert gap < GAP_BUCKET_S
    real = np.flatnonzero(np.diff(ts) >= GAP_BUCKET_S)
    assert mask[real].all() and mask[real + 1].all()  # every real silence, both sides


class _Flow:
    def __init__(self, orig_h: str, orig_p: int) -> None:
        self.orig_h = orig_h
        self.orig_p = orig_p
