"""The fixed start-up cost of the kernel commands (warm cache), trees side by side.

    python3 benchmarks/bench_startup.py [--tree DIR ...] [--repeat N] [--big CAPTURE]

For each repetition and each source tree (default: this one; give ``--tree`` twice to compare,
e.g. a worktree of the previous commit), interleaved so that both see the same machine load:

- ``ready``: the interpreter imports ``pcapflow flows``'s module and starts numba's target
  (``jitstart.start()``), then leaves at once (``os._exit``: no teardown measured): the floor
  of every kernel command;
- ``tiny``: ``pcapflow flows`` of the bundled 15 KB sample (table output): pure start-up;
- ``big`` (with ``--big``): ``pcapflow flows CAPTURE --format csv``, start-up included.

Prints the median wall and CPU seconds (user + system of the child; on a shared machine CPU is
the steadier figure) and each tree's ratio to the first.  Each command runs once per tree before
measuring, so the kernel cache is warm.  Figures and findings: benchmarks/first-run.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY = HERE.parent / "sample_captures" / "hairpin-two-backends" / "web01-eth0.pcap"

READY = (
    "import os, pcapflow.cli, pcapflow.cli.flows\n"
    "from pcapflow.capture import jitstart\n"
    "jitstart.start()\n"
    "os._exit(0)\n"
)
CLI = "import sys; from pcapflow.cli import main; sys.argv[0] = 'pcapflow'; main()"


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def run(tree: Path, command: list[str]) -> Timing:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # cwd: ``python -c`` puts it before PYTHONPATH on sys.path
        [sys.executable, "-c", *command],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command} failed: {done.stderr.decode(errors='replace')[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big", type=Path, help="a large capture for the whole-command figure")
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree or [HERE.parent]]
    cases: dict[str, list[str]] = {"ready": [READY], "tiny": [CLI, "flows", str(TINY)]}
    if args.big is not None:
        cases["big"] = [CLI, "flows", str(args.big.resolve()), "--format", "csv"]
    for tree in trees:  # warm the kernel cache of each tree
        run(tree, cases["tiny"])
    timings: dict[tuple[str, Path], list[Timing]] = {}
    for _ in range(args.repeat):
        for name, command in cases.items():
            for tree in trees:
                timings.setdefault((name, tree), []).append(run(tree, command))
    print("case | tree | median wall s | median CPU s | CPU / first tree's")
    for name in cases:
        first = statistics.median(t.cpu for t in timings[(name, trees[0])])
        for tree in trees:
            wall = statistics.median(t.wall for t in timings[(name, tree)])
            cpu = statistics.median(t.cpu for t in timings[(name, tree)])
            print(f"{name} | {tree} | {wall:.3f} | {cpu:.3f} | {cpu / first:.2f}")


if __name__ == "__main__":
    main()
