"""ARM templates (and ``az group export``): load balancers, NICs, VMs, virtual networks.

Parameters take their value from a parameters file given alongside (``azuredeploy.parameters.json``)
or their ``defaultValue``; variables, ``copy`` loops (resource and property), ``condition`` and
nested child resources are expanded with :mod:`pcapflow.lbconfig.arm_expr`.  NIC-based pool
membership, declared on the NICs in templates, is joined to the pools.  Anything that depends on
the deployment is reported with the expression that could not be resolved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pcapflow.lbconfig.arm_expr import MAX_COPY, Scope, TemplateTooCostly, evaluate_value
from pcapflow.lbconfig.azure import read_lb
from pcapflow.lbconfig.azure_ids import flat, get
from pcapflow.lbconfig.draft import LbDraft, Loaded, assemble
from pcapflow.lbconfig.inventory import Inventory
from pcapflow.lbconfig.node import SOURCE_POINTER, Node, Unresolved
from pcapflow.lbconfig.problems import Document, Severity, pointer_join

LB_TYPE = "microsoft.network/loadbalancers"
NIC_TYPE = "microsoft.network/networkinterfaces"
VM_TYPE = "microsoft.compute/virtualmachines"
VNET_TYPE = "microsoft.network/virtualnetworks"
SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets"
PUBLIC_IP_TYPE = "microsoft.network/publicipaddresses"
DEPLOYMENT_TYPE = "microsoft.resources/deployments"

# separately declared children of a balancer -> the property list they belong to
LB_CHILD_LISTS = {
    "microsoft.network/loadbalancers/backendaddresspools": "backendAddressPools",
    "microsoft.network/loadbalancers/inboundnatrules": "inboundNatRules",
    "microsoft.network/loadbalancers/frontendipconfigurations": "frontendIPConfigurations",
    "microsoft.network/loadbalancers/loadbalancingrules": "loadBalancingRules",
    "microsoft.network/loadbalancers/probes": "probes",
    "microsoft.network/loadbalancers/outboundrules": "outboundRules",
}
RELEVANT_TYPES = frozenset(
    {LB_TYPE, NIC_TYPE, VM_TYPE, VNET_TYPE, SUBNET_TYPE, PUBLIC_IP_TYPE, DEPLOYMENT_TYPE}
    | set(LB_CHILD_LISTS)
)
_SKIPPED_KEYS = frozenset({"resources", "copy", "dependson", "condition", "comments"})


@dataclass
class Resource:
    """One template resource after expression evaluation."""

    type: str  # full type, e.g. Microsoft.Network/loadBalancers/backendAddressPools
    name: str  # full name, e.g. ilb/bepool
    body: dict[str, Any]
    pointer: str

    @property
    def kind(self) -> str:
        return self.type.casefold()

    @property
    def id(self) -> str:
        """The ``/providers/...`` ID ``resourceId()`` gives for this resource."""
        parts = self.type.split("/")
        names = self.name.split("/")
        path = "/".join(f"{t}/{n}" for t, n in zip(parts[1:], names, strict=False))
        return f"/providers/{parts[0]}/{path}"


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Each parameter's value: a parameters file entry, else ``defaultValue``, else unresolved."""
    values: dict[str, Any] = {}
    definitions = template.get("parameters") or {}
    if not isinstance(definitions, Mapping):
        return values
    lowered = {k.casefold(): v for k, v in overrides.items()}
    for name, definition in definitions.items():
        if name.casefold() in lowered:
            values[name] = lowered[name.casefold()]
        elif isinstance(definition, Mapping) and "defaultValue" in definition:
            values[name] = definition["defaultValue"]
        else:
            values[name] = Unresolved(
                f"[parameters('{name}')]", "has no defaultValue; pass a parameters file"
            )
    return values


class _Expander:
    def __init__(self, doc: Document, scope: Scope) -> None:
        self.doc = doc
        self.scope = scope

    def expand(
        self, resources: Any, pointer: str, scope: Scope, parent: Resource | None = None
    ) -> Iterator[Resource]:
        items: list[tuple[str, Any]]
        if isinstance(resources, Mapping):  # languageVersion 2.0: symbolic names
            items = [(pointer_join(pointer, k), v) for k, v in resources.items()]
        elif isinstance(resources, list):
            items = [(pointer_join(pointer, i), v) for i, v in enumerate(resources)]
        else:
            self.doc.report(pointer, "resources is not a list")
            return
        for at, raw in items:
            if not isinstance(raw, Mapping) or raw.get("existing") is True:
                continue
            for loop_scope in self.copies(raw, at, scope):
                yield from self.resource(raw, at, loop_scope, parent)

    def copies(self, raw: Mapping[str, Any], at: str, scope: Scope) -> list[Scope]:
        loop = raw.get("copy")
        if not isinstance(loop, Mapping):
            return [scope]
        count = evaluate_value(loop.get("count"), scope)
        name = str(loop.get("name", ""))
        if not isinstance(count, int) or isinstance(count, bool):
            self.doc.report(
                pointer_join(at, "copy", "count"),
                f"cannot resolve the copy count: {count}",
            )
            return []
        if not 0 <= count <= MAX_COPY:
            self.doc.report(
                pointer_join(at, "copy", "count"), f"copy count {count} is outside 0..{MAX_COPY}"
            )
            return []
        return [scope.with_copy(name, i) for i in range(count)]

    def resource(
        self, raw: Mapping[str, Any], at: str, scope: Scope, parent: Resource | None
    ) -> Iterator[Resource]:
        if "condition" in raw:
            condition = evaluate_value(raw["condition"], scope)
            if isinstance(condition, Unresolved):
                self.doc.report(
                    pointer_join(at, "condition"), f"cannot resolve condition {condition}"
                )
                return
            if not condition:
                return
        rtype = evaluate_value(raw.get("type"), scope)
        if not isinstance(rtype, str):
            self.doc.report(at, f"cannot resolve the resource type {rtype}", Severity.WARNING)
            return
        if parent is not None and "/" not in rtype and "." not in rtype:  # nested child
            rtype = f"{parent.type}/{rtype}"
        if rtype.casefold() not in RELEVANT_TYPES:
            return  # storage accounts, bastions ...: nothing pcapflow needs
        name = evaluate_value(raw.get("name"), scope)
        if not isinstance(name, str):
            self.doc.report(pointer_join(at, "name"), f"cannot resolve the {rtype} name {name}")
            return
        if parent is not None and name.count("/") < rtype.count("/") - 1:
            name = f"{parent.name}/{name}"
        body = {
            k: evaluate_value(v, scope) for k, v in raw.items() if k.casefold() not in _SKIPPED_KEYS
        }
        body["name"] = name.rsplit("/", 1)[-1]
        resource = Resource(rtype, name, body, at)
        yield resource
        if "resources" in raw:
            yield from self.expand(raw["resources"], pointer_join(at, "resources"), scope, resource)


def load_arm(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    """An ARM template -> the load balancers it declares (NICs/VMs/VNets feed the inventory)."""
    try:
        return _load_arm(data, doc, inventory)
    except TemplateTooCostly as exc:
        raise doc.fail("", str(exc)) from None


def _load_arm(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    if not isinstance(data, Mapping):
        raise doc.fail("", "an ARM template is a JSON object")
    variables = data.get("variables") or {}
    scope = Scope(
        parameter_values(data, inventory.template_parameters),
        dict(variables) if isinstance(variables, Mapping) else {},
    )
    resources = list(_Expander(doc, scope).expand(data.get("resources", []), "/resources", scope))
    for res in resources:
        if res.kind == DEPLOYMENT_TYPE:
            doc.report(
                res.pointer,
                f"nested deployment {res.name!r} is not read; load its template separately",
                Severity.WARNING,
            )
    _feed_inventory(resources, doc, inventory)
    balancers = _balancers(resources)
    drafts: list[LbDraft] = []
    for res in balancers:
        drafts.append(read_lb(Node(res.body, res.pointer, doc), inventory, lb_id=res.id))
    if not balancers and not doc.problems:
        doc.report("/resources", "the template declares no Microsoft.Network/loadBalancers")
    return assemble(drafts, doc.problems, doc.name)


def _feed_inventory(resources: list[Resource], doc: Document, inventory: Inventory) -> None:
    for res in resources:
        body = flat(res.body)
        if res.kind == VNET_TYPE:
            subnets = get(body, "subnets", default=[])
            for sub in subnets if isinstance(subnets, list) else []:
                sub_flat = flat(sub)
                sub_name = get(sub_flat, "name")
                if isinstance(sub_name, str):
                    inventory.add_subnet(sub_flat, f"{res.id}/subnets/{sub_name}")
        elif res.kind == SUBNET_TYPE:
            inventory.add_subnet(body, res.id)
        elif res.kind == VM_TYPE:
            inventory.add_vm(body, res.id)
        elif res.kind == PUBLIC_IP_TYPE:
            inventory.add_public_ip(body, res.id)
    for res in resources:  # NICs last: VMs name their NICs, --nic documents were read first
        if res.kind == NIC_TYPE:
            inventory.add_nic(res.body, doc, res.pointer, nic_id=res.id)


def _balancers(resources: list[Resource]) -> list[Resource]:
    """Balancer resources with their separately declared children merged into ``properties``."""
    balancers = [r for r in resources if r.kind == LB_TYPE]
    by_name = {r.name.casefold(): r for r in balancers}
    for res in resources:
        key = LB_CHILD_LISTS.get(res.kind)
        owner = by_name.get(res.name.split("/", 1)[0].casefold()) if key else None
        if key is None or owner is None:
            continue
        props = owner.body.setdefault("properties", {})
        items = props.setdefault(key, [])
        if isinstance(items, list):
            child = dict(res.body)
            child["name"] = res.name.split("/", 1)[-1]
            child[SOURCE_POINTER] = res.pointer  # problems point at the separate resource
            items[:] = [
                i for i in items if not (isinstance(i, Mapping) and i.get("name") == child["name"])
            ]
            items.append(child)
    return balancers
