"""Batch analysis: many captures -> one report each (or per incident) + an index over all.

The shape is "gather inputs, decide, apply":

* :func:`expand_inputs` and :func:`plan_jobs` turn files, folders, globs and an optional manifest
  into :class:`Job` values (pure, sorted, deterministic names);
* :func:`job_key` fingerprints a job (content hashes of its captures + the :class:`Settings`,
  i.e. config, formats, guest OS, engine and checksum policy + the pcapflow version) so
  :func:`run_batch` skips jobs whose reports are up to date;
* :func:`run_task` is the unit of work (``analyze()`` + renderers) that runs in a local process
  pool, where it writes its reports itself piece by piece, or on a Dask cluster, where it
  returns them; the caller writes the state file and the index.  A capture that cannot be
  analysed becomes an :class:`Outcome` with its error.
* a :class:`Task` carries the captures as absolute paths (a Dask worker runs in its own folder)
  while reports and the index name them as given; for a Dask worker it also carries each
  capture's SHA-256, and a worker that does not find the very same file at that path (no shared
  filesystem) fails the job with one line saying so.

Manifest (``--manifest FILE``) groups captures of one incident into one report.  CSV with the
header ``incident,file``, or YAML ``{incident-name: [file, ...]}``; relative file names are
relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pcapflow.capture.digest import file_sha256
from pcapflow.errors import InputError, PcapflowError
from pcapflow.model.checksums import CHECKSUM_POLICIES, DEFAULT_POLICY
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, FlowKind, Label
from pcapflow.report.facts import tool_version, total_and_failed

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
STATE_FILE = ".pcapflow-batch.json"
STATE_VERSION = 2  # 2: outcomes carry counts by kind (an older state is redone)
BATCH_SCHEMA_VERSION = "1.1"  # summary.json; 1.1 added "by_kind" to every report row
GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Job:
    """One report to make: a name (file stem of its reports) and the captures it covers."""

    name: str
    captures: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Settings:
    """How every job of a batch is analysed and rendered (part of each job's fingerprint)."""

    config: LbConfig | None = None
    formats: tuple[str, ...] = ("html",)
    os: str | None = None  # guest OS for the fix commands; None = inferred
    engine: str = "fast"
    # a name of pcapflow.model.checksums; out of the repr, see settings_fingerprint
    checksums: str = field(default=DEFAULT_POLICY, repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one job gave: verdict and counts, or the error that stopped it."""

    name: str
    captures: tuple[str, ...]
    verdict: str | None
    counts: dict[str, int] = field(default_factory=dict)
    findings: int = 0
    reports: tuple[str, ...] = ()  # report file names, relative to the output folder
    error: str | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # problems met reading the captures (read only in part ...)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> label -> count

    def kind_counts(self) -> dict[str, dict[str, int]]:
        """``by_kind``; an outcome made without it counts its ``counts`` as frontend calls."""
        if self.by_kind or not self.counts:
            return self.by_kind
        return {FlowKind.FRONTEND_CALL.value: dict(self.counts)}


@dataclass(frozen=True, slots=True)
class Task:
    """A job as handed to an executor: its captures resolved to absolute paths (``paths``, in the
    order of ``job.captures``); for a Dask worker also the SHA-256 each file must have
    (``expect``), since a worker without the shared filesystem may find nothing, or another
    file, at that path."""

    job: Job
    settings: Settings
    paths: tuple[str, ...]
    expect: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobResult:
    outcome: Outcome
    rendered: dict[str, str]  # file name -> content


# ---- gathering inputs --------------------------------------------------------------------------
def is_capture_name(path: Path) -> bool:
    name = path.name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    return name.endswith(CAPTURE_SUFFIXES)


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files as given, folders searched recursively for captures, globs expanded; sorted, unique."""
    found: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += [str(p) for p in sorted(path.rglob("*")) if p.is_file() and is_capture_name(p)]
        elif GLOB_CHARS.search(item) and not path.exists():
            found += sorted(p for p in glob.glob(item, recursive=True) if Path(p).is_file())
        else:
            found.append(item)  # a missing file is reported in the index, not fatal here
    return sorted(dict.fromkeys(found))


def read_manifest(path: str) -> dict[str, list[str]]:
    """incident -> capture files, from a CSV (incident,file) or YAML manifest."""
    manifest = Path(path)
    try:
        text = manifest.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read manifest: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (a manifest is UTF-8 CSV or YAML)") from None
    is_yaml = manifest.suffix.lower() in (".yaml", ".yml")
    groups = _manifest_yaml(path, text) if is_yaml else _manifest_csv(path, text)
    for files in groups.values():
        for file in files:
            if "\0" in file:
                raise InputError(f"{path}: file name {file!r} contains a NUL byte")
    base = manifest.parent
    return {
        name: [str(base / f) if not Path(f).is_absolute() else f for f in files]
        for name, files in groups.items()
    }


def _manifest_csv(path: str, text: str) -> dict[str, list[str]]:
    reader = csv.DictReader(io.StringIO(text))
    groups: dict[str, list[str]] = {}
    try:
        if not {"incident", "file"} <= set(reader.fieldnames or ()):
            raise InputError(f"{path}: a CSV manifest needs the header 'incident,file'")
        for row in reader:
            incident, file = (row.get("incident") or "").strip(), (row.get("file") or "").strip()
            if not incident or not file:
                raise InputError(
                    f"{path}: line {reader.line_num}: incident and file are both required"
                )
            groups.setdefault(incident, []).append(file)
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: not a CSV manifest: {exc}") from None
    if not groups:
        raise InputError(f"{path}: the manifest lists no capture")
    return groups


def _manifest_yaml(path: str, text: str) -> dict[str, list[str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply for a manifest") from None
    valid = isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(f, str) for f in v)
        for k, v in data.items()
    )
    if not valid:
        raise InputError(f"{path}: a YAML manifest maps incident names to lists of capture files")
    return {str(k): [str(f) for f in v] for k, v in data.items()}


def safe_name(text: str) -> str:
    stem = Path(text).name
    for suffix in COMPRESSED_SUFFIXES + CAPTURE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "capture"


def plan_jobs(captures: Sequence[str], manifest: dict[str, list[str]] | None = None) -> list[Job]:
    """One job per incident of the manifest, then one per remaining capture; unique names."""
    jobs: list[tuple[str, tuple[str, ...]]] = []
    grouped: set[str] = set()
    for incident, files in sorted((manifest or {}).items()):
        jobs.append((incident, tuple(files)))
        grouped |= {os.path.normpath(f) for f in files}
    for capture in captures:
        if os.path.normpath(capture) not in grouped:
            jobs.append((capture, (capture,)))
    return _unique_names(jobs)


def _unique_names(jobs: list[tuple[str, tuple[str, ...]]]) -> list[Job]:
    """Name each job by its file stem; stems met twice get their distinguishing path instead."""
    by_stem: dict[str, list[str]] = {}
    for label, _ in jobs:
        by_stem.setdefault(safe_name(label), []).append(label)
    names: dict[str, str] = {}
    for stem, labels in by_stem.items():
        if len(labels) == 1:
            names[labels[0]] = stem
            continue
        root = os.path.commonpath([os.path.abspath(label) for label in labels])
        for label in labels:
            rel = os.path.relpath(os.path.abspath(label), root)
            names[label] = re.sub(r"[^A-Za-z0-9.-]+", "_", rel).strip("._") or stem
    if len(set(names.values())) < len(names):  # still ambiguous: fall back to a path hash
        names = {k: f"{v}-{hashlib.sha256(k.encode()).hexdigest()[:8]}" for k, v in names.items()}
    return sorted((Job(names[label], files) for label, files in jobs), key=lambda j: j.name)


# ---- fingerprints and state ---------------------------------------------------------------------
def settings_fingerprint(settings: Settings) -> str:
    """Stable hash of the settings (frozen dataclasses have a deterministic repr).

    A checksum policy other than the default is added to the repr; the default adds nothing,
    so the keys of reports made before the policy was a setting (all under the default) hold."""
    text = repr(settings)
    if settings.checksums != DEFAULT_POLICY:
        text += f" checksums={settings.checksums}"
    return hashlib.sha256(text.encode()).hexdigest()


def job_key(job: Job, settings_hash: str, hashes: Sequence[str] | None = None) -> str:
    """Content hash deciding whether a job's reports are up to date (``hashes``: the captures'
    SHA-256 when known already); raises OSError."""
    digest = hashlib.sha256()
    captures = hashes if hashes is not None else [file_sha256(c) for c in job.captures]
    for part in (tool_version(), settings_hash, *captures):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def capture_problem(path: str) -> str | None:
    """Why ``path`` cannot be a capture of the batch (checked before hashing it), or None."""
    file = Path(path)
    try:
        if not file.exists():
            return f"{path}: no such capture file"
        if not file.is_file():  # a FIFO or a device would be hashed forever
            return f"{path}: not a regular file"
    except (OSError, ValueError) as exc:  # e.g. an embedded NUL byte
        return f"{path}: cannot read: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A job's up-to-date key and its captures' SHA-256, or why a capture cannot be read."""

    key: str | None
    hashes: tuple[str, ...] = ()
    problem: str | None = None


def fingerprint(job: Job, settings_hash: str) -> Fingerprint:
    problem = next((p for p in map(capture_problem, job.captures) if p), None)
    if problem is not None:
        return Fingerprint(None, problem=problem)
    try:
        hashes = tuple(file_sha256(c) for c in job.captures)
    except OSError as exc:
        where = exc.filename or job.captures[0]
        return Fingerprint(None, problem=f"{where}: cannot read: {exc.strerror or exc}")
    return Fingerprint(job_key(job, settings_hash, hashes), hashes)


def load_state(out_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {}
    jobs = data.get("jobs")
    return jobs if isinstance(jobs, dict) else {}


def save_state(out_dir: Path, jobs: dict[str, dict[str, Any]]) -> None:
    tmp = out_dir / (STATE_FILE + ".tmp")
    state = {"version": STATE_VERSION, "jobs": dict(sorted(jobs.items()))}
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / STATE_FILE)


def outcome_from_dict(data: dict[str, Any]) -> Outcome:
    return Outcome(
        name=str(data["name"]),
        captures=tuple(data["captures"]),
        verdict=data.get("verdict"),
        counts=dict(data.get("counts", {})),
        findings=int(data.get("findings", 0)),
        by_kind={k: dict(v) for k, v in data.get("by_kind", {}).items()},
        reports=tuple(data.get("reports", ())),
        error=data.get("error"),
        seconds=float(data.get("seconds", 0.0)),
        warnings=tuple(data.get("warnings", ())),
    )


# ---- the unit of work ----------------------------------------------------------------------------
STDIN = "-"
SHARED_FILESYSTEM = (
    "the cluster needs a shared filesystem: every capture at the same path on every worker"
)


def absolute(paths: Sequence[str]) -> tuple[str, ...]:
    """``paths`` resolved against this process's folder (standard input stays ``-``)."""
    return tuple(p if p == STDIN else os.path.abspath(p) for p in paths)


def task_for(job: Job, settings: Settings, expect: Sequence[str] = ()) -> Task:
    return Task(job, settings, absolute(job.captures), tuple(expect))


def run_job(job: Job, settings: Settings, out_dir: str | None = None) -> JobResult:
    """Analyse one job here and render its reports; see :func:`run_task`."""
    return run_task(task_for(job, settings), out_dir)


def worker_problem(task: Task) -> str | None:
    """Why this (remote) worker cannot read the job's captures as the client saw them: the file is
    missing, unreadable or another file (its SHA-256 differs); None when all are the same."""
    host = socket.gethostname()
    for given, path, expected in zip(task.job.captures, task.paths, task.expect, strict=True):
        where = f"{SHARED_FILESYSTEM} (looked for {path})"
        try:
            if not Path(path).is_file():
                return f"{given}: not on Dask worker {host}; {where}"
            if file_sha256(path) != expected:
                return f"{given}: Dask worker {host} has another file at that path; {where}"
        except OSError as exc:
            return f"{given}: cannot be read on Dask worker {host}: {exc.strerror or exc}; {where}"
    return None


def as_given(result: AnalysisResult, task: Task) -> AnalysisResult:
    """The result with each capture named as the user gave it, not by its absolute path."""
    given = dict(zip(task.paths, task.job.captures, strict=True))
    return result.with_capture_names(lambda path: given.get(path, path))


def error_as_given(error: str, task: Task) -> str:
    for path, name in sorted(zip(task.paths, task.job.captures, strict=True), reverse=True):
        error = error.replace(path, name)
    return error


def run_task(task: Task, out_dir: str | None = None) -> JobResult:
    """Analyse one job and render its reports; errors become the outcome's error.

    Without ``out_dir`` the reports are returned in memory (``JobResult.rendered``: a Dask
    worker on another host); with it (local processes share the file system) each report is
    written there piece by piece as it is rendered, so a job's memory does not grow with the
    size of its reports."""
    from pcapflow.pipeline import analyze
    from pcapflow.report import RENDERERS, render
    from pcapflow.report.registry import render_chunks, write_chunks

    job, settings = task.job, task.settings
    started = time.perf_counter()
    problem = worker_problem(task) if task.expect else None
    if problem is not None:
        return JobResult(_failed(job, problem, started), {})
    try:
        result = analyze(list(task.paths), settings.config, os=settings.os,
                         engine=settings.engine,
                         ignore_checksums=CHECKSUM_POLICIES[settings.checksums])  # fmt: skip
        result = as_given(result, task)
        names = [f"{job.name}.{RENDERERS[fmt].extension}" for fmt in settings.formats]
        if out_dir is None:
            rendered = {n: render(result, f) for n, f in zip(names, settings.formats, strict=True)}
        else:
            rendered = {}
            for name, fmt in zip(names, settings.formats, strict=True):
                write_chunks(Path(out_dir) / name, render_chunks(result, fmt))
    except PcapflowError as exc:
        return JobResult(_failed(job, error_as_given(str(exc), task), started), {})
    except Exception as exc:  # one broken capture must not stop the batch
        error = error_as_given(f"internal error: {type(exc).__name__}: {exc}", task)
        return JobResult(_failed(job, error, started), {})
    return JobResult(_outcome(job, result, names, started), rendered)


def _outcome(job: Job, result: Any, reports: list[str], started: float) -> Outcome:
    from pcapflow.report.facts import summarize

    summary = summarize(result)
    return Outcome(
        name=job.name,
        captures=job.captures,
        verdict=summary.verdict,
        counts={label.value: n for label, n in summary.counts},
        findings=len(result.failures),
        by_kind={k.kind.value: {lbl.value: n for lbl, n in k.counts} for k in summary.by_kind},
        reports=tuple(reports),
        seconds=round(time.perf_counter() - started, 3),
        warnings=tuple(one_line(w) for w in summary.warnings),
    )


def _failed(job: Job, error: str, started: float) -> Outcome:
    seconds = round(time.perf_counter() - started, 3)
    return Outcome(job.name, job.captures, None, error=one_line(error), seconds=seconds)


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_ERROR = 300


def one_line(error: str) -> str:
    """The first line of ``error`` without terminal escapes, at most ``MAX_ERROR`` characters."""
    plain = ANSI.sub("", error).replace("\x1b", "")
    lines = [" ".join(line.split()) for line in plain.splitlines()]
    first = next((line for line in lines if line), "") or "unknown error"
    return first if len(first) <= MAX_ERROR else first[: MAX_ERROR - 3] + "..."


# ---- executors -----------------------------------------------------------------------------------
def run_local(work: Sequence[Task], jobs: int, out_dir: Path | None = None) -> Iterator[JobResult]:
    """Results as they complete: in this process when ``jobs`` is 1, else a process pool;
    with ``out_dir`` the jobs write their reports there themselves (see :func:`run_task`)."""
    where = str(out_dir) if out_dir is not None else None
    if jobs <= 1 or len(work) <= 1:
        yield from (run_task(task, where) for task in work)
        return
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        futures: dict[Future[JobResult], Job] = {
            pool.submit(run_task, t, where): t.job for t in work
        }
        for future in as_completed(futures):
            yield _collect(future.result, futures[future])
    finally:  # on Ctrl-C or an early stop, drop the queued jobs instead of finishing them
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(work: Sequence[Task], scheduler: str) -> Iterator[JobResult]:
    """Results as they complete on the Dask cluster at ``scheduler`` (tcp://host:port).

    Only the task travels (absolute paths, settings with the loaded configuration): workers
    read the captures from the shared filesystem and check they are the files hashed here."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="20s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach Dask scheduler {scheduler}: {exc}") from None
    try:
        futures = {client.submit(run_task, task, pure=False): task.job for task in work}
        for future in dask_completed(list(futures), loop=client.loop):  # type: ignore[no-untyped-call]
            yield _collect(future.result, futures[future])
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _collect(result: Callable[[], JobResult], job: Job) -> JobResult:
    """The job's result; a worker that died or could not run it becomes that job's error."""
    try:
        return result()
    except Exception as exc:  # BrokenProcessPool, KilledWorker, lost connection, ...
        error = f"worker failed: {type(exc).__name__}: {exc}"
        return JobResult(_failed(job, error, time.perf_counter()), {})


# ---- the batch -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BatchReport:
    outcomes: tuple[Outcome, ...]  # every job, sorted by name
    ran: tuple[str, ...]  # names of jobs analysed this time
    skipped: tuple[str, ...]  # names of jobs whose reports were up to date

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if o.error)

    @property
    def failing(self) -> int:
        return sum(1 for o in self.outcomes if o.findings)


Progress = Callable[[Outcome, bool], None]  # (outcome, skipped)


def run_batch(
    jobs: Sequence[Job],
    out_dir: Path,
    *,
    config: LbConfig | None = None,
    formats: Sequence[str] = ("html",),
    guest_os: str | None = None,
    engine: str = "fast",
    checksums: str = DEFAULT_POLICY,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> BatchReport:
    """Run ``jobs`` (skipping up-to-date ones), write reports, state and index into ``out_dir``.

    ``checksums`` names the checksum policy (:mod:`pcapflow.model.checksums`)."""
    from pcapflow.report import RENDERERS

    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise InputError(f"unknown report format {unknown[0]!r} (known: {', '.join(RENDERERS)})")
    if checksums not in CHECKSUM_POLICIES:
        known = ", ".join(CHECKSUM_POLICIES)
        raise InputError(f"unknown checksum policy {checksums!r} (known: {known})")
    out_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(out_dir)
    settings = Settings(config, tuple(dict.fromkeys(formats)), guest_os, engine, checksums)
    settings_hash = settings_fingerprint(settings)
    outcomes: dict[str, Outcome] = {}
    keys: dict[str, str] = {}
    pending: list[Task] = []
    skipped: list[str] = []
    for job in jobs:
        found = fingerprint(job, settings_hash)
        if found.key is None:
            outcomes[job.name] = Outcome(job.name, job.captures, None, error=found.problem)
            state.pop(job.name, None)
            if progress:
                progress(outcomes[job.name], False)
            continue
        keys[job.name] = found.key
        cached = state.get(job.name)
        if cached and cached.get("key") == keys[job.name] and _reports_exist(out_dir, cached):
            outcomes[job.name] = outcome_from_dict(cached["outcome"])
            skipped.append(job.name)
            if progress:
                progress(outcomes[job.name], True)
            continue
        # a remote worker checks it reads these very files; local processes share this machine
        pending.append(task_for(job, settings, found.hashes if scheduler else ()))
    for done in _execute(pending, workers, scheduler, out_dir):
        _write_reports(out_dir, done)
        outcome = done.outcome
        outcomes[outcome.name] = outcome
        if outcome.error is None:
            state[outcome.name] = {"key": keys[outcome.name], "outcome": asdict(outcome)}
        else:
            state.pop(outcome.name, None)  # errors are retried on the next run
        save_state(out_dir, state)
        if progress:
            progress(outcome, False)
    ordered = tuple(outcomes[j.name] for j in sorted(jobs, key=lambda j: j.name))
    write_index(out_dir, ordered)
    ran = tuple(sorted(task.job.name for task in pending))
    return BatchReport(ordered, ran, tuple(sorted(skipped)))


def _execute(
    work: Sequence[Task], workers: int | None, scheduler: str | None, out_dir: Path
) -> Iterator[JobResult]:
    if not work:
        return iter(())
    if scheduler:
        return run_dask(work, scheduler)
    return run_local(work, workers if workers is not None else (os.cpu_count() or 1), out_dir)


def _reports_exist(out_dir: Path, cached: dict[str, Any]) -> bool:
    reports = cached.get("outcome", {}).get("reports", [])
    return all((out_dir / name).is_file() for name in reports)


def _write_reports(out_dir: Path, done: JobResult) -> None:
    for name, content in done.rendered.items():
        (out_dir / name).write_text(content, encoding="utf-8")


# ---- the index -----------------------------------------------------------------------------------
def summary_rows(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [
        {
            "name": o.name,
            "captures": list(o.captures),
            "verdict": o.verdict,
            "counts": {label.value: o.counts.get(label.value, 0) for label in Label},
            "by_kind": _all_kinds(o.kind_counts()),
            "findings": o.findings,
            "reports": list(o.reports),
            "error": o.error,
            "warnings": list(o.warnings),
        }
        for o in outcomes
    ]


def _all_kinds(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Every kind, every label (zeros included), in FlowKind and Label order."""
    return {
        kind.value: {lbl.value: counts.get(kind.value, {}).get(lbl.value, 0) for lbl in Label}
        for kind in FlowKind
    }


OTHER_KINDS: tuple[FlowKind, ...] = tuple(k for k in FlowKind if k is not FlowKind.FRONTEND_CALL)


def summary_csv(outcomes: Sequence[Outcome]) -> str:
    """One row per report: the label columns count calls to a frontend (the story first);
    each other kind has two columns, its connections and how many of them failed."""
    out = io.StringIO()
    header = ["name", "captures", "verdict", "findings", *(lbl.value for lbl in Label)]
    kinds = [name for k in OTHER_KINDS for name in (k.value, f"{k.value}_failed")]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, *kinds, "reports", "error", "warnings"])
    for row in summary_rows(outcomes):
        by_kind: dict[str, dict[str, int]] = row["by_kind"]
        calls = by_kind[FlowKind.FRONTEND_CALL.value]
        counts = [calls[label.value] for label in Label]
        others = [n for k in OTHER_KINDS for n in total_and_failed(by_kind[k.value])]
        head = [row["name"], ";".join(row["captures"]), row["verdict"] or "", row["findings"]]
        tail = [";".join(row["reports"]), row["error"] or "", "; ".join(row["warnings"])]
        writer.writerow([*head, *counts, *others, *tail])
    return out.getvalue()


def summary_json(outcomes: Sequence[Outcome]) -> str:
    data = {"schema_version": BATCH_SCHEMA_VERSION, "pcapflow_version": tool_version(),
            "reports": summary_rows(outcomes)}  # fmt: skip
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def index_html(outcomes: Sequence[Outcome]) -> str:
    from pcapflow.report.batch_index import render_index

    return render_index(summary_rows(outcomes))


def write_index(out_dir: Path, outcomes: Sequence[Outcome]) -> None:
    (out_dir / "summary.csv").write_text(summary_csv(outcomes), encoding="utf-8")
    (out_dir / "summary.json").write_text(summary_json(outcomes), encoding="utf-8")
    (out_dir / "index.html").write_text(index_html(outcomes), encoding="utf-8")
