"""Time ``pcapflow flows`` against tshark, tcptrace and a plain dpkt loop on one capture.

    python3 benchmarks/bench_flows.py [FILE] [--flows 105000] [--skip dpkt,tshark]

Without FILE a capture is generated with ``benchmarks/gen_capture.py`` (cached under /tmp).
Each tool runs as a child process, whole-process (start-up included), in rounds: each round runs
every tool once, one after the other (``--repeat N`` rounds, default 5).  The table shows the
median time per tool; the target lines the median of the ratios measured within each round (on
a shared machine, tools in one round meet the same load).  Peak memory is the child's maximum
resident set size and "cpu s" its user + system time (``os.wait4`` rusage).
A tool that is missing or fails is reported as such; the others still run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

DPKT_LOOP = """
import sys, dpkt
n = 0
with open(sys.argv[1], "rb") as f:
    for ts, buf in dpkt.pcap.Reader(f):
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP):
            n += ip.data.sport > 0
print(n)
"""

READER_ONLY = """
import sys
from pcapflow.capture import get_backend
reader = get_backend("fast").open(sys.argv[1])
print(sum(len(batch) for batch in reader.batches()))
"""


@dataclass(frozen=True)
class Run:
    tool: str
    seconds: float | None  # wall clock, start-up included
    peak_mib: float | None
    note: str = ""
    cpu: float = 0.0  # user + system seconds of the child (all its threads)


COUNT = """
import sys
from pcapflow.capture import get_backend
reader = get_backend("fast").open(sys.argv[1])
for _ in reader.batches():
    pass
print(reader.info().frames)
"""


def count_packets(path: Path) -> int:
    """Records in a pcap (with the fast reader: it counts every frame), counted in a child
    process: a child's peak RSS starts from the parent's at fork, so the parent stays small."""
    done = subprocess.run(
        [sys.executable, "-c", COUNT, str(path)], check=True, capture_output=True, text=True
    )
    return int(done.stdout.split()[-1])


def run(tool: str, argv: list[str]) -> Run:
    """Run ``argv`` with stdout to /dev/null; wall time and the child's peak RSS (exit status
    3 counts as success: ``pcapflow analyze`` found failures)."""
    exe = shutil.which(argv[0])
    if exe is None:
        return Run(tool, None, None, f"{argv[0]} not installed")
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen([exe, *argv[1:]], stdout=devnull, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):
        last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return Run(tool, None, None, f"failed (exit {proc.returncode}): {last[0][:80]}")
    return Run(tool, seconds, usage.ru_maxrss / 1024, cpu=usage.ru_utime + usage.ru_stime)


def median_of(tool: str, argv: list[str], repeat: int) -> Run:
    """The median of ``repeat`` runs (the machine may be shared), largest peak memory."""
    runs = [run(tool, argv) for _ in range(max(1, repeat))]
    ok = sorted((r for r in runs if r.seconds is not None), key=lambda r: r.seconds or 0.0)
    if not ok:
        return runs[0]
    middle = ok[(len(ok) - 1) // 2 : len(ok) // 2 + 1]
    seconds = sum(r.seconds or 0.0 for r in middle) / len(middle)
    cpu = sum(r.cpu for r in middle) / len(middle)
    peak = max(r.peak_mib or 0.0 for r in ok)
    return Run(tool, seconds, peak, ok[0].note, cpu)


def pcapflow_script() -> str:
    """The installed ``pcapflow`` script of this interpreter (not a version manager's shim,
    which adds its own start-up), else whatever ``pcapflow`` is on PATH."""
    beside = Path(sys.executable).parent / "pcapflow"
    return str(beside) if beside.exists() else "pcapflow"


# ``--analyze``: a load-balancer declaration for the generated capture (servers are
# 10.2.0.1-199; the VIP is one of them, so many connections are checked against the frontend).
ANALYZE_LB = ["--vip", "10.2.0.100:80/tcp", "--backend", "10.2.0.4:80"]


def commands(path: Path, skip: set[str], analyze: bool = False) -> list[tuple[str, list[str]]]:
    py = sys.executable
    extra = [("pcapflow analyze", [pcapflow_script(), "analyze", str(path), *ANALYZE_LB])]
    cmds = [
        ("pcapflow flows", [pcapflow_script(), "flows", str(path), "--format", "csv"]),
        ("pcapflow flows -C", [pcapflow_script(), "flows", str(path), "--format", "csv", "-C"]),
        ("pcapflow reader only", [py, "-c", READER_ONLY, str(path)]),
        ("tshark -z conv,tcp", ["tshark", "-r", str(path), "-q", "-z", "conv,tcp"]),
        ("tcptrace -n", ["tcptrace", "-n", str(path)]),
        ("dpkt loop", [py, "-c", DPKT_LOOP, str(path)]),
        *(extra if analyze else []),
    ]
    return [(name, argv) for name, argv in cmds if name.split()[0] not in skip]


def report(runs: list[Run], packets: int) -> str:
    by_tool = {r.tool.split()[0]: r for r in runs if r.seconds}
    lines = [
        f"{packets} packets",
        f"{'tool':<22} {'seconds':>8} {'Mpkt/s':>7} {'vs tshark':>9} {'vs tcptrace':>11} "
        f"{'peak MiB':>8} {'cpu s':>6}",
    ]
    for r in runs:
        if r.seconds is None:
            lines.append(f"{r.tool:<22} {'n/a':>8}  {r.note}")
            continue
        rate = packets / r.seconds / 1e6
        ratios = []
        for ref in ("tshark", "tcptrace"):
            other = by_tool.get(ref)
            ratios.append(f"{other.seconds / r.seconds:.2f}x" if other and other.seconds else "-")
        lines.append(
            f"{r.tool:<22} {r.seconds:>8.2f} {rate:>7.2f} {ratios[0]:>9} {ratios[1]:>11} "
            f"{r.peak_mib or 0:>8.0f} {r.cpu:>6.2f}"
        )
    return "\n".join(lines)


def interleaved(cmds: list[tuple[str, list[str]]], repeat: int) -> list[list[Run]]:
    """``repeat`` rounds, each running every command once in turn: on a shared machine a load
    change then touches every tool, and each round gives ratios measured side by side."""
    rounds = []
    for k in range(max(1, repeat)):
        rounds.append([run(name, argv) for name, argv in cmds])
        print(f"  round {k + 1}: " + ", ".join(
            f"{r.tool} {r.seconds:.2f}s" if r.seconds else f"{r.tool} {r.note}" for r in rounds[-1]
        ), file=sys.stderr)  # fmt: skip
    return rounds


def medians(rounds: list[list[Run]]) -> list[Run]:
    """Per tool: the median wall time and cpu time over the rounds, the largest peak."""
    out = []
    for j in range(len(rounds[0])):
        runs = [r[j] for r in rounds]
        ok = [r for r in runs if r.seconds is not None]
        if not ok:
            out.append(runs[0])
            continue
        out.append(
            Run(
                ok[0].tool,
                statistics.median(r.seconds or 0.0 for r in ok),
                max(r.peak_mib or 0.0 for r in ok),
                ok[0].note,
                statistics.median(r.cpu for r in ok),
            )
        )
    return out


def round_ratios(rounds: list[list[Run]], tool: str, ref: str) -> float | None:
    """Median over the rounds of (ref's time / tool's time) measured in the same round."""
    ratios = []
    for r in rounds:
        by = {x.tool: x for x in r}
        a, b = by.get(tool), by.get(ref)
        if a and b and a.seconds and b.seconds:
            ratios.append(b.seconds / a.seconds)
    return statistics.median(ratios) if ratios else None


# Issue 12's targets for the flow table: pcapflow flows >= this many times faster than each.
TARGETS = {"tcptrace -n": 1.5, "tshark -z conv,tcp": 10.0}


def targets(rounds: list[list[Run]]) -> str:
    lines = []
    for ref, goal in TARGETS.items():
        ratio = round_ratios(rounds, "pcapflow flows", ref)
        if ratio is None:
            continue
        verdict = "met" if ratio >= goal else "NOT met"
        lines.append(
            f"pcapflow flows vs {ref}: {ratio:.2f}x (median of per-round ratios; "
            f"target >= {goal}x: {verdict})"
        )
    peak = max((r.peak_mib or 0.0) for rs in rounds for r in rs if r.tool == "pcapflow flows")
    lines.append(f"pcapflow flows peak RSS: {peak:.0f} MiB (target < 512 MiB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pcapflow flows vs tshark / tcptrace / dpkt")
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--flows", type=int, default=105_000)
    parser.add_argument("--skip", default="", help="comma-separated tools to skip")
    parser.add_argument(
        "--analyze", action="store_true", help="also time pcapflow analyze (20-30 s, ~1.4 GB)"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds (each runs every tool once); medians count"
    )
    args = parser.parse_args(argv)
    path = args.file
    if path is None:
        path = Path(f"/tmp/pcapflow-bench-{args.flows}.pcap")
        if not path.exists():
            gen = [sys.executable, str(HERE / "gen_capture.py"), str(path)]
            subprocess.run([*gen, "--flows", str(args.flows)], check=True)
    packets = count_packets(path)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    rounds = interleaved(commands(path, skip, args.analyze), args.repeat)
    print(report(medians(rounds), packets))
    print(targets(rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
