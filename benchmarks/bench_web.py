"""Memory of the web service analysing two large uploads at once (not part of the test suite).

    python3 benchmarks/bench_web.py [--gb 2] [--workers 2] [--tmp /tmp]

Generates two needle-in-a-haystack captures of ``--gb`` GB each (``bench_analyze.build``),
starts ``pcapflow serve --workers N`` on a free port with a fresh data directory, uploads both at
once with the hairpin sample's config (curl, streamed), and samples every 0.2 s the resident
memory of the whole server process tree (the server and its workers, summed) until both jobs
are done.  Prints the peak total, the peak per process, each job's verdict and wall time, and
whether the total stayed under 1.5 GiB.  Everything generated is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_analyze import LB, build, machine  # noqa: E402
from bench_flows import pcapflow_script  # noqa: E402

LIMIT_MIB = 1536.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        children.setdefault(int(fields["PPid"]), []).append(int(fields["Pid"]))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def job(base: str, job_id: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{base}/api/v1/analyses/{job_id}") as r:
        loaded: dict[str, object] = json.load(r)
        return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gb", type=float, default=2.0, help="size of each capture")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="pcapflow-bench-web-", dir=args.tmp))
    server = None
    try:
        captures = []
        for n in range(2):
            sub = folder / f"upload-{n}"
            sub.mkdir()
            big, _frames, _shift = build(sub, args.gb)
            captures.append(big)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [pcapflow_script(), "serve", "--port", str(port), "--data-dir", str(folder / "data"),
             "--workers", str(args.workers), "--max-upload-size", f"{int(args.gb * 2) + 1}G",
             "--job-timeout", "3600"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/api/v1/health").close()
                break
            except OSError:
                time.sleep(0.2)
        started = time.perf_counter()
        uploads = [
            subprocess.Popen(
                [
                    "curl",
                    "-s",
                    "-F",
                    f"captures=@{c}",
                    "-F",
                    f"lb=@{LB}",
                    f"{base}/api/v1/analyses",
                ],
                stdout=subprocess.PIPE,
            )
            for c in captures
        ]
        peak_total, peak_each = 0.0, 0.0
        ids: list[str] = []
        done: dict[str, tuple[str, float]] = {}
        while len(done) < 2:
            pids = tree(server.pid)
            sizes = [rss_mib(p) for p in pids]
            peak_total = max(peak_total, sum(sizes))
            peak_each = max(peak_each, max(sizes, default=0.0))
            if not ids and all(u.poll() is not None for u in uploads):
                ids = [str(json.loads(u.communicate()[0])["id"]) for u in uploads]
            for job_id in ids:
                if job_id not in done:
                    state = job(base, job_id)
                    if state["status"] in ("done", "failed"):
                        verdict = str(state.get("verdict") or state.get("error"))
                        done[job_id] = (verdict, time.perf_counter() - started)
            time.sleep(0.2)
        print(f"machine: {machine()}")
        print(f"command: python3 benchmarks/bench_web.py --gb {args.gb:g} --workers {args.workers}")
        for job_id, (verdict, seconds) in done.items():
            print(f"  job {job_id}: {verdict} after {seconds:.1f} s (upload included)")
        ok = peak_total < LIMIT_MIB
        print(
            f"peak resident memory of the server and its workers: {peak_total:.0f} MiB in total, "
            f"{peak_each:.0f} MiB for the largest process (target < {LIMIT_MIB:.0f} MiB): "
            f"{'met' if ok else 'NOT met'}"
        )
        return 0 if ok else 2
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
