"""``pcapflow analyze`` on a needle in a haystack, against ``pcapflow flows`` on the same file.

    python3 benchmarks/bench_analyze.py [--sizes 1,2,4] [--repeat 3] [--check] [--keep]

For each size (GB, about 2.1M packets per GB) a healthy background capture is generated with
``benchmarks/gen_capture.py --healthy`` into ``--tmp`` (default /tmp), the hairpin sample
capture ``sample_captures/hairpin-two-backends/web01-eth0.pcap`` is merged into its middle
(``benchmarks/needle.py``), and, side by side in this one run, each command runs ``--repeat``
times as a child process (start-up included, stdout to /dev/null):

    pcapflow flows BIG --format csv
    pcapflow analyze BIG --lb sample_captures/hairpin-two-backends/lb.yaml --format json

The table gives the median wall time of each, their ratio (target: analyze <= 2.5x flows) and
the largest peak RSS of analyze (target: < 512 MiB, flat across sizes).  ``--check`` also runs
the needle check (same labels, findings and evidence as the sample alone) on every size.
The generated files are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import needle  # noqa: E402
from bench_flows import Run, median_of, pcapflow_script  # noqa: E402

ROOT = HERE.parent
SAMPLE = ROOT / "sample_captures" / "hairpin-two-backends"
NEEDLE = SAMPLE / "web01-eth0.pcap"
LB = SAMPLE / "lb.yaml"
FLOWS_PER_GB = 102_000  # gen_capture: ~10.3 KB per flow


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average {load}"
    )


def build(folder: Path, gb: float) -> tuple[Path, dict[int, int], float]:
    """The haystack of about ``gb`` GB with the needle in its middle."""
    background = folder / f"background-{gb:g}g.pcap"
    # in a child: a child's peak RSS starts from the parent's at fork (keep the parent small)
    gen = [sys.executable, str(HERE / "gen_capture.py"), str(background), "--healthy"]
    subprocess.run([*gen, "--flows", str(int(gb * FLOWS_PER_GB))], check=True)
    big = folder / f"{gb:g}g" / NEEDLE.name  # the sample's file name: it names the point
    big.parent.mkdir(exist_ok=True)
    frames, shift = needle.merge(background, NEEDLE, big)
    background.unlink()
    return big, frames, shift


SAME = "same labels, findings and evidence as the sample alone"
CHECK = """
import json, sys
sys.path.insert(0, sys.argv[1])
import needle
from pathlib import Path
frames = {int(k): v for k, v in json.loads(Path(sys.argv[3]).read_text()).items()}
problems = needle.check([Path(sys.argv[4])], [Path(sys.argv[2])], [frames], float(sys.argv[5]),
                        Path(sys.argv[6]))
print("; ".join(problems))
"""


def check_in_child(big: Path, frames: dict[int, int], shift: float) -> str:
    """The needle check (:func:`needle.check`), in a child process: it analyses in memory."""
    mapping = big.with_suffix(".frames.json")
    mapping.write_text(json.dumps(frames))
    argv = [str(HERE), str(big), str(mapping), str(NEEDLE), repr(shift), str(LB)]
    done = subprocess.run(
        [sys.executable, "-c", CHECK, *argv], capture_output=True, text=True, check=False
    )
    mapping.unlink()
    if done.returncode != 0:
        return f"check failed: {done.stderr.strip().splitlines()[-1:]}"
    return done.stdout.strip() or SAME


def row(gb: float, size: int, flows: Run, analyze: Run) -> str:
    if flows.seconds is None or analyze.seconds is None:
        return f"{gb:>5g} GB  failed: {flows.note or analyze.note}"
    ratio = analyze.seconds / flows.seconds
    return (
        f"{gb:>5g} GB {size / 2**30:>6.2f} {flows.seconds:>9.2f} {analyze.seconds:>11.2f} "
        f"{ratio:>6.2f}x {flows.peak_mib or 0:>10.0f} {analyze.peak_mib or 0:>12.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1,2,4", help="capture sizes in GB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (median)")
    parser.add_argument("--check", action="store_true", help="also run the needle check")
    parser.add_argument("--keep", action="store_true", help="keep the generated captures")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    script = pcapflow_script()
    folder = Path(tempfile.mkdtemp(prefix="pcapflow-bench-analyze-", dir=args.tmp))
    lines = [
        f"machine: {machine()}",
        f"command: python3 benchmarks/bench_analyze.py --sizes {args.sizes} --repeat {args.repeat}",
        "   size   GiB  flows s  analyze s  ratio  flows MiB  analyze MiB",
    ]
    worst = 0.0
    peaks: list[float] = []
    checks_ok = True
    try:
        for gb in sizes:
            big, frames, shift = build(folder, gb)
            print(f"  built {big} ({big.stat().st_size / 2**30:.2f} GiB)", file=sys.stderr)
            flows_cmd = [script, "flows", str(big), "--format", "csv"]
            analyze_cmd = [script, "analyze", str(big), "--lb", str(LB), "--format", "json"]
            flows_runs, analyze_runs = [], []
            for _ in range(max(1, args.repeat)):  # interleaved: both see the same load
                flows_runs.append(median_of("flows", flows_cmd, 1))
                analyze_runs.append(median_of("analyze", analyze_cmd, 1))
            flows = _median(flows_runs)
            analyze = _median(analyze_runs)
            lines.append(row(gb, big.stat().st_size, flows, analyze))
            print(lines[-1], file=sys.stderr)
            if flows.seconds and analyze.seconds:
                worst = max(worst, analyze.seconds / flows.seconds)
                peaks.append(analyze.peak_mib or 0.0)
            if args.check:
                verdict = check_in_child(big, frames, shift)
                lines.append(f"  needle check {gb:g} GB: {verdict}")
                print(lines[-1], file=sys.stderr)
                checks_ok = checks_ok and verdict == SAME
            if not args.keep:
                big.unlink()
    finally:
        if not args.keep:
            for path in sorted(folder.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            folder.rmdir()
    met = worst <= 2.5 and bool(peaks) and max(peaks) < 512 and checks_ok
    lines.append(
        f"worst ratio {worst:.2f}x (target <= 2.5x), analyze peak {max(peaks, default=0):.0f} MiB "
        f"(target < 512 MiB): {'targets met' if met else 'targets NOT met'}"
    )
    print("\n".join(lines))
    return 0 if met else 2


def _median(runs: list[Run]) -> Run:
    ok = sorted((r for r in runs if r.seconds is not None), key=lambda r: r.seconds or 0.0)
    if not ok:
        return runs[0]
    mid = ok[len(ok) // 2]
    return Run(mid.tool, mid.seconds, max(r.peak_mib or 0.0 for r in ok), mid.note, mid.cpu)


if __name__ == "__main__":
    sys.exit(main())
