"""The batch ``index.html``: one self-contained page over every report of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pcapflow.model.result import FlowKind, Label
from pcapflow.report.facts import KIND_WORDS, tool_version, total_and_failed
from pcapflow.report.html import LABEL_COLOURS, environment


def render_index(rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as :func:`pcapflow.batch.summary_rows` makes them: the label columns count calls
    to a frontend; each other kind (probes, direct calls, ...) gets one column."""
    labels = [label.value for label in Label]
    calls = FlowKind.FRONTEND_CALL.value
    used = [lbl for lbl in labels if any(r["by_kind"][calls].get(lbl) for r in rows)]
    others = [
        (kind.value, KIND_WORDS[kind])
        for kind in FlowKind
        if kind is not FlowKind.FRONTEND_CALL
        and any(any(r["by_kind"][kind.value].values()) for r in rows)
    ]
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            rows=rows,
            labels=used,
            calls=calls,
            others=others,
            kind_cells=[[total_and_failed(r["by_kind"][kind]) for kind, _ in others] for r in rows],
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
