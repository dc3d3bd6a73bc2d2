"""The ``json`` format: :func:`~pcapflow.report.serialize.to_dict`, indented, with its schema."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

from pcapflow.model.result import AnalysisResult, FlowResult
from pcapflow.report.registry import RenderOptions, register, streams
from pcapflow.report.serialize import flow_dict, to_dict

SCHEMA_RESOURCE = "schema/result.schema.json"


@register(
    "json",
    extension="json",
    media_type="application/json",
    description="the whole result, versioned (schema: pcapflow/report/schema/result.schema.json)",
)
def render_json(result: AnalysisResult, options: RenderOptions) -> str:
    return "".join(json_chunks(result, options))


FLOWS_AT = '\n  "flows": []'  # where the flow list goes in the top-level object (indent 2)
ROW_INDENT = "    "  # a flow object is two levels deep


@streams("json")
def json_chunks(result: AnalysisResult, options: RenderOptions) -> Iterator[str]:
    """The JSON text, the flow list a block of rows at a time (background flows kept in a
    table are written from their columns, never made into objects; see
    :func:`pcapflow.flows.table.background_json_rows`)."""
    text = json.dumps(to_dict(result, flows=False), indent=2, ensure_ascii=False, allow_nan=False)
    head, tail = text.split(FLOWS_AT, 1)
    yield head
    if not result.flows:
        yield FLOWS_AT
    else:
        yield FLOWS_AT[:-1] + "\n"
        first = True
        for rows in _flow_rows(result.flows):
            yield ("" if first else ",\n") + rows
            first = False
        yield "\n  ]"
    yield tail + "\n"


def _flow_rows(flows: Sequence[FlowResult]) -> Iterator[str]:
    """The flow objects' JSON, a block of rows (joined by ``,\\n``) at a time."""
    runs = getattr(flows, "runs", None)
    if runs is None:
        for start in range(0, len(flows), 10_000):
            yield ",\n".join(_row(f) for f in flows[start : start + 10_000])
        return
    from pcapflow.flows.table import background_json_rows

    for source, start, stop in runs():
        if source is None:
            yield ",\n".join(_row(flows[i]) for i in range(start, stop))
        else:
            row = flows.table_row(start)  # type: ignore[attr-defined]
            yield background_json_rows(source, row, row + stop - start, depth=2)


def _row(flow: FlowResult) -> str:
    text = json.dumps(flow_dict(flow), indent=2, ensure_ascii=False, allow_nan=False)
    return ROW_INDENT + text.replace("\n", "\n" + ROW_INDENT)


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``json`` format."""
    text = resources.files("pcapflow.report").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
