"""The ``zeek`` format: the flows as a Zeek ``conn.log`` (TSV, Zeek's header lines and types).

Columns are Zeek 6+'s 22 standard ``conn.log`` columns (``ip_proto`` last).  ``#open`` and
``#close`` hold the first and last packet times (UTC) rather than the wall clock, so the same
capture always gives the same bytes.  As Zeek does, ``duration``/``orig_bytes``/``resp_bytes`` are
unset (``-``) for a zero-length connection and ``local_orig``/``local_resp`` are unset when no local
networks are declared.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from pcapflow.flows.zeeklog import CONN_FIELDS, EMPTY, UNSET, footer, header
from pcapflow.model.flow import Flow
from pcapflow.model.result import AnalysisResult
from pcapflow.report.registry import RenderOptions, register, streams

IP_PROTO = {"tcp": 6, "udp": 17}
UNSET_WHEN_INSTANT = ("duration", "orig_bytes", "resp_bytes")


def _value(value: object) -> str:
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:.6f}"
    text = str(value)
    return text if text else EMPTY


def _ip_proto(flow: Flow) -> int:
    if flow.proto == "icmp":
        return 58 if ":" in flow.orig_h else 1
    return IP_PROTO.get(flow.proto, 0)


def conn_row(flow: Flow) -> list[str]:
    row = dict(flow.zeek_row())
    if flow.duration <= 0:
        row.update(dict.fromkeys(UNSET_WHEN_INSTANT))
    row["ip_proto"] = _ip_proto(flow)
    return [_value(row[name]) for name in CONN_FIELDS]


def conn_log(flows: Iterable[Flow]) -> str:
    flows = list(flows)
    first = min((f.ts for f in flows), default=None)
    last = max((f.last_ts for f in flows), default=None)
    rows = ["\t".join(conn_row(f)) for f in flows]
    return "\n".join([*header(first), *rows, footer(last)]) + "\n"


@register("zeek", extension="log", media_type="text/plain", description="flows as Zeek conn.log")
def render_zeek(result: AnalysisResult, options: RenderOptions) -> str:
    return conn_log(f.flow for f in result.flows)


ROWS_PER_CHUNK = 5_000


@streams("zeek")
def zeek_chunks(result: AnalysisResult, options: RenderOptions) -> Iterator[str]:
    """:func:`render_zeek` a few thousand rows at a time (the flows are read twice: the header
    names the first and the last packet time)."""
    if not result.flows:
        yield render_zeek(result, options)
        return
    first = min(f.flow.ts for f in result.flows)
    last = max(f.flow.last_ts for f in result.flows)
    yield "\n".join(header(first)) + "\n"
    flows = iter(result.flows)
    while rows := ["\t".join(conn_row(f.flow)) for f in itertools.islice(flows, ROWS_PER_CHUNK)]:
        yield "\n".join(rows) + "\n"
    yield footer(last) + "\n"
