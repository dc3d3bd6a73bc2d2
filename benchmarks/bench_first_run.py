"""A fresh user's first ``pcapflow analyze`` (kernels compiled) against a warm one, side by side.

    python3 benchmarks/bench_first_run.py [--tree DIR ...] [--repeat N] [CAPTURE --lb CONFIG]

For each source tree (default: this one; give ``--tree`` twice to compare, e.g. a checkout of
the previous commit) and each repetition, in the same run: a cold analysis with an empty
``NUMBA_CACHE_DIR``, then a warm one with the cache it left.  Prints wall and CPU seconds
(user + system of the child: on a shared machine the CPU figure is the steadier one) and the
cold/warm ratios.  The machine is shared, so only ratios measured in one run mean anything.

Figures, the options measured and the choice: benchmarks/first-run.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_captures" / "hairpin-two-backends"


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float
    notice: bool  # the first-run line appeared on stderr


def analyze(tree: Path, cache: Path, capture: str, config: str) -> Timing:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(tree)}
    command = [sys.executable, "-c", "from pcapflow.cli import main; main()", "analyze"]
    command += [capture, "--lb", config, "--format", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # cwd: ``python -c`` puts it before PYTHONPATH on sys.path
        command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    stderr = done.stderr.decode(errors="replace")
    if done.returncode not in (0, 3):
        raise SystemExit(f"analyze failed ({done.returncode}): {stderr[-500:]}")
    return Timing(wall, cpu, "compiling packet kernels" in stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", nargs="?", default=SAMPLE / "web01-eth0.pcap", type=Path)
    parser.add_argument("--lb", default=SAMPLE / "lb.yaml", type=Path)
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    trees = args.tree or [HERE.parent]
    print("tree | cold CPU s | warm CPU s | cold/warm CPU | cold wall s | warm wall s | notice")
    for _ in range(args.repeat):
        for tree in trees:
            with tempfile.TemporaryDirectory(prefix="pcapflow-bench-cache-") as cache:
                capture, config = str(args.capture.resolve()), str(args.lb.resolve())
                cold = analyze(tree.resolve(), Path(cache), capture, config)
                warm = analyze(tree.resolve(), Path(cache), capture, config)
            print(
                f"{tree} | {cold.cpu:.1f} | {warm.cpu:.1f} | {cold.cpu / warm.cpu:.1f}x | "
                f"{cold.wall:.1f} | {warm.wall:.1f} | {'yes' if cold.notice else 'no'}"
                f"{' (warm run printed it!)' if warm.notice else ''}",
                flush=True,
            )


if __name__ == "__main__":
    main()
