"""Zeek's ``conn.log`` layout, in one place: columns, types and the TSV header lines.

Both writers of a conn.log use it: ``pcapflow flows --format zeek`` (from the flow table) and the
``zeek`` report format (from an analysis).  ``#open``/``#close`` carry the first and last packet
times (UTC), not the wall clock, so the same capture always gives the same bytes.
"""

from __future__ import annotations

import time

from pcapflow.model.flow import ZEEK_FIELDS

CONN_FIELDS: tuple[str, ...] = (*ZEEK_FIELDS, "ip_proto")
CONN_TYPES: dict[str, str] = {
    "ts": "time", "uid": "string", "id.orig_h": "addr", "id.orig_p": "port",
    "id.resp_h": "addr", "id.resp_p": "port", "proto": "enum", "service": "string",
    "duration": "interval", "orig_bytes": "count", "resp_bytes": "count",
    "conn_state": "string", "local_orig": "bool", "local_resp": "bool",
    "missed_bytes": "count", "history": "string", "orig_pkts": "count",
    "orig_ip_bytes": "count", "resp_pkts": "count", "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]", "ip_proto": "count",
}  # fmt: skip
UNSET, EMPTY = "-", "(empty)"


def stamp(ts: float | None) -> str:
    """Zeek's ``#open``/``#close`` time format (UTC)."""
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(ts or 0))


def header(first_ts: float | None) -> list[str]:
    """The header lines of a conn.log whose first packet is at ``first_ts``."""
    return [
        "#separator \\x09",
        "#set_separator\t,",
        f"#empty_field\t{EMPTY}",
        f"#unset_field\t{UNSET}",
        "#path\tconn",
        f"#open\t{stamp(first_ts)}",
        "#fields\t" + "\t".join(CONN_FIELDS),
        "#types\t" + "\t".join(CONN_TYPES[name] for name in CONN_FIELDS),
    ]


def footer(last_ts: float | None) -> str:
    """The closing line of a conn.log whose last packet is at ``last_ts``."""
    return f"#close\t{stamp(last_ts)}"
