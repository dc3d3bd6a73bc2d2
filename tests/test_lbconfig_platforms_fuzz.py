"""Damaged AWS, gcloud, kubectl and Terraform (aws, google) documents: a ConfigError or problems,
never another exception; and every problem names its file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcapflow.errors import ConfigError
from pcapflow.lbconfig.checks import check_loaded
from pcapflow.lbconfig.loader import INTERNAL_ERROR, load_parsed, parse_text
from pcapflow.lbconfig.problems import raise_first

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"
SETS: dict[str, list[tuple[str, Any]]] = {
    name: [(p.name, json.loads(p.read_text())) for p in sorted((FIX / name).glob("*.json"))]
    for name in ("aws", "gcloud", "gcloud-neg", "kubectl")
}
SETS.update(
    {
        p.name: [(p.name, json.loads(p.read_text()))]
        for p in sorted((FIX / "terraform").glob("*.json"))
    }
)

_junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 70000),
        st.sampled_from(
            ["", "TCP", "TCP_UDP", "INTERNAL", "ip", "instance", "10.2.1.4", "fd00::1", "web"]
        ),
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


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SETS)), st.data())
def test_damaged_platform_documents_never_raise_anything_but_config_error(
    name: str, data: Any
) -> None:
    docs = copy.deepcopy(SETS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(docs) - 1))
        file, doc = docs[i]
        path = data.draw(st.sampled_from(_paths(doc)))
        docs[i] = (file, _replace(doc, path, data.draw(_junk)))
    fmt = None if name.endswith(".json") else name.split("-")[0]
    try:
        parsed = [parse_text(json.dumps(doc), file, fmt) for file, doc in docs]
        loaded = load_parsed(parsed)
        problems = [*loaded.problems, *check_loaded(loaded)]
        files = {file for file, _ in docs}
        assert all(p.file in files for p in problems)
        raise_first(problems)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        assert INTERNAL_ERROR not in str(exc)  # the safety net must never be needed
