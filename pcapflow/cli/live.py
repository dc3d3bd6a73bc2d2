"""`pcapflow probe`, `pcapflow watch`, `pcapflow explain`: live troubleshooting on the spot.

Thin shells: options are turned into requests for :mod:`pcapflow.live` and
:mod:`pcapflow.report.story`; output goes through :mod:`pcapflow.live.present`.
Exit status: 0 no failure, 3 failures found, 2 bad input (any PcapflowError).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from pcapflow.cli import main
from pcapflow.cli.options import lb_options, warn_config
from pcapflow.errors import InputError
from pcapflow.lbconfig.options import config_from_options
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, Finding

if TYPE_CHECKING:  # the live modules are imported when a command runs, not at CLI start
    from pcapflow.live.watch import WatchLimits, WatchSession

EXIT_OK, EXIT_FAILURES = 0, 3


def _echo_lines(lines: Sequence[str], colour: bool) -> None:
    for line in lines:
        click.echo(line, color=colour)


def _json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _result_dict(result: AnalysisResult | None) -> object:
    if result is None:
        return None
    from pcapflow.report import to_dict

    return to_dict(result)


def _lb_config(
    lb: Sequence[str],
    lb_format: str | None,
    nic: Sequence[str],
    vip: Sequence[str],
    backend: Sequence[str],
    floating_ip: bool,
    default_vip: str | None = None,
) -> LbConfig | None:
    """The --lb/--vip/--backend config; a --backend alone declares the probed frontend's pool."""
    if default_vip and (backend or floating_ip) and not vip:
        vip = (default_vip,)
    fmt = None if lb_format in (None, "auto") else lb_format
    return config_from_options(lb, fmt, nic, vip, backend, floating_ip, warn_config)


# ---- probe ------------------------------------------------------------------------------------
@main.command(short_help="Capture, make N attempts on VIP:PORT, diagnose them (live).")
@click.argument("frontend", metavar="VIP:PORT")
@click.option("--count", "-n", default=12, show_default=True, help="Connection attempts (1-1000).")
@click.option(
    "--proto",
    type=click.Choice(["tcp", "udp"]),
    default="tcp",
    show_default=True,
    help="tcp: a connect per attempt; udp: one datagram, then wait for a reply.",
)
@lb_options
@click.option(
    "--iface",
    "-i",
    "ifaces",
    multiple=True,
    metavar="IF",
    help="Interface to capture on (repeatable; default: the route to the VIP, and lo).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Leave the capture, result.json and probe.json in DIR.",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=3.0,
    show_default=True,
    type=float,
    help="Connect (or UDP reply) timeout per attempt, seconds.",
)
@click.option(
    "--tool",
    type=click.Choice(["dumpcap", "tcpdump"]),
    default=None,
    help="Capture tool (default: dumpcap if installed, else tcpdump).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the probe and the analysis as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the one-line diagnosis.")
def probe(frontend: str, count: int, proto: str, ifaces: tuple[str, ...], keep: Path | None,
          timeout_s: float, tool: str | None, as_json: bool, quiet: bool,
          **lb: Any) -> None:  # fmt: skip
    """Reproduce a hairpin now: capture, make COUNT attempts on VIP:PORT, diagnose.

    Needs root (or capture capabilities) and dumpcap or tcpdump.  Example:
    pcapflow probe 10.2.1.100:80 --count 12 --lb lb.yaml
    """
    from pcapflow.live.attempts import check_count
    from pcapflow.live.present import Style, diagnosis_lines, probe_lines, use_colour
    from pcapflow.live.probe import ProbeRequest, run_probe
    from pcapflow.live.target import parse_target

    target = parse_target(frontend, proto)
    if not 0 < timeout_s <= 60:
        raise InputError("--timeout must be between 0 and 60 seconds")
    check_count(count)
    cfg = _lb_config(**lb, default_vip=f"{target}/{proto}")
    request = ProbeRequest(target, count, timeout_s, ifaces, keep, cfg, tool)
    run = run_probe(request, notify=_progress if not quiet else _quiet)
    summary = run.summary
    if as_json:
        _json({"probe": summary.to_dict(), "result": _result_dict(run.result)})
    else:
        style = Style(use_colour())
        lines = diagnosis_lines(summary, style)[:1] if quiet else probe_lines(summary, style)
        if keep is not None and not quiet:
            lines = [*lines, "", f"Capture and results kept in {keep}/"]
        _echo_lines(lines, style.colour)
    sys.exit(EXIT_FAILURES if summary.failures_found else EXIT_OK)


def _progress(message: str) -> None:
    click.echo(f"pcapflow probe: {message}", err=True)


def _quiet(_: str) -> None:
    return None


# ---- watch ------------------------------------------------------------------------------------
@main.command(short_help="Live view of attempts to the declared frontends (Ctrl-C ends).")
@click.option(
    "--iface",
    "-i",
    "ifaces",
    multiple=True,
    metavar="IF",
    help="Capture live on IF (repeatable; default: routes to the frontends, and lo).",
)
@click.option(
    "--file",
    "-f",
    "growing",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="GROWING.pcap",
    help="Follow a capture file another tool is writing.",
)
@lb_options
@click.option(
    "--write",
    "-w",
    "write",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write every packet seen to FILE (pcapng).",
)
@click.option(
    "--interval",
    "interval_s",
    default=2.0,
    show_default=True,
    type=float,
    help="Seconds between refreshes.",
)
@click.option(
    "--duration",
    "duration_s",
    default=None,
    type=float,
    help="Stop after this many seconds (default: until Ctrl-C).",
)
@click.option(
    "--window",
    "window_packets",
    default=50_000,
    show_default=True,
    type=int,
    help="Packets kept for analysis (bounds memory).",
)
@click.option(
    "--tool",
    type=click.Choice(["dumpcap", "tcpdump"]),
    default=None,
    help="Capture tool for --iface (default: dumpcap if installed, else tcpdump).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="At the end, print the totals and result as JSON."
)
@click.option("--quiet", "-q", is_flag=True, help="No live view; only the final diagnosis line.")
def watch(ifaces: tuple[str, ...], growing: Path | None, write: Path | None, interval_s: float,
          duration_s: float | None, window_packets: int, tool: str | None, as_json: bool,
          quiet: bool, **lb: Any) -> None:  # fmt: skip
    """Live view of attempts to the declared frontends; Ctrl-C prints the final diagnosis.

    Example: pcapflow watch --iface eth0 --lb lb.yaml --write session.pcapng
    """
    from pcapflow.live.watch import WatchLimits

    if ifaces and growing:
        raise InputError("give --iface or --file, not both")
    if interval_s <= 0 or (duration_s is not None and duration_s <= 0) or window_packets < 100:
        raise InputError("--interval and --duration must be positive, --window at least 100")
    cfg = _lb_config(**lb)
    if cfg is None or cfg.empty:
        raise InputError("watch needs the load balancer: --lb CONFIG (or --vip/--backend)")
    limits = WatchLimits(
        interval_s=interval_s, duration_s=duration_s, window_packets=window_packets
    )
    with ExitStack() as stack:
        out = stack.enter_context(write.open("wb")) if write else None
        session = _run_watch(cfg, limits, ifaces, growing, tool, out, as_json or quiet)
    _watch_report(session, as_json, quiet)


def _run_watch(cfg: LbConfig, limits: WatchLimits, ifaces: tuple[str, ...], growing: Path | None,
               tool: str | None, out: BinaryIO | None, silent: bool) -> WatchSession:  # fmt: skip
    from pcapflow.live.capture import CaptureSession, config_filter, find_capture_tool
    from pcapflow.live.capture import route_interfaces as routes
    from pcapflow.live.hostos import host_os
    from pcapflow.live.present import LiveDisplay, use_colour
    from pcapflow.live.watch import FileSource, PipeSource, WatchSession, run
    from pcapflow.pipeline import analyze

    family = host_os().analysis_os

    def analyzer(paths: Sequence[Path], lb: LbConfig) -> AnalysisResult:
        return analyze(paths, lb, os=family)

    source: FileSource | PipeSource
    if growing is not None:
        source = FileSource(growing)
    else:
        capture_tool = find_capture_tool(prefer=tool)
        addresses = [f.address for b in cfg.load_balancers for f in b.frontends]
        chosen = ifaces or tuple(routes(addresses))
        session = CaptureSession(capture_tool, chosen, config_filter(cfg), None).start()
        source = PipeSource(session)
    watch_session = WatchSession(cfg, analyzer, limits, out, source.label)
    display = LiveDisplay(use_colour(), silent)
    click.echo(f"pcapflow watch: following {source.label}; Ctrl-C to stop", err=True)
    try:
        return run(watch_session, source, display.refresh)
    finally:
        display.clear()


def _watch_report(session: WatchSession, as_json: bool, quiet: bool) -> None:
    from pcapflow.live.present import Style, use_colour, watch_lines

    state = session.state
    failures = state.failed > 0 or bool(state.result and state.result.failures)
    if as_json:
        _json({
            "totals": [t.to_dict() for t in state.tallies.values()],
            "attempts": state.attempts,
            "failed": state.failed,
            "packets": session.packets,
            "window": {"packets": len(session.window.records),
                       "max_packets": session.limits.window_packets,
                       "max_age_s": session.limits.window_s},
            "newest_finding": _finding_dict(state.newest),
            "result": _result_dict(state.result),
        })  # fmt: skip
    else:
        style = Style(use_colour())
        verdict = (
            f"{'FAILURES' if failures else 'OK'}: {state.failed} of {state.attempts} attempts "
            "to the declared frontends failed."
        )
        lines = [verdict] if quiet else [*watch_lines(session, style, final=True), verdict]
        _echo_lines(lines, style.colour)
    sys.exit(EXIT_FAILURES if failures else EXIT_OK)


def _finding_dict(finding: Finding | None) -> dict[str, object] | None:
    if finding is None:
        return None
    evidence = [{"file": e.file, "frame": e.frame, "summary": e.summary, "role": e.role}
                for e in finding.evidence]  # fmt: skip
    return {"id": finding.id, "label": finding.label.value, "title": finding.title,
            "evidence": evidence}  # fmt: skip


# ---- explain ----------------------------------------------------------------------------------
@main.command(short_help="The story of one connection, leg by leg, with its frames.")
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option("--flow", "flow_id", metavar="ID", help="Flow id (0:C... as in reports) or uid.")
@click.option(
    "--frame",
    "frame",
    metavar="[FILE_IDX:]N",
    help="A frame number of the first capture (or of capture FILE_IDX).",
)
@lb_options
@click.option("--json", "as_json", is_flag=True, help="Print the story lines and flow ids as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the verdict line.")
def explain(captures: tuple[str, ...], flow_id: str | None, frame: str | None, as_json: bool,
            quiet: bool, **lb: Any) -> None:  # fmt: skip
    """The story of one connection in plain words, leg by leg across the load balancer.

    Example: pcapflow explain web01-eth0.pcap --flow 0:CxWq... --lb lb.yaml
    """
    from pcapflow.pipeline import analyze
    from pcapflow.report.story import connection, find_flow, find_flow_at_frame, story

    if flow_id is not None and frame is not None:
        raise InputError("give either --flow ID or --frame N, not both")
    at = _frame(frame, len(captures)) if frame is not None else None
    cfg = _lb_config(**lb)
    result = analyze(list(captures), cfg)
    if at is None and flow_id is None:
        raise InputError(_which_connection(result))
    fr = find_flow_at_frame(result, *at) if at else find_flow(result, flow_id or "")
    lines = story(result, fr.id)
    legs = connection(result, fr)
    failed = any(leg.label is not None and leg.label.is_failure for leg in legs)
    if as_json:
        label = next((leg.label.value for leg in legs if leg.label), None)
        _json({"flow": fr.id, "legs": [leg.id for leg in legs], "label": label, "story": lines})
    else:
        verdict = [line for line in lines if line.startswith("Verdict:")]
        click.echo("\n".join(verdict if quiet else lines))
    sys.exit(EXIT_FAILURES if failed else EXIT_OK)


def _which_connection(result: AnalysisResult, shown: int = 3) -> str:
    """The error for an explain without --flow/--frame: the ids worth explaining (failed
    attempts first, then any attempt), so the user can copy one."""
    attempts = [f for f in result.flows if f.role == "outbound" and f.label is not None]
    failed = [f for f in attempts if f.label is not None and f.label.is_failure]
    pick, kind = (failed, "failed attempts") if failed else (attempts, "attempts")
    if not pick:
        return "give --flow ID or --frame N (no attempt on a frontend was found to suggest)"
    ids = ", ".join(
        f"{f.id} ({f.label.value if f.label else '-'}, frame {f.flow.first_frame})"
        for f in pick[:shown]
    )
    more = f" and {len(pick) - shown} more" if len(pick) > shown else ""
    return f"give --flow ID or --frame N; {kind} here: {ids}{more}"


def _frame(text: str, captures: int) -> tuple[int, int]:
    """``"N"`` or ``"FILE_IDX:N"`` -> (N, FILE_IDX), FILE_IDX one of the ``captures`` given."""
    idx, _, number = text.rpartition(":")
    if not number.isdigit() or (idx and not idx.isdigit()) or int(number) < 1:
        raise InputError(f"--frame {text!r}: expected N or FILE_IDX:N (frames count from 1)")
    if int(idx or 0) >= captures:
        raise InputError(
            f"--frame {text!r}: no capture {int(idx)}; captures count from 0 in the order given "
            f"({captures} given)"
        )
    return int(number), int(idx or 0)
