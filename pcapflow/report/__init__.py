"""Reports: every presentation of an :class:`~pcapflow.model.result.AnalysisResult`.

``render(result, fmt)`` looks the format up in :data:`RENDERERS` (text, json, markdown, csv,
zeek, html); ``to_dict(result)`` is the versioned JSON form whose JSON Schema ships as
``pcapflow/report/schema/result.schema.json``.  See ``docs/reports.md`` to add a format.
"""

from __future__ import annotations

from pcapflow.report import csv_ as _csv  # noqa: F401  (registers "csv")
from pcapflow.report import html as _html  # noqa: F401  (registers "html")
from pcapflow.report import json_ as _json  # noqa: F401  (registers "json")
from pcapflow.report import markdown as _markdown  # noqa: F401  (registers "markdown")
from pcapflow.report import text as _text  # noqa: F401  (registers "text")
from pcapflow.report import zeek as _zeek  # noqa: F401  (registers "zeek")
from pcapflow.report.registry import RENDERERS, RendererSpec, RenderOptions, register, render
from pcapflow.report.serialize import to_dict

__all__ = ["RENDERERS", "RenderOptions", "RendererSpec", "register", "render", "to_dict"]
