"""``terraform show -json``: each provider's load balancers read by that provider's loader.

azurerm (:mod:`pcapflow.lbconfig.terraform`), aws (:mod:`pcapflow.lbconfig.terraform_aws`),
google (:mod:`pcapflow.lbconfig.terraform_gcp`) and kubernetes
(:mod:`pcapflow.lbconfig.terraform_k8s`) resources may share one state or plan; the balancers of
each are read and combined.  A document with none of them is read as azurerm, whose
loader reports that no balancer is there.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from pcapflow.lbconfig.draft import Loaded, merge
from pcapflow.lbconfig.inventory import Inventory
from pcapflow.lbconfig.problems import Document

# "module:function" of a provider's loader -> the resource types marking its balancers
PROVIDER_LOADERS: dict[str, tuple[str, ...]] = {
    "pcapflow.lbconfig.terraform_aws:load_terraform_aws": ("aws_lb",),
    "pcapflow.lbconfig.terraform_gcp:load_terraform_gcp": ("google_compute_forwarding_rule",),
    "pcapflow.lbconfig.terraform_k8s:load_terraform_k8s": (
        "kubernetes_service_v1",
        "kubernetes_service",
    ),
}
AZURE_LOADER = "pcapflow.lbconfig.terraform:load_terraform"


def _types(module: Any) -> Iterator[str]:
    if not isinstance(module, Mapping):
        return
    resources, children = module.get("resources"), module.get("child_modules")
    for raw in resources if isinstance(resources, list) else []:
        if isinstance(raw, Mapping) and isinstance(raw.get("type"), str):
            yield raw["type"]
    for child in children if isinstance(children, list) else []:
        yield from _types(child)


def resource_types(data: Any) -> set[str]:
    if not isinstance(data, Mapping):
        return set()
    values = data.get("planned_values") or data.get("values")
    return set(_types(values.get("root_module"))) if isinstance(values, Mapping) else set()


def _call(spec: str, data: Any, doc: Document, inventory: Inventory) -> Loaded:
    module_name, _, function = spec.partition(":")
    loaded: Loaded = getattr(importlib.import_module(module_name), function)(data, doc, inventory)
    return loaded


def load_terraform_any(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    types = resource_types(data)
    specs = [spec for spec, markers in PROVIDER_LOADERS.items() if types.intersection(markers)]
    if "azurerm_lb" in types or not specs:
        specs.insert(0, AZURE_LOADER)
    if len(specs) == 1:
        return _call(specs[0], data, doc, inventory)
    parts = []
    for spec in specs:  # one Document: each loader's problems are the document's so far
        before = len(doc.problems)
        part = _call(spec, data, doc, inventory)
        parts.append(Loaded(part.config, part.origins, tuple(doc.problems[before:])))
    return merge(parts)
