"""The batch ``index.html``: one self-contained page over every report of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pcapflow.model.result import Label
from pcapflow.report.facts import tool_version
from pcapflow.report.html import LABEL_COLOURS, environment


def render_index(rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as :func:`pcapflow.batch.summary_rows` makes them."""
    labels = [label.value for label in Label]
    used = [lbl for lbl in labels if any(r["counts"].get(lbl) for r in rows)]
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            rows=rows,
            labels=used,
            label_colours={label.value: c for label, c in LABEL_COLOURS.items()},
            totals={
                "reports": len(rows),
                "failing": sum(1 for r in rows if r["findings"]),
                "healthy": sum(1 for r in rows if r["verdict"] == "healthy"),
                "no_traffic": sum(1 for r in rows if r["verdict"] == "no traffic"),
                "warnings": sum(1 for r in rows if r["warnings"]),
                "errors": sum(1 for r in rows if r["error"]),
            },
            version=tool_version(),
        )
    )
