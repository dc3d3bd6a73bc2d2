"""Compile every packet kernel now, so that no analysis waits for it later.

``pcapflow warmup`` (or ``python -m pcapflow.warm``) analyses two tiny captures it writes itself
(one pcap, one pcapng: each reader has its own kernels), with and without a declared balancer,
renders every report format and writes
their flow table as CSV (``pcapflow flows --format csv``, whose writer has kernels too), which
compiles each kernel and stores it in the cache (:mod:`pcapflow._jitcache`).  A container image
runs it at build time as the user the app runs as (or with ``NUMBA_CACHE_DIR`` set to a directory
that user can write), so the first analysis starts warm; ``pcapflow serve`` runs it in every
worker before the worker takes a job.
"""

from __future__ import annotations

import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dpkt

from pcapflow import _jitcache

if TYPE_CHECKING:
    from pcapflow.model.lb import LbConfig

_CLIENT, _SERVER = "10.0.0.1", "10.0.0.2"


@dataclass(frozen=True)
class WarmReport:
    seconds: float
    cache_dir: Path | None


def _frame(sport: int, dport: int, flags: int, seq: int, ack: int, outbound: bool) -> bytes:
    src, dst = (_CLIENT, _SERVER) if outbound else (_SERVER, _CLIENT)
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, off=5, win=512)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, ttl=64, data=tcp)
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(
        src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02", data=ip
    )
    return bytes(eth)


def handshake() -> list[tuple[float, bytes]]:
    """A connection that opens, carries nothing and resets: (timestamp, Ethernet frame)."""
    syn, ack, rst = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_RST
    return [
        (1.0, _frame(40000, 80, syn, 100, 0, True)),
        (1.001, _frame(80, 40000, syn | ack, 500, 101, False)),
        (1.002, _frame(40000, 80, ack, 101, 501, True)),
        (1.003, _frame(40000, 80, rst | ack, 101, 501, True)),
    ]


def write_captures(folder: Path) -> list[Path]:
    """The warm-up captures: the same frames as pcap and as pcapng."""
    frames = handshake()
    pcap, pcapng = folder / "warm.pcap", folder / "warm.pcapng"
    with pcap.open("wb") as out:
        writer = dpkt.pcap.Writer(out)
        for ts, frame in frames:
            writer.writepkt(frame, ts=ts)
    with pcapng.open("wb") as out:
        ng_writer = dpkt.pcapng.Writer(out)
        for ts, frame in frames:
            ng_writer.writepkt(frame, ts=ts)
    return [pcap, pcapng]


def warm() -> WarmReport:
    """Analyse the warm-up captures, render every format and write their flow table as CSV
    (compiles or loads each kernel)."""
    from pcapflow.pipeline import analyze
    from pcapflow.report import RENDERERS, render

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pcapflow-warm-") as folder:
        captures = write_captures(Path(folder))
        for capture in captures:
            result = analyze([str(capture)], None)
            for name in sorted(RENDERERS):
                render(result, name)
            analyze([str(capture)], declared())  # pass one's observer keeps endpoints' packets
            flows_csv(capture)
    return WarmReport(time.monotonic() - started, _jitcache.cache_dir())


def declared() -> LbConfig:
    """A balancer whose frontend is the warm-up server (``--vip``/``--backend``)."""
    from pcapflow.lbconfig.options import config_from_options

    config = config_from_options(vip=(f"{_SERVER}:80/tcp",), backend=(f"{_SERVER}:80",))
    assert config is not None
    return config


def flows_csv(capture: Path) -> str:
    """``pcapflow flows --format csv`` of ``capture`` (its CSV and conn.log writers' kernels, and
    the frame's CSV writer of several captures)."""
    from pcapflow.flows.api import capture_blocks
    from pcapflow.flows.output import flows_csv as flows_csv_of_frame
    from pcapflow.flows.records import blocks_frame
    from pcapflow.flows.tablecsv import flow_table, write_conn_log, write_csv

    blocks, _, _ = capture_blocks(str(capture), packets_per_flow=0, digest=False)
    kept = list(blocks)  # (a few flows) for the streamed writers and the frame's
    table = flow_table(kept)
    pieces: list[bytes] = []
    write_conn_log(table, lambda piece: None)
    write_csv(table, lambda piece: pieces.append(bytes(piece)))
    text = b"".join(pieces).decode("ascii")
    flows_csv_of_frame(blocks_frame(kept))  # several captures or --filter: kernels of its own
    return text


def main() -> None:
    from pcapflow.cli import main as cli

    cli(["warmup"])


if __name__ == "__main__":
    main()
