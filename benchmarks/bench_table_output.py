"""The output stage of ``pcapflow flows``: streamed kernel writers against the pandas frame path.

    PYTHONPATH=. python3 benchmarks/bench_table_output.py FILE [--repeat 7]

Reads and assembles FILE once, then, in this process, times (CPU seconds, median of --repeat)
each format both ways on the same finished-flow blocks: the DataFrame path that several
captures and ``--filter`` still take (``blocks_frame`` + the formatter of ``output.FORMATTERS``)
and the one-capture path (``tablecsv.flow_table`` + the streamed writer into /dev/null).
Prints the times, their ratio, and checks that both give the same bytes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from pcapflow.capture import jitstart
from pcapflow.flows.api import capture_blocks
from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.output import FORMATTERS
from pcapflow.flows.records import blocks_frame
from pcapflow.flows.tablecsv import flow_table, write_conn_log, write_csv, write_json_lines

WRITERS = {"csv": write_csv, "json": write_json_lines, "zeek": write_conn_log}


def cpu_median(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return statistics.median(times)


def text_of(writer: Callable[..., None], blocks: list[FlowBlock]) -> str:
    pieces: list[bytes] = []
    writer(flow_table(blocks), lambda p: pieces.append(bytes(p)))
    return b"".join(pieces).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    jitstart.start()
    blocks, _asm, _info = capture_blocks(args.capture, packets_per_flow=0, digest=False)
    kept = list(blocks)
    flows = sum(len(b) for b in kept)
    null = open(os.devnull, "wb")  # noqa: SIM115  (open for the whole run)
    print(f"{args.capture}: {flows} flows, CPU seconds (median of {args.repeat})")
    print(f"{'format':8} {'frame path':>11} {'streamed':>9} {'ratio':>7}")
    for fmt, writer in WRITERS.items():
        same = text_of(writer, kept) == FORMATTERS[fmt](blocks_frame(kept))
        framed = cpu_median(lambda f=fmt: FORMATTERS[f](blocks_frame(kept)), args.repeat)
        streamed = cpu_median(lambda w=writer: w(flow_table(kept), null.write), args.repeat)
        check = "same bytes" if same else "DIFFERENT OUTPUT"
        print(f"{fmt:8} {framed:11.3f} {streamed:9.3f} {framed / streamed:6.1f}x  {check}")


if __name__ == "__main__":
    main()
