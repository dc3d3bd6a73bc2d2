"""``pcapflow flows CAPTURE...``: the flow table of captures, as Zeek would log it.

Formats: ``table`` (default, for the terminal), ``csv``, ``json`` (one object per line) and
``zeek`` (a conn.log that zeek-cut reads).  ``--filter`` takes a small BPF-like expression
(see :mod:`pcapflow.flows.filter`).  Bad captures or filters: one-line error, exit status 2.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

import click

from pcapflow.capture import jitstart
from pcapflow.cli import main
from pcapflow.cli.options import CHECKSUM_POLICIES, checksum_options, engine_option
from pcapflow.errors import PcapflowError
from pcapflow.flows.api import capture_blocks
from pcapflow.flows.assembler import DEFAULT_MAX_FLOWS
from pcapflow.flows.filter import parse
from pcapflow.flows.output import FORMATTERS, table_chunks
from pcapflow.flows.records import blocks_frame
from pcapflow.flows.tablecsv import flow_table, write_conn_log, write_csv, write_json_lines


@main.command("flows")
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATTERS)),
    default="table",
    show_default=True,
    help="Output format (zeek = a conn.log for zeek-cut).",
)
@click.option("--filter", "filter_text", metavar="EXPR", help='e.g. "host 10.2.1.4 and port 80".')
@engine_option
@checksum_options
@click.option(
    "--max-flows",
    type=click.IntRange(min=16),
    default=DEFAULT_MAX_FLOWS,
    show_default=True,
    help="Live flow table size; the idlest flows are evicted (and still listed) beyond it.",
)
@click.option(
    "-o", "--output", type=click.File("w"), default="-", help="Write here instead of stdout."
)
def flows(
    captures: tuple[str, ...],
    fmt: str,
    filter_text: str | None,
    engine: str,
    checksums: str,
    max_flows: int,
    output: click.utils.LazyFile,
) -> None:
    """List the TCP connections and UDP/ICMP flows of CAPTURE files (pcap, pcapng, gzip, -)."""
    jitstart.start()
    # numba's and the imports' objects live until exit: no garbage collection walks them again
    # (nor the flow table's at exit, see the end)
    gc.freeze()
    selector = parse(filter_text) if filter_text is not None else None
    if fmt in _STREAMED and selector is None and len(captures) == 1:
        _stream_one(fmt, captures[0], engine, CHECKSUM_POLICIES[checksums], max_flows, output)
        gc.freeze()
        return
    import pandas as pd

    frames = []
    evicted = 0
    for idx, path in enumerate(captures):
        blocks, asm, info = capture_blocks(
            path,
            engine=engine,
            file_idx=idx,
            packets_per_flow=0,
            ignore_checksums=CHECKSUM_POLICIES[checksums],
            max_flows=max_flows,
            digest=False,
        )
        frames.append(blocks_frame(list(blocks)))
        evicted += asm.stats.evicted
        for warning in info[0].warnings if info else ():
            click.echo(f"pcapflow: warning: {path}: {warning}", err=True)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        frame = frame.sort_values(["ts", "uid"], kind="stable").reset_index(drop=True)
    if selector is not None and len(frame):
        frame = frame[selector.mask(frame).to_numpy()].reset_index(drop=True)
    if fmt == "table":
        for chunk in table_chunks(frame):
            output.write(chunk)
    else:
        output.write(FORMATTERS[fmt](frame))
    _warn_evicted(evicted, max_flows)
    gc.freeze()  # the interpreter's exit then skips its collection of the flow table


# formats written without pandas
_STREAMED = {"csv": write_csv, "json": write_json_lines, "zeek": write_conn_log}


def _stream_one(
    fmt: str,
    path: str,
    engine: str,
    ignore_checksums: bool | None,
    max_flows: int,
    output: click.utils.LazyFile,
) -> None:
    """CSV, JSON lines or conn.log of one unfiltered capture: the flow table goes to the kernel that
    formats it without pandas, and the text to the output in pieces as it is formatted."""
    blocks, asm, info = capture_blocks(
        path,
        engine=engine,
        packets_per_flow=0,
        ignore_checksums=ignore_checksums,
        max_flows=max_flows,
        digest=False,
    )
    table = flow_table(blocks)  # (the blocks are freed as they are copied)
    for warning in info[0].warnings if info else ():
        click.echo(f"pcapflow: warning: {path}: {warning}", err=True)
    _written(lambda: _STREAMED[fmt](table, _ascii_writer(output)))
    _warn_evicted(asm.stats.evicted, max_flows)


def _ascii_writer(output: click.utils.LazyFile) -> Callable[[bytes | memoryview], object]:
    """Where ASCII text goes as bytes: straight to the output's file descriptor (after what
    its text layer holds; nothing is left buffered when a write fails), else its text layer."""
    try:
        fd = output.fileno()
        plain = "ts,".encode(output.encoding or "ascii") == b"ts,"
    except (AttributeError, OSError, ValueError, LookupError):  # (no descriptor: a test runner)
        fd, plain = -1, False
    if fd < 0 or not plain:
        return lambda piece: output.write(bytes(piece).decode("ascii"))
    output.flush()

    def write(piece: bytes | memoryview) -> None:
        view = memoryview(piece)
        while view:
            view = view[os.write(fd, view) :]

    return write


def _written(write_all: Callable[[], None]) -> None:
    """Run the writes of the output; a failed one (a full disk) is a one-line error."""
    try:
        write_all()
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise PcapflowError(f"cannot write the output: {exc.strerror or exc}") from None


def _warn_evicted(evicted: int, max_flows: int) -> None:
    if evicted:
        click.echo(
            f"pcapflow: warning: {evicted} flows evicted from the full flow table "
            f"(--max-flows {max_flows}); they are listed with the state they had",
            err=True,
        )
