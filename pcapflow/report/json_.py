"""The ``json`` format: :func:`~pcapflow.report.serialize.to_dict`, indented, with its schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pcapflow.model.result import AnalysisResult
from pcapflow.report.registry import RenderOptions, register
from pcapflow.report.serialize import to_dict

SCHEMA_RESOURCE = "schema/result.schema.json"


@register(
    "json",
    extension="json",
    media_type="application/json",
    description="the whole result, versioned (schema: pcapflow/report/schema/result.schema.json)",
)
def render_json(result: AnalysisResult, options: RenderOptions) -> str:
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``json`` format."""
    text = resources.files("pcapflow.report").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
