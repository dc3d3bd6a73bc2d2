"""Damaged documents of every format give a ConfigError or problems, never another exception."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load_text, validate_text
from pcapflow.lbconfig.loader import INTERNAL_ERROR

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"
EXAMPLE = Path(__file__).resolve().parents[1] / "pcapflow" / "lbconfig" / "example.yaml"
DOCUMENTS = {
    "az-lb-show.json": json.loads((FIX / "az-lb-show.json").read_text()),
    "az-lb-show-legacy.json": json.loads((FIX / "az-lb-show-legacy.json").read_text()),
    "az-rest-nested-haports.json": json.loads((FIX / "az-rest-nested-haports.json").read_text()),
    "arm-seed-template.json": json.loads((FIX / "arm-seed-template.json").read_text()),
    "arm-legacy-concat.json": json.loads((FIX / "arm-legacy-concat.json").read_text()),
    "tf-state.json": json.loads((FIX / "tf-state.json").read_text()),
    "tf-plan.json": json.loads((FIX / "tf-plan.json").read_text()),
    "example.yaml": yaml.safe_load(EXAMPLE.read_text()),
}

_junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 70000),
        st.sampled_from(["", "Tcp", "All", "10.2.1.4", "fd00::1", "[parameters('x')]", "/a/b"]),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(DOCUMENTS)), st.data())
def test_damaged_documents_never_raise_anything_but_config_error(name: str, data: Any) -> None:
    doc = copy.deepcopy(DOCUMENTS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        doc = _replace(doc, path, data.draw(_junk))
    text = json.dumps(doc)
    for action in (load_text, validate_text):
        try:
            action(text, name=name)
        except ConfigError as exc:
            assert "\n" not in str(exc)
            assert INTERNAL_ERROR not in str(exc)  # the safety net must never be needed
