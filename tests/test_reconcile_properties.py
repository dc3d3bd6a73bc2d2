"""Properties of pairing across the DNAT, over generated connections."""

from __future__ import annotations

from dataclasses import replace

from analysis_factory import VIP, B, flow, pkt, seed_config
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.model.packet import SYN
from pcapflow.reconcile import CaptureView, join_connections

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(1, 2**16 - 1)


def syns(port: int, seq: int, first_id: int, tsval: int, count: int, delay_us: int):
    out, back = [], []
    for n in range(count):
        p = pkt(
            B,
            port,
            VIP,
            80,
            SYN,
            t=float(n),
            seq=seq,
            ip_id=(first_id + n) % 65536 or 1,
            tsval=(tsval + 1000 * n) % 2**32,
            frame=2 * n + 1,
        )
        out.append(p)
        back.append(replace(p, dst=B, ttl=63, frame=2 * n + 2, ts_ns=p.ts_ns + delay_us * 1000))
    return out, back


def attempt(flows: list) -> object:
    views = [CaptureView(0, "f.pcap", None, tuple(flows), frozenset({B}))]
    (conn,) = [c for c in join_connections(views, seed_config()) if c.is_attempt]
    return conn


@settings(max_examples=60, deadline=None)
@given(u16, u32, u16, u32, st.integers(1, 4), st.integers(1, 49_000))
def test_every_syn_pairs_with_its_copy_within_the_window(
    port: int, seq: int, ip_id: int, tsval: int, count: int, delay_us: int
) -> None:
    out, back = syns(port, seq, ip_id, tsval, count, delay_us)
    conn = attempt([flow(out), flow(back)])
    assert conn.self_mapped  # type: ignore[attr-defined]
    pairs = conn.pairs  # type: ignore[attr-defined]
    assert [(p.outbound.frame, p.translated.frame) for p in pairs] == [
        (2 * n + 1, 2 * n + 2) for n in range(count)
    ]


@settings(max_examples=40, deadline=None)
@given(u16, u32, u16, u32, st.integers(1, 4))
def test_copies_with_another_ip_id_never_pair(
    port: int, seq: int, ip_id: int, tsval: int, count: int
) -> None:
    out, back = syns(port, seq, ip_id, tsval, count, 30)
    changed = [replace(p, ip_id=(p.ip_id + 7) % 65536 or 3) for p in back]
    assert not attempt([flow(out), flow(changed)]).pairs  # type: ignore[attr-defined]
