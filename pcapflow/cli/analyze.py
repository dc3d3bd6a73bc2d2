"""``pcapflow analyze CAPTURE... [--lb CONFIG...]``: diagnose load-balancer hairpin failures.

Exit status: 0 no failure found, 3 failures found, 2 bad input (one-line error).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pcapflow import _jitnotice
from pcapflow.capture import jitstart
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
from pcapflow.lbconfig.options import check_one_stdin, config_from_options
from pcapflow.live.present import use_colour
from pcapflow.pipeline import analyze as run_analysis
from pcapflow.reconcile import PairingWindow
from pcapflow.report import RENDERERS
from pcapflow.report.registry import render_chunks

EXIT_OK = 0
EXIT_FAILURES = 3


def format_for_output(output: str | None) -> str:
    """The renderer whose file extension ``output`` carries (``report.html`` -> html), else text."""
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    aliases = {"htm": "html", "markdown": "md"}
    suffix = aliases.get(suffix, suffix)
    for name, spec in sorted(RENDERERS.items()):
        if spec.extension == suffix:
            return name
    return "text"


def check_output_folder(output: str) -> None:
    """Refuse ``-o`` in a folder that does not exist before the (long) analysis, not after."""
    folder = Path(output).parent
    if not folder.exists():
        raise InputError(f"{output}: no such folder {folder}")
    if not folder.is_dir():
        raise InputError(f"{output}: {folder} is not a folder")


@main.command()
@click.argument("captures", nargs=-1, metavar="CAPTURE...")
@lb_options
@guest_os_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default=None,
    help="Output format [default: from the -o extension (.html, .json, .md, .csv, .log), "
    "else text].",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE, not stdout.")
@click.option(
    "--point",
    "points",
    multiple=True,
    metavar="NAME",
    help="Capture point of each CAPTURE, in order (e.g. 'web01 eth0'); default: the file name.",
)
@engine_option
@checksum_options
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress line on stderr (the first run's one-time kernel compile).",
)
@click.option(
    "--window-ms",
    type=click.FloatRange(min=0.001, max=60_000.0),
    default=50.0,
    show_default=True,
    help="Pairing window: how far apart an outbound packet and its translated copy may be "
    "on one capture (across captures, after clock correction: 10x this).",
)
def analyze(
    captures: tuple[str, ...],
    lb: tuple[str, ...],
    lb_format: str,
    nic: tuple[str, ...],
    vip: tuple[str, ...],
    backend: tuple[str, ...],
    floating_ip: bool,
    guest_os: str,
    fmt: str | None,
    output: str | None,
    points: tuple[str, ...],
    engine: str,
    checksums: str,
    quiet: bool,
    window_ms: float,
) -> None:
    """Reconcile NAT'd half-flows in CAPTURE files, label every attempt, suggest the fix.

    Exit status: 0 when no failure is found, 3 when failures are found, 2 for bad input.
    """
    if quiet:
        _jitnotice.silence()
    jitstart.start()
    fmt = fmt or format_for_output(output)
    if window_ms != window_ms:  # NaN passes click's FloatRange: every comparison is false
        raise InputError("--window-ms: not a number")
    if not captures:
        raise InputError("give at least one capture file (pcap, pcapng, gzip, or - for stdin)")
    if points and len(points) != len(captures):
        raise InputError(f"--point given {len(points)} time(s) for {len(captures)} capture(s)")
    check_one_stdin(captures, lb, nic)
    if output:
        check_output_folder(output)
    cfg = config_from_options(lb, lb_format, nic, vip, backend, floating_ip, warn_config)
    window = PairingWindow(window_ms / 1000.0, window_ms / 100.0)
    result = run_analysis(
        captures,
        cfg,
        os=None if guest_os == "auto" else guest_os,
        engine=engine,
        capture_points=list(points) or None,
        window=window,
        ignore_checksums=CHECKSUM_POLICIES[checksums],
    )
    from pcapflow.flows.assembler import CHECKSUM_HINT  # (numba: imported when analysing)

    for summary in result.captures:  # (also in the report, among the capture's warnings)
        for warning in summary.info.warnings:
            if CHECKSUM_HINT in warning:
                click.echo(f"pcapflow: warning: {summary.info.path}: {warning}", err=True)
    chunks = render_chunks(result, fmt, color=output is None and fmt == "text" and use_colour())
    _jitnotice.end_line()
    if output:
        with Path(output).open("w") as out:
            out.writelines(chunks)
    else:
        last = ""
        for last in chunks:
            click.echo(last, nl=False)
        if not last.endswith("\n"):
            click.echo("")
    sys.exit(EXIT_FAILURES if result.failures else EXIT_OK)
