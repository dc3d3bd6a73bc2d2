"""Write a realistic synthetic pcap for benchmarks: ~2M packets, ~100k TCP flows by default.

Flow mix (deterministic for a given seed):
  * 90% complete connections: handshake (SYN with MSS/SACK/TS/WS options), 1-6 request/response
    rounds (client data, 1-3 server segments, client ACK), FIN/FIN/ACK teardown;
  * 5% reset by the server after the first round;
  * 3% SYN-only with two retransmissions (1 s and 3 s later), never answered;
  * 2% refused (SYN answered by RST-ACK);
  * plus a few percent UDP (DNS-like query/response pairs).
Per-flow parameters are drawn with numpy; the packets are laid out and serialised (headers with
correct IPv4 and TCP/UDP checksums) by numba kernels, then sorted by time and written in chunks.

    python3 benchmarks/gen_capture.py /tmp/bench.pcap [--flows 100000] [--seed 7] [--healthy]
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

Arr = npt.NDArray[Any]

# flow kinds
NORMAL, RESET, SYN_ONLY, REFUSED = 0, 1, 2, 3
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
MSS = 1448
CHUNK = 200_000  # packets serialised per write


def draw_flows(n_flows: int, rng: np.random.Generator, duration_s: float) -> dict[str, Arr]:
    """Per-flow parameters."""
    kind = rng.choice(4, size=n_flows, p=[0.90, 0.05, 0.03, 0.02]).astype(np.int64)
    start = np.sort(rng.uniform(0, duration_s, n_flows))
    rtt = rng.uniform(0.0002, 0.03, n_flows)
    rounds = rng.integers(1, 7, n_flows)
    rounds[kind == RESET] = 1
    client = (10 << 24) + (1 << 16) + rng.integers(1, 60000, n_flows)
    server = (10 << 24) + (2 << 16) + rng.integers(1, 200, n_flows)
    sport = 1024 + (np.arange(n_flows) * 7919) % 60000
    dport = rng.choice(np.array([80, 443, 8080, 5432]), n_flows)
    return {
        "kind": kind,
        "start_ns": (1_700_000_000.0 + start).astype(np.float64),
        "rtt": rtt,
        "rounds": rounds.astype(np.int64),
        "client": client.astype(np.int64),
        "server": server.astype(np.int64),
        "sport": sport.astype(np.int64),
        "dport": dport.astype(np.int64),
        "isn_c": rng.integers(0, 2**32, n_flows, dtype=np.int64),
        "isn_s": rng.integers(0, 2**32, n_flows, dtype=np.int64),
        "req": rng.integers(40, 600, (n_flows, 6)).astype(np.int64),
        "resp": rng.integers(100, 3 * MSS, (n_flows, 6)).astype(np.int64),
    }


@njit(cache=True)
def _count(kind: Arr, rounds: Arr, resp: Arr) -> int:
    total = 0
    for i in range(kind.shape[0]):
        k = kind[i]
        if k == SYN_ONLY:
            total += 3
        elif k == REFUSED:
            total += 2
        else:
            n = 3
            for r in range(rounds[i]):
                n += 2 + (resp[i, r] + MSS - 1) // MSS
            n += 1 if k == RESET else 3
            total += n
    return total


@njit(cache=True)
def _layout(
    kind: Arr,
    start: Arr,
    rtt: Arr,
    rounds: Arr,
    client: Arr,
    server: Arr,
    sport: Arr,
    dport: Arr,
    isn_c: Arr,
    isn_s: Arr,
    req: Arr,
    resp: Arr,
    out_ts: Arr,
    out_dir: Arr,
    out_flow: Arr,
    out_flags: Arr,
    out_seq: Arr,
    out_ack: Arr,
    out_len: Arr,
) -> int:
    """One row per TCP packet: time, direction (0 client->server), flow, flags, seq, ack, len."""
    j = 0
    for i in range(kind.shape[0]):
        t = start[i]
        h = rtt[i] / 2.0
        cs = isn_c[i]
        ss = isn_s[i]
        k = kind[i]
        flow_no = i

        def emit(j: int, t: float, d: int, fl: int, seq: int, ack: int, ln: int) -> int:
            out_ts[j] = t
            out_dir[j] = d
            out_flow[j] = flow_no  # noqa: B023 - called within this iteration only
            out_flags[j] = fl
            out_seq[j] = seq & 0xFFFFFFFF
            out_ack[j] = ack & 0xFFFFFFFF
            out_len[j] = ln
            return j + 1

        j = emit(j, t, 0, SYN, cs, 0, 0)
        if k == SYN_ONLY:
            j = emit(j, t + 1.0, 0, SYN, cs, 0, 0)
            j = emit(j, t + 3.0, 0, SYN, cs, 0, 0)
            continue
        if k == REFUSED:
            j = emit(j, t + h, 1, RST | ACK, 0, cs + 1, 0)
            continue
        cs += 1
        t += h
        j = emit(j, t, 1, SYN | ACK, ss, cs, 0)
        ss += 1
        t += h
        j = emit(j, t, 0, ACK, cs, ss, 0)
        for r in range(rounds[i]):
            t += 0.0001
            j = emit(j, t, 0, PSH | ACK, cs, ss, req[i, r])
            cs += req[i, r]
            t += h
            left = resp[i, r]
            while left > 0:
                seg = min(left, MSS)
                t += 0.00002
                j = emit(j, t, 1, ACK if left > seg else PSH | ACK, ss, cs, seg)
                ss += seg
                left -= seg
            t += h
            j = emit(j, t, 0, ACK, cs, ss, 0)
        if k == RESET:
            j = emit(j, t + 0.001, 1, RST | ACK, ss, cs, 0)
            continue
        t += 0.001
        j = emit(j, t, 0, FIN | ACK, cs, ss, 0)
        t += h
        j = emit(j, t, 1, FIN | ACK, ss, cs + 1, 0)
        t += h
        j = emit(j, t, 0, ACK, cs + 1, ss + 1, 0)
    return j


@njit(cache=True, inline="always")
def _put16(b: Arr, o: int, v: int) -> None:
    b[o] = (v >> 8) & 0xFF
    b[o + 1] = v & 0xFF


@njit(cache=True, inline="always")
def _put32(b: Arr, o: int, v: int) -> None:
    b[o] = (v >> 24) & 0xFF
    b[o + 1] = (v >> 16) & 0xFF
    b[o + 2] = (v >> 8) & 0xFF
    b[o + 3] = v & 0xFF


@njit(cache=True, inline="always")
def _le32(b: Arr, o: int, v: int) -> None:
    b[o] = v & 0xFF
    b[o + 1] = (v >> 8) & 0xFF
    b[o + 2] = (v >> 16) & 0xFF
    b[o + 3] = (v >> 24) & 0xFF


@njit(cache=True, inline="always")
def _csum(b: Arr, start: int, stop: int, acc: int) -> int:
    i = start
    while i + 1 < stop:
        acc += (np.int64(b[i]) << 8) | np.int64(b[i + 1])
        i += 2
    if i < stop:
        acc += np.int64(b[i]) << 8
    return acc


@njit(cache=True, inline="always")
def _fold(acc: int) -> int:
    while acc > 0xFFFF:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return (~acc) & 0xFFFF


@njit(cache=True)
def _serialise(
    ts: Arr,
    proto: Arr,
    src: Arr,
    dst: Arr,
    sport: Arr,
    dport: Arr,
    flags: Arr,
    seq: Arr,
    ack: Arr,
    plen: Arr,
    ipid: Arr,
    out: Arr,
) -> int:
    """pcap records (16-byte header + Ethernet/IPv4/TCP-or-UDP + payload) into ``out``."""
    o = 0
    for i in range(ts.shape[0]):
        is_tcp = proto[i] == 6
        syn = is_tcp and (flags[i] & SYN) != 0
        l4h = (40 if syn else 32) if is_tcp else 8
        n = 14 + 20 + l4h + plen[i]
        sec = np.int64(ts[i])
        usec = np.int64((ts[i] - sec) * 1e6)
        _le32(out, o, sec)
        _le32(out, o + 4, usec)
        _le32(out, o + 8, n)
        _le32(out, o + 12, n)
        p = o + 16
        for k in range(6):
            out[p + k] = 0x02
            out[p + 6 + k] = 0x04
        out[p + 5] = dst[i] & 0xFF
        out[p + 11] = src[i] & 0xFF
        _put16(out, p + 12, 0x0800)
        q = p + 14
        out[q] = 0x45
        out[q + 1] = 0
        _put16(out, q + 2, 20 + l4h + plen[i])
        _put16(out, q + 4, ipid[i] & 0xFFFF)
        _put16(out, q + 6, 0x4000)
        out[q + 8] = 64
        out[q + 9] = proto[i]
        _put16(out, q + 10, 0)
        _put32(out, q + 12, src[i])
        _put32(out, q + 16, dst[i])
        _put16(out, q + 10, _fold(_csum(out, q, q + 20, 0)))
        t = q + 20
        _put16(out, t, sport[i])
        _put16(out, t + 2, dport[i])
        if is_tcp:
            _put32(out, t + 4, seq[i])
            _put32(out, t + 8, ack[i])
            out[t + 12] = (l4h // 4) << 4
            out[t + 13] = flags[i]
            _put16(out, t + 14, 64240 if syn else 501)
            _put16(out, t + 16, 0)
            _put16(out, t + 18, 0)
            x = t + 20
            if syn:  # MSS, SACK-permitted, TS, NOP, WS
                out[x] = 2
                out[x + 1] = 4
                _put16(out, x + 2, MSS)
                out[x + 4] = 4
                out[x + 5] = 2
                x += 6
            else:
                out[x] = 1
                out[x + 1] = 1
                x += 2
            out[x] = 8
            out[x + 1] = 10
            _put32(out, x + 2, np.int64(ts[i] * 1000) & 0xFFFFFFFF)
            _put32(out, x + 6, 0)
            x += 10
            if syn:
                out[x] = 1
                out[x + 1] = 3
                out[x + 2] = 3
                out[x + 3] = 7
        else:
            _put16(out, t + 4, 8 + plen[i])
            _put16(out, t + 6, 0)
        d = t + l4h
        for k in range(plen[i]):
            out[d + k] = (i * 31 + k * 7) & 0xFF
        seg = l4h + plen[i]
        acc = _csum(out, q + 12, q + 20, 0) + proto[i] + seg
        c = _fold(_csum(out, t, t + seg, acc))
        if not is_tcp and c == 0:
            c = 0xFFFF
        _put16(out, t + (16 if is_tcp else 6), c)
        o += 16 + n
    return o


def generate(path: Path, n_flows: int, seed: int, *, healthy: bool = False) -> int:
    """Write the capture; the number of packets written.  ``healthy``: every TCP flow is a
    complete connection (no resets, unanswered or refused SYNs): background traffic that
    deserves no finding."""
    rng = np.random.default_rng(seed)
    duration = max(60.0, n_flows / 1500.0)
    f = draw_flows(n_flows, rng, duration)
    if healthy:
        f["kind"][:] = NORMAL
    f["start_ns"] = f["start_ns"] - 0.0  # seconds as float64 since the epoch
    total = _count(f["kind"], f["rounds"], f["resp"])
    ts = np.zeros(total, np.float64)
    direction = np.zeros(total, np.int64)
    flow = np.zeros(total, np.int64)
    flags = np.zeros(total, np.int64)
    seq = np.zeros(total, np.int64)
    ack = np.zeros(total, np.int64)
    plen = np.zeros(total, np.int64)
    _layout(
        f["kind"], f["start_ns"], f["rtt"], f["rounds"], f["client"], f["server"],
        f["sport"], f["dport"], f["isn_c"], f["isn_s"], f["req"], f["resp"],
        ts, direction, flow, flags, seq, ack, plen,
    )  # fmt: skip
    c2s = direction == 0
    src = np.where(c2s, f["client"][flow], f["server"][flow])
    dst = np.where(c2s, f["server"][flow], f["client"][flow])
    sport = np.where(c2s, f["sport"][flow], f["dport"][flow])
    dport = np.where(c2s, f["dport"][flow], f["sport"][flow])
    proto = np.full(total, 6, np.int64)

    n_udp = max(1, int(total * 0.03) // 2)
    q_ts = rng.uniform(0, duration, n_udp) + 1_700_000_000.0
    u_client = (10 << 24) + (1 << 16) + rng.integers(1, 60000, n_udp)
    u_port = rng.integers(1024, 65535, n_udp)
    resolver = (10 << 24) + (3 << 16) + 53
    ts = np.concatenate([ts, q_ts, q_ts + rng.uniform(0.0005, 0.02, n_udp)])
    src = np.concatenate([src, u_client, np.full(n_udp, resolver)])
    dst = np.concatenate([dst, np.full(n_udp, resolver), u_client])
    sport = np.concatenate([sport, u_port, np.full(n_udp, 53)])
    dport = np.concatenate([dport, np.full(n_udp, 53), u_port])
    flags = np.concatenate([flags, np.zeros(2 * n_udp, np.int64)])
    seq = np.concatenate([seq, np.zeros(2 * n_udp, np.int64)])
    ack = np.concatenate([ack, np.zeros(2 * n_udp, np.int64)])
    plen = np.concatenate([plen, rng.integers(30, 60, n_udp), rng.integers(60, 400, n_udp)])
    proto = np.concatenate([proto, np.full(2 * n_udp, 17, np.int64)])

    order = np.argsort(ts, kind="stable")
    cols = [a[order] for a in (ts, proto, src, dst, sport, dport, flags, seq, ack, plen)]
    ipid = np.arange(len(order), dtype=np.int64) * 13
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for lo in range(0, len(order), CHUNK):
            part = [c[lo : lo + CHUNK] for c in cols]
            size = int(np.sum(16 + 14 + 20 + 40 + part[9]))
            buf = np.zeros(size, np.uint8)
            used = _serialise(*part, ipid[lo : lo + CHUNK], buf)
            out.write(buf[:used].tobytes())
    return len(order)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--flows", type=int, default=105_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--healthy", action="store_true", help="complete connections only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    n = generate(args.out, args.flows, args.seed, healthy=args.healthy)
    took = time.perf_counter() - started
    size = args.out.stat().st_size / 2**20
    print(f"wrote {args.out}: {n} packets, {size:.0f} MiB in {took:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
