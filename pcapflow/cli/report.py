"""``pcapflow report`` (batch reports + index) and ``pcapflow slice`` (a finding's packets to pcap).

``report`` exit status: 0 all analysed and healthy, 3 some capture has failures, 1 some capture
could not be analysed (see the index), 2 bad input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from pcapflow.batch import (
    BatchReport,
    Job,
    Outcome,
    Settings,
    expand_inputs,
    plan_jobs,
    read_manifest,
    run_batch,
)
from pcapflow.cli import main
from pcapflow.cli.options import (
    CHECKSUM_POLICIES,
    checksum_options,
    engine_option,
    guest_os_option,
    lb_options,
    warn_config,
)
from pcapflow.errors import InputError
from pcapflow.lbconfig.options import config_from_options
from pcapflow.report import RENDERERS

EXIT_OK, EXIT_ERRORS, EXIT_FAILURES = 0, 1, 3


def _describe(outcome: Outcome) -> str:
    return outcome.verdict or f"error: {outcome.error}"


def _log_lines(total: int) -> Callable[[Outcome, bool], None]:
    done = 0

    def log(outcome: Outcome, skipped: bool) -> None:
        nonlocal done
        done += 1
        note = " (up to date, skipped)" if skipped else ""
        click.echo(f"[{done}/{total}] {outcome.name}: {_describe(outcome)}{note}", err=True)

    return log


def _run(jobs: list[Job], out: Path, settings: Settings, workers: int | None,
         scheduler: str | None) -> BatchReport:  # fmt: skip
    def batch(progress: Callable[[Outcome, bool], None]) -> BatchReport:
        return run_batch(jobs, out, config=settings.config, formats=settings.formats,
                         guest_os=settings.os, engine=settings.engine,
                         checksums=settings.checksums, workers=workers, scheduler=scheduler,
                         progress=progress)  # fmt: skip

    if not sys.stderr.isatty():
        return batch(_log_lines(len(jobs)))
    with click.progressbar(
        length=len(jobs), label="analysing", file=sys.stderr, show_pos=True
    ) as bar:
        return batch(lambda outcome, skipped: bar.update(1))


@main.command("report")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@lb_options
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the reports, index.html, summary.csv and summary.json.",
)
@click.option(
    "--manifest",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Group captures of one incident into one report: CSV 'incident,file' or YAML "
    "{incident: [files]}.",
)
@click.option(
    "--jobs",
    "-j",
    "workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per CPU; 1 = in this process).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run on this Dask distributed scheduler instead of local processes (the workers "
    "need the captures at the same absolute paths: a shared filesystem).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    default=("html",),
    show_default=True,
    type=click.Choice(sorted(RENDERERS)),
    help="Report format(s) per capture (repeatable).",
)
@guest_os_option
@engine_option
@checksum_options
def report(
    inputs: tuple[str, ...],
    lb: tuple[str, ...],
    lb_format: str,
    nic: tuple[str, ...],
    vip: tuple[str, ...],
    backend: tuple[str, ...],
    floating_ip: bool,
    out: Path,
    manifest: str | None,
    workers: int | None,
    scheduler: str | None,
    formats: tuple[str, ...],
    guest_os: str,
    engine: str,
    checksums: str,
) -> None:
    """Analyse many captures (files, folders, globs): one report each, plus an index over all.

    Re-running skips captures whose reports are up to date (same capture bytes, config,
    options and pcapflow version), so an interrupted batch resumes where it stopped; a run
    with another checksum policy (-C, --validate-checksums) analyses them again.

    Exit status: 0 all healthy, 3 failures found, 1 some capture could not be analysed (listed
    in the index), 2 bad input.
    """
    if not inputs and not manifest:
        raise InputError("give capture files, folders or globs (or --manifest FILE)")
    config = config_from_options(lb, lb_format, nic, vip, backend, floating_ip, warn_config)
    jobs = plan_jobs(expand_inputs(inputs), read_manifest(manifest) if manifest else None)
    if not jobs:
        raise InputError(f"no capture file found in {' '.join(inputs)}")
    os_name = None if guest_os == "auto" else guest_os
    settings = Settings(config, formats, os_name, engine, checksums)
    done = _run(jobs, out, settings, workers, scheduler)
    click.echo(
        f"{len(done.outcomes)} report(s) in {out}: {done.failing} with failures, "
        f"{done.errors} could not be analysed, {len(done.skipped)} up to date; "
        f"see {out / 'index.html'}",
        err=True,
    )
    sys.exit(EXIT_ERRORS if done.errors else EXIT_FAILURES if done.failing else EXIT_OK)


@main.command("slice")
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option(
    "--flow",
    "ref",
    required=True,
    metavar="ID",
    help="A finding id (F1), a flow id (0:C...) or a flow uid; all its legs are kept.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The pcap file to write.",
)
@lb_options
@engine_option
@checksum_options
def slice_command(
    captures: tuple[str, ...],
    ref: str,
    output: Path,
    lb: tuple[str, ...],
    lb_format: str,
    nic: tuple[str, ...],
    vip: tuple[str, ...],
    backend: tuple[str, ...],
    floating_ip: bool,
    engine: str,
    checksums: str,
) -> None:
    """Write the packets of a finding's (or flow's) connections, every leg, to a pcap.

    The flows are found by analysing CAPTURE... (with the same config and checksum options as
    analyze: give the ones the ids came from); the frames are copied unchanged, with their
    original timestamps, in time order.
    """
    from pcapflow.pipeline import analyze
    from pcapflow.report.slice import slice_flows

    if not output.parent.is_dir():  # fail before a long analysis, not after it
        raise InputError(f"{output}: folder {output.parent} does not exist")
    config = config_from_options(lb, lb_format, nic, vip, backend, floating_ip, warn_config)
    result = analyze(
        list(captures), config, engine=engine, ignore_checksums=CHECKSUM_POLICIES[checksums]
    )
    flows, written = slice_flows(result, list(captures), ref, output, engine)
    legs = ", ".join(f.id for f in flows[:6]) + (" ..." if len(flows) > 6 else "")
    click.echo(f"wrote {written} packet(s) of {len(flows)} flow(s) ({legs}) to {output}", err=True)
