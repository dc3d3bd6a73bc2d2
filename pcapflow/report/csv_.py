"""The ``csv`` format: one row per flow (Zeek-like columns, then pcapflow's diagnosis)."""

from __future__ import annotations

import csv
import io
from typing import Any

from pcapflow.model.result import AnalysisResult
from pcapflow.report.registry import RenderOptions, register
from pcapflow.report.serialize import FLOW_FIELDS, FLOW_RESULT_FIELDS, flow_dict

LIST_SEPARATOR = " "
COLUMNS: tuple[str, ...] = ("id", *FLOW_FIELDS, "label", "paired_with", *FLOW_RESULT_FIELDS)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(v) for v in value)
    return "" if value is None else value


@register("csv", extension="csv", media_type="text/csv", description="one row per flow")
def render_csv(result: AnalysisResult, options: RenderOptions) -> str:
    rows = [flow_dict(f) for f in result.flows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()
