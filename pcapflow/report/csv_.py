"""The ``csv`` format: one row per flow (Zeek-like columns, then pcapflow's diagnosis)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any

from pcapflow.model.result import AnalysisResult
from pcapflow.report.registry import RenderOptions, register, streams
from pcapflow.report.serialize import FLOW_FIELDS, FLOW_RESULT_FIELDS, flow_dict

LIST_SEPARATOR = " "
COLUMNS: tuple[str, ...] = ("id", *FLOW_FIELDS, "label", "paired_with", *FLOW_RESULT_FIELDS)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(v) for v in value)
    return "" if value is None else value


ROWS_PER_CHUNK = 5_000


@register("csv", extension="csv", media_type="text/csv", description="one row per flow")
def render_csv(result: AnalysisResult, options: RenderOptions) -> str:
    return "".join(csv_chunks(result, options))


@streams("csv")
def csv_chunks(result: AnalysisResult, options: RenderOptions) -> Iterator[str]:
    """The header, then the rows a few thousand at a time."""
    flows = iter(result.flows)
    first = True
    while True:
        rows = [flow_dict(f) for f in itertools.islice(flows, ROWS_PER_CHUNK)]
        if not rows and not first:
            return
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        if first:
            writer.writeheader()
            first = False
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        yield out.getvalue()
