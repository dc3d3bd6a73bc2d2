"""Presentation of a flow DataFrame: terminal table, CSV, JSON lines and Zeek ``conn.log``.

The ``zeek`` format is a real Zeek ASCII log: ``#separator \\x09`` and the other header lines,
``#fields``/``#types`` of Zeek's 22 standard conn.log columns (``ip_proto`` last), ``-`` for unset
fields, ``ts``/``duration`` with 6 decimals, ``duration``/``orig_bytes``/``resp_bytes`` unset for
zero-length connections and ``history`` unset when empty, as Zeek writes them.  ``#open`` and
``#close`` carry the first and last flow times (UTC) instead of the wall clock, so output is
deterministic; ``zeek-cut`` ignores both lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.csvwrite import frame_csv
from pcapflow.flows.tablecsv import flow_table, write_csv
from pcapflow.flows.zeeklog import CONN_FIELDS, UNSET, footer, header

if TYPE_CHECKING:  # pandas is imported where it is used (the csv path never needs it)
    import pandas as pd


def zeek_conn_log(frame: pd.DataFrame) -> str:
    """The flows as a Zeek conn.log (TSV with Zeek's header lines)."""
    import pandas as pd

    instant = (frame["duration"] <= 0).to_numpy()
    cols: dict[str, list[str] | pd.Series] = {}
    cols["ts"] = frame["ts"].map("{:.6f}".format)
    cols["uid"] = frame["uid"]
    for name in ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"):
        cols[name] = frame[name].astype(str)
    cols["service"] = [UNSET] * len(frame)
    cols["duration"] = pd.Series(
        np.where(instant, UNSET, frame["duration"].map("{:.6f}".format)), index=frame.index
    )
    for name in ("orig_bytes", "resp_bytes"):
        cols[name] = pd.Series(np.where(instant, UNSET, frame[name].astype(str)), index=frame.index)
    cols["conn_state"] = frame["conn_state"]
    cols["local_orig"] = [UNSET] * len(frame)
    cols["local_resp"] = [UNSET] * len(frame)
    cols["missed_bytes"] = frame["missed_bytes"].astype(str)
    cols["history"] = frame["history"].replace("", UNSET)
    for name in ("orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"):
        cols[name] = frame[name].astype(str)
    cols["tunnel_parents"] = [UNSET] * len(frame)
    cols["ip_proto"] = frame["ip_proto"].astype(str)
    body = pd.DataFrame({name: cols[name] for name in CONN_FIELDS})
    first = float(frame["ts"].min()) if len(frame) else 0.0
    last = float(frame["last_ts"].max()) if len(frame) else 0.0
    lines = header(first)
    text = "\n".join(lines) + "\n"
    if len(body):
        text += body.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    return text + footer(last) + "\n"


def flows_csv(frame: pd.DataFrame) -> str:
    """All DataFrame columns as CSV (Zeek names first, pcapflow's additions after)."""
    return frame_csv(frame)


def blocks_csv(blocks: Iterable[FlowBlock]) -> str:
    """``flows_csv(blocks_frame(blocks))`` without pandas (the same text, sooner); see
    :mod:`pcapflow.flows.tablecsv`, which also writes it in pieces."""
    pieces: list[bytes] = []
    write_csv(flow_table(blocks), lambda piece: pieces.append(bytes(piece)))
    return b"".join(pieces).decode("ascii")


def flows_json(frame: pd.DataFrame) -> str:
    """One JSON object per flow and line (as Zeek's JSON logs), nulls for unset values."""
    import pandas as pd

    out = []
    for record in frame.to_dict("records"):
        clean = {
            k: (None if v is pd.NA or (isinstance(v, float) and v != v) else v)
            for k, v in record.items()
        }
        out.append(json.dumps(clean, default=int))
    return "\n".join(out) + ("\n" if out else "")


def _endpoint_texts(hosts: list[str], ports: list[int], protos: list[str]) -> list[str]:
    out = []
    for host, port, proto in zip(hosts, ports, protos, strict=True):
        if proto in ("tcp", "udp"):
            out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        elif proto == "icmp":
            out.append(f"{host} ({port})")
        else:
            out.append(host)
    return out


def flows_table(frame: pd.DataFrame) -> str:
    """A readable terminal table: one line per flow."""
    return "".join(table_chunks(frame))


def table_chunks(frame: pd.DataFrame, rows: int = 20000) -> Iterator[str]:
    """:func:`flows_table` in pieces of ``rows`` lines (to stream large tables)."""
    micros = (frame["ts"].to_numpy() * 1e6).round().astype("int64").astype("datetime64[us]")
    protos = frame["proto"].tolist()
    columns: dict[str, list[str]] = {
        "TIME (UTC)": [t.replace("T", " ") for t in np.datetime_as_string(micros, unit="us")],
        "UID": frame["uid"].tolist(),
        "PROTO": protos,
        "ORIGINATOR": _endpoint_texts(
            frame["id.orig_h"].tolist(), frame["id.orig_p"].tolist(), protos
        ),
        "RESPONDER": _endpoint_texts(
            frame["id.resp_h"].tolist(), frame["id.resp_p"].tolist(), protos
        ),
        "STATE": frame["conn_state"].tolist(),
        "HISTORY": [h or "-" for h in frame["history"].tolist()],
        "PKTS o/r": [
            f"{o}/{r}"
            for o, r in zip(frame["orig_pkts"].tolist(), frame["resp_pkts"].tolist(), strict=True)
        ],
        "BYTES o/r": [
            f"{o}/{r}"
            for o, r in zip(frame["orig_bytes"].tolist(), frame["resp_bytes"].tolist(), strict=True)
        ],
        "DURATION": [f"{d:.3f}s" for d in frame["duration"].tolist()],
    }
    widths = [max([len(name), *map(len, col)]) for name, col in columns.items()]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    yield line.format(*columns).rstrip() + "\n"
    body = zip(*columns.values(), strict=True)
    while chunk := [line.format(*row).rstrip() for row in islice(body, rows)]:
        yield "\n".join(chunk) + "\n"
    yield f"{len(frame)} flow{'s' if len(frame) != 1 else ''}\n"


FORMATTERS: dict[str, Callable[[pd.DataFrame], str]] = {
    "table": flows_table,
    "csv": flows_csv,
    "json": flows_json,
    "zeek": zeek_conn_log,
}
