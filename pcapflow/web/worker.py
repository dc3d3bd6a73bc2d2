"""An analysis worker process: claims queued jobs from the store and runs them, one at a time.

Started by :mod:`pcapflow.web.supervisor` as ``python -m pcapflow.web.worker``.  Each job runs the
same engine and renderers as the CLI: :func:`pcapflow.pipeline.analyze` then
:func:`pcapflow.report.render` for every registered format.  A :class:`PcapflowError` (a corrupt
capture, a bad config) fails the job with its one-line message; any other exception fails it with
``internal error: ...`` and the traceback goes to the server log.  The worker dies with the server
(``PR_SET_PDEATHSIG``), so a killed server never leaves a worker writing behind its back.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pcapflow.errors import PcapflowError
from pcapflow.model.checksums import CHECKSUM_POLICIES
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, FlowKind
from pcapflow.web.jobs import JobFiles
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import Job, JobStore

log = logging.getLogger("pcapflow.web.worker")

POLL_S = 0.2
PR_SET_PDEATHSIG = 1
# Testing aid: seconds a worker waits after claiming a job, so a test can stop the server mid-job.
DELAY_ENV = "PCAPFLOW_WEB_TEST_JOB_DELAY"

Analyze = Callable[..., AnalysisResult]


def summarize(result: AnalysisResult) -> dict[str, Any]:
    """What lists and the job page show without opening a report."""
    return {
        "verdict": result.verdict,
        "findings": [
            {
                "id": f.id,
                "label": f.label.value,
                "failure": f.label.is_failure,
                "title": f.title,
                "count": f.count,
                "caller": f.caller,
                "frontend": f.frontend,
                "remediations": [{"id": r.id, "title": r.title} for r in f.remediations],
            }
            for f in result.findings
        ],
        **_label_counts(result),
    }


def _label_counts(result: AnalysisResult) -> dict[str, Any]:
    """``labels``: the calls to a frontend per label (the story first); ``by_kind``: every
    connection per kind and label (health probes, direct calls, ...), as the reports count."""
    from pcapflow.report.facts import summarize as report_summary

    by_kind = {
        k.kind.value: {label.value: n for label, n in sorted(k.counts)}
        for k in report_summary(result).by_kind
    }
    return {"labels": by_kind.get(FlowKind.FRONTEND_CALL.value, {}), "by_kind": by_kind}


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the engine inside the job directory so reports name captures, not server paths."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


class JobRunner:
    """Runs one claimed job to its end: done with reports, or failed with its error."""

    def __init__(self, store: JobStore, files: JobFiles, analyze: Analyze | None = None) -> None:
        self.store = store
        self.files = files
        self._analyze = analyze

    def run(self, job: Job, claimant: str) -> None:
        started = time.monotonic()
        error = self._error_of(job, claimant)
        if error is not None:
            self.store.fail(job.id, claimant, error)
        outcome = "done" if error is None else f"failed: {error}"
        log.info("job %s %s (%.1f s, %s)", job.id, outcome, time.monotonic() - started, claimant)

    def _error_of(self, job: Job, claimant: str) -> str | None:
        """Run the job; None when it is done, else the one-line error to fail it with."""
        try:
            self._run(job, claimant)
        except PcapflowError as exc:
            return name_captures(str(exc), job)
        except Exception as exc:  # a bug must fail one job, not the worker
            traceback.print_exc(file=sys.stderr)
            message = str(exc).splitlines()[0] if str(exc) else ""
            return f"internal error: {type(exc).__name__}: {message}"
        return None

    def _run(self, job: Job, claimant: str) -> None:
        from pcapflow.report import RENDERERS
        from pcapflow.report.registry import render_chunks

        self.store.set_stage(job.id, claimant, "reading the load-balancer config")
        lb = self._config(job)
        self.store.set_stage(job.id, claimant, f"analysing {_captures(len(job.captures))}")
        with working_directory(self.files.dir(job.id)):
            result = self.analyze(
                [c.file for c in job.captures],
                lb,
                os=job.os,
                points=capture_points(job),
                checksums=job.checksums,
            )
        result = with_upload_names(result, job)
        self.store.set_stage(job.id, claimant, "rendering reports")
        for name in sorted(RENDERERS):  # one at a time, piece by piece: bounded memory
            path = self.files.report(job.id, RENDERERS[name].extension)
            self._write(path, render_chunks(result, name))
        summary = summarize(result)
        done = self.store.complete(
            job.id,
            claimant,
            verdict=result.verdict,
            summary=summary,
            result=self.files.report(job.id, RENDERERS["json"].extension),
        )
        if not done:  # deleted (or expired) while running: leave nothing behind
            self.files.remove(job.id)

    def analyze(
        self,
        captures: Sequence[str],
        lb: LbConfig | None,
        *,
        os: str | None,
        points: list[str],
        checksums: str,
    ) -> AnalysisResult:
        """The engine's analysis; ``checksums`` names the job's checksum policy."""
        if self._analyze is None:
            from pcapflow.pipeline import analyze

            self._analyze = analyze
        ignore = CHECKSUM_POLICIES[checksums]
        return self._analyze(captures, lb, os=os, capture_points=points, ignore_checksums=ignore)

    def _config(self, job: Job) -> LbConfig | None:
        if job.lb_name is None:
            return None
        from pcapflow.lbconfig import load_text

        several = self.files.config_set(job.id)
        if several.exists():
            from pcapflow.lbconfig.loader import load_named_texts
            from pcapflow.lbconfig.problems import raise_first

            items = [(str(n), str(t)) for n, t in json.loads(several.read_text(encoding="utf-8"))]
            loaded = load_named_texts(items, fmt=job.lb_format)
            raise_first(loaded.problems)
            return loaded.config
        text = self.files.config(job.id).read_text(encoding="utf-8")
        return load_text(text, fmt=job.lb_format, name=job.lb_name)

    @staticmethod
    def _write(path: Path, chunks: Iterable[str]) -> None:
        from pcapflow.report.registry import write_chunks

        path.parent.mkdir(exist_ok=True)  # no parents: a deleted job stays deleted
        write_chunks(path, chunks)


def name_captures(message: str, job: Job) -> str:
    """``capture-1.pcap: ...`` -> ``capture-1.pcap (web01-eth0.pcap): ...`` for the user."""
    for capture in job.captures:
        if capture.name != capture.file:
            message = message.replace(capture.file, f"{capture.file} ({capture.name})", 1)
    return message


def with_upload_names(result: AnalysisResult, job: Job) -> AnalysisResult:
    """Reports name each capture as uploaded (``web01-eth0.pcap``), not as stored
    (``capture-1.pcap``); two uploads of one name keep the stored name beside it."""
    names = [capture.name for capture in job.captures]
    shown = {
        c.file: c.name if names.count(c.name) == 1 else f"{c.name} ({c.file})" for c in job.captures
    }

    return result.with_capture_names(lambda path: shown.get(path, path))


def capture_points(job: Job) -> list[str]:
    """Name each capture's point after the uploaded file, as the CLI does after the path."""
    points = []
    for capture in job.captures:
        name = capture.name
        for suffix in (".gz", ".pcapng", ".pcap", ".cap"):
            name = name.removesuffix(suffix)
        points.append(name or capture.file)
    return points


def _captures(n: int) -> str:
    return "1 capture" if n == 1 else f"{n} captures"


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(0)


def serve_jobs(store: JobStore, runner: JobRunner, claimant: str, parent_pid: int) -> None:
    """Claim and run jobs until the parent goes away."""
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    while os.getppid() == parent_pid:
        job = store.claim(claimant)
        if job is None:
            time.sleep(POLL_S)
            continue
        if delay:
            time.sleep(delay)
        runner.run(job, claimant)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pcapflow.web.worker")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--claimant", required=True)
    parser.add_argument("--parent-pid", required=True, type=int)
    args = parser.parse_args(argv)
    die_with_parent(args.parent_pid)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    settings = ServeSettings(data_dir=args.data_dir)
    store = JobStore(settings.db_path)
    runner = JobRunner(store, JobFiles(settings))
    warm_up(ready_file(settings.data_dir, args.claimant))
    serve_jobs(store, runner, args.claimant, args.parent_pid)


def ready_file(data_dir: Path, claimant: str) -> Path:
    """Where a worker says it has compiled its kernels (the pool counts these files)."""
    return data_dir / "workers" / f"{claimant}.ready"


def warm_up(ready: Path) -> None:
    """Compile (or load from the cache) every kernel before taking a job, then say so.

    A failed warm-up is logged and the worker still serves: its first job then compiles."""
    from pcapflow.warm import warm

    log.info("warming up: compiling the packet kernels (once per cache, up to a minute)")
    try:
        report = warm()
    except Exception:
        log.exception("warm-up failed; jobs will compile the kernels on first use")
    else:
        where = report.cache_dir or "no cache"
        log.info("warmed up in %.1f s (kernels cached in %s)", report.seconds, where)
    ready.parent.mkdir(exist_ok=True)
    ready.touch()


if __name__ == "__main__":
    main()
