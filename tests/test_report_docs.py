"""The report docs cannot fall behind the code: formats, schema fields, the published schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pcapflow.report import RENDERERS
from pcapflow.report.json_ import schema

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _field_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        names |= set(node.get("properties", {}))
        for value in node.values():
            names |= _field_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _field_names(value)
    return names


def test_every_registered_format_is_documented_with_its_extension() -> None:
    text = (DOCS / "reports.md").read_text()
    for name, spec in RENDERERS.items():
        assert f"| `{name}` | `.{spec.extension}` |" in text, name


def test_every_schema_field_is_documented() -> None:
    text = (DOCS / "output-schema.md").read_text().split("## JSON Schema")[0]
    missing = sorted(f for f in _field_names(schema()) if f"`{f}`" not in text)
    assert missing == []


def test_the_published_schema_is_the_shipped_one() -> None:
    text = (DOCS / "output-schema.md").read_text()
    block = re.search(r"## JSON Schema\s+```json\n(.*?)```", text, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == schema()
