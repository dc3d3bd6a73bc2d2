"""Terraform ``terraform show -json`` output (state or plan) with azurerm resources.

State: ``values.root_module`` (and ``child_modules``); plan: ``planned_values.root_module``.  The
azurerm resources (``azurerm_lb``, ``_lb_rule``, ``_lb_probe``, ``_lb_nat_rule``,
``_lb_outbound_rule``, ``_lb_backend_address_pool``, ``_lb_backend_address_pool_address``,
``azurerm_network_interface_backend_address_pool_association``, NICs, VMs, subnets, public IPs) are
joined by ID; in a plan, where IDs are not known yet, by the references recorded in
``configuration`` (``count.index``/``each.key`` pair instances of the same index).  The joined
balancer is rebuilt in the REST shape, with pointers back to the Terraform attributes, and read by
the same code as ``az`` output.  Values a plan only knows after apply are reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pcapflow.lbconfig.azure import read_lb
from pcapflow.lbconfig.azure_ids import id_key
from pcapflow.lbconfig.draft import Loaded, assemble
from pcapflow.lbconfig.inventory import Inventory
from pcapflow.lbconfig.node import SOURCE_FIELDS, SOURCE_POINTER, Node
from pcapflow.lbconfig.problems import Document, Severity, pointer_join

LB = "azurerm_lb"
RULE = "azurerm_lb_rule"
PROBE = "azurerm_lb_probe"
POOL = "azurerm_lb_backend_address_pool"
POOL_ADDRESS = "azurerm_lb_backend_address_pool_address"
NAT_RULE = "azurerm_lb_nat_rule"
OUTBOUND = "azurerm_lb_outbound_rule"
NIC = "azurerm_network_interface"
NIC_POOL = "azurerm_network_interface_backend_address_pool_association"
NIC_NAT = "azurerm_network_interface_nat_rule_association"
SUBNET = "azurerm_subnet"
VNET = "azurerm_virtual_network"
PUBLIC_IP = "azurerm_public_ip"
VM_OS = {
    "azurerm_linux_virtual_machine": "Linux",
    "azurerm_windows_virtual_machine": "Windows",
    "azurerm_virtual_machine": None,  # os from storage_os_disk / os_profile_*_config
}

# Azure resource type of the synthesized ID of a resource whose ID a plan does not know yet
AZURE_TYPES = {
    LB: "Microsoft.Network/loadBalancers",
    NIC: "Microsoft.Network/networkInterfaces",
    PUBLIC_IP: "Microsoft.Network/publicIPAddresses",
    **{t: "Microsoft.Compute/virtualMachines" for t in VM_OS},
}

# azurerm attribute -> REST key, for rules, probes and NAT rules (first present attribute wins)
RULE_FIELDS = {
    "protocol": ("protocol",),
    "frontendPort": ("frontend_port",),
    "backendPort": ("backend_port",),
    "enableFloatingIP": ("floating_ip_enabled", "enable_floating_ip"),
    "enableTcpReset": ("tcp_reset_enabled", "enable_tcp_reset"),
    "idleTimeoutInMinutes": ("idle_timeout_in_minutes",),
    "loadDistribution": ("load_distribution",),
    "disableOutboundSnat": ("disable_outbound_snat",),
}
PROBE_FIELDS = {
    "protocol": ("protocol",),
    "port": ("port",),
    "requestPath": ("request_path",),
    "intervalInSeconds": ("interval_in_seconds",),
    "numberOfProbes": ("number_of_probes",),
    "probeThreshold": ("probe_threshold",),
}
NAT_FIELDS = {
    "protocol": ("protocol",),
    "frontendPort": ("frontend_port",),
    "backendPort": ("backend_port",),
    "frontendPortRangeStart": ("frontend_port_start",),
    "frontendPortRangeEnd": ("frontend_port_end",),
    "enableFloatingIP": ("floating_ip_enabled", "enable_floating_ip"),
    "enableTcpReset": ("tcp_reset_enabled", "enable_tcp_reset"),
    "idleTimeoutInMinutes": ("idle_timeout_in_minutes",),
}
TERRAFORM_PROBE_DEFAULTS = {"intervalInSeconds": 15, "numberOfProbes": 2}


@dataclass
class TfResource:
    address: str  # full address, e.g. module.web.azurerm_lb.ilb[0]
    module: str  # "" or "module.web"
    type: str
    name: str
    index: Any
    values: dict[str, Any]
    pointer: str
    data: bool = False  # a data source

    @property
    def base(self) -> str:
        """Module-relative address without the instance key (what configuration refers to)."""
        return f"{'data.' if self.data else ''}{self.type}.{self.name}"

    def at(self, attr: str, *more: str | int) -> str:
        return pointer_join(self.pointer, "values", attr, *more)

    def get(self, *attrs: str) -> Any:
        for attr in attrs:
            if self.values.get(attr) is not None:
                return self.values[attr]
        return None


@dataclass
class _State:
    doc: Document
    resources: list[TfResource]
    configuration: dict[str, dict[str, Any]]  # "module.x.type.name" -> config resource
    by_id: dict[str, TfResource] = field(default_factory=dict)
    _of_type: dict[str, list[TfResource]] = field(default_factory=dict)
    # (type, attribute) -> what the attribute links to -> resources (linear, not type x balancers)
    _pointing: dict[tuple[str, str], dict[object, list[TfResource]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for res in self.resources:
            rid = res.values.get("id")
            if isinstance(rid, str) and rid:
                self.by_id[id_key(rid)] = res
            self._of_type.setdefault(res.type, []).append(res)

    def of_type(self, rtype: str) -> list[TfResource]:
        return self._of_type.get(rtype, [])

    def pointing_to(
        self, rtype: str, attr: str, target: TfResource | None, target_id: str | None
    ) -> list[TfResource]:
        """Resources of ``rtype`` whose ``attr`` links to ``target`` (the resource of this
        document) or to ``target_id`` (its ID), in document order; ``target=None`` and
        ``target_id=None``: those whose link is unknown."""
        index = self._pointing.get((rtype, attr))
        if index is None:
            index = {}
            for res in self.of_type(rtype):
                index.setdefault(_link_key(self.link(res, attr)), []).append(res)
            self._pointing[(rtype, attr)] = index
        if target is None and target_id is None:
            return index.get(None, [])
        hits = index.get(id(target), []) if target is not None else []
        if target_id is not None:
            hits = hits + index.get(id_key(target_id), [])
        order = {id(r): i for i, r in enumerate(self.of_type(rtype))} if len(hits) > 1 else {}
        return sorted(hits, key=lambda r: order.get(id(r), 0))

    def resource_id(self, res: TfResource) -> str:
        """The Azure ID of ``res``: known, or synthesized from its type and name (plans)."""
        rid = res.values.get("id")
        if isinstance(rid, str) and rid:
            return rid
        name = res.values.get("name") or res.name
        if res.type == SUBNET:
            vnet = res.values.get("virtual_network_name") or "unknown-vnet"
            return f"/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}"
        return f"/providers/{AZURE_TYPES.get(res.type, res.type)}/{name}"

    # ---- following references --------------------------------------------------------------

    def link(self, res: TfResource, attr: str) -> TfResource | str | None:
        """What ``res.<attr>`` (an ID) points to: a resource of this document, an outside ID
        (str), or None when unknown."""
        value = res.values.get(attr)
        if isinstance(value, str) and value:
            return self.by_id.get(id_key(value), value)
        targets = self.references(res, attr)
        return targets[0] if len(targets) == 1 else None

    def links(self, res: TfResource, attr: str) -> list[TfResource | str]:
        """Like :meth:`link` for list attributes (``backend_address_pool_ids``)."""
        value = res.values.get(attr)
        if isinstance(value, list) and value:
            return [self.by_id.get(id_key(v), v) for v in value if isinstance(v, str)]
        return list(self.references(res, attr))

    def references(self, res: TfResource, attr: str, *path: str | int) -> list[TfResource]:
        """Resources the configuration expression of ``attr`` refers to; ``path`` steps into a
        nested block (``"backend", 0, "group"``: Terraform writes blocks as lists of maps)."""
        config = _map(self.configuration.get(_config_key(res.module, res.base)))
        expression: Any = _map(config.get("expressions")).get(attr)
        for step in path:
            items = as_list(expression)
            expression = (
                (items[step] if step < len(items) else None)
                if isinstance(step, int)
                else _map(expression).get(step)
            )
        expression = _map(expression)
        refs = [r for r in as_list(expression.get("references")) if isinstance(r, str)]
        same_index = "count.index" in refs or "each.key" in refs
        found: list[TfResource] = []
        for ref in refs:
            target = _strip_reference(ref)
            if target is None:
                continue
            candidates = [r for r in self.resources if r.module == res.module and r.base == target]
            if same_index and len(candidates) > 1:
                candidates = [r for r in candidates if r.index == res.index]
            for cand in candidates:
                if cand not in found:
                    found.append(cand)
            if candidates:
                break
        return found


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else ``[]`` (Terraform values may be null or another type)."""
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def first_block(value: Any) -> Mapping[str, Any]:
    """The first item of a nested block (a list of maps), else ``{}``."""
    items = as_list(value)
    return _map(items[0]) if items else {}


PROVIDER_PREFIXES = ("azurerm_", "aws_", "google_")  # resource types references may name


def _strip_reference(ref: str) -> str | None:
    """``azurerm_lb.ilb.id`` / ``azurerm_lb.ilb[0]`` -> ``azurerm_lb.ilb`` (data sources too)."""
    size = 3 if ref.startswith("data.") else 2
    if not ref.removeprefix("data.").startswith(PROVIDER_PREFIXES):
        return None
    parts = ref.split("[", 1)[0].split(".")
    return ".".join(parts[:size]) if len(parts) >= size else None


def _config_key(module: str, base: str) -> str:
    return f"{module}.{base}" if module else base


def _walk_modules(module: Any, pointer: str, prefix: str = "") -> Iterator[TfResource]:
    if not isinstance(module, Mapping):
        return
    for i, raw in enumerate(as_list(module.get("resources"))):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
            continue
        address = str(raw.get("address", ""))
        data = raw.get("mode") == "data"
        name = str(raw.get("name", ""))
        base = f"{'data.' if data else ''}{raw['type']}.{name}"
        bare = address.split("[", 1)[0]
        module_address = bare[: -len(base)].rstrip(".") if bare.endswith(base) else prefix
        values = raw.get("values")
        yield TfResource(
            address=address,
            module=module_address,
            type=raw["type"],
            name=name,
            index=raw.get("index"),
            values=dict(values) if isinstance(values, Mapping) else {},
            pointer=pointer_join(pointer, "resources", i),
            data=data,
        )
    for j, child in enumerate(as_list(module.get("child_modules"))):
        child_prefix = str(child.get("address", "")) if isinstance(child, Mapping) else ""
        yield from _walk_modules(
            child, pointer_join(pointer, "child_modules", j), child_prefix or prefix
        )


def _walk_configuration(module: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(module, Mapping):
        return
    for raw in as_list(module.get("resources")):
        if isinstance(raw, Mapping) and isinstance(raw.get("address"), str):
            yield _config_key(prefix, raw["address"]), dict(raw)
    for name, call in _map(module.get("module_calls")).items():
        if isinstance(call, Mapping):
            child = f"{prefix}.module.{name}" if prefix else f"module.{name}"
            yield from _walk_configuration(call.get("module"), child)


def parse_state(data: Any, doc: Document) -> tuple[_State, str]:
    """The resources of a ``terraform show -json`` document and the pointer of its root module
    (shared with the aws and google loaders)."""
    if not isinstance(data, Mapping):
        raise doc.fail("", "terraform show -json output is a JSON object")
    if isinstance(data.get("planned_values"), Mapping):
        root, at = data["planned_values"].get("root_module"), "/planned_values/root_module"
    elif isinstance(data.get("values"), Mapping):
        root, at = data["values"].get("root_module"), "/values/root_module"
    else:
        raise doc.fail("", "no values.root_module (state) or planned_values (plan) in the document")
    config_root = _map(data.get("configuration")).get("root_module")
    state = _State(doc, list(_walk_modules(root, at)), dict(_walk_configuration(config_root)))
    return state, at


TerraformState = _State


def load_terraform(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    """``terraform show -json`` (state or saved plan) -> the azurerm load balancers in it."""
    state, at = parse_state(data, doc)
    _feed_inventory(state, inventory)
    balancers = [r for r in state.of_type(LB) if not r.address.startswith("data.")]
    drafts = []
    for lb in balancers:
        rest = _Rebuilder(state, lb).build()
        drafts.append(read_lb(Node(rest, lb.pointer, doc), inventory, lb_id=rest["id"]))
    if not balancers:
        doc.report(at, "no azurerm_lb resource in this Terraform document")
    return assemble(drafts, doc.problems, doc.name)


# ---- NICs, VMs, subnets, public IPs -> inventory ---------------------------------------------


def _feed_inventory(state: _State, inventory: Inventory) -> None:
    for res in state.of_type(SUBNET):
        prefixes = res.get("address_prefixes", "address_prefix")
        inventory.add_subnet({"addressprefixes": prefixes}, state.resource_id(res))
    for res in state.of_type(VNET):
        vnet_id = state.resource_id(res)
        for sub in as_list(res.values.get("subnet")):
            if isinstance(sub, Mapping) and sub.get("name"):
                sub_id = sub.get("id") or f"{vnet_id}/subnets/{sub['name']}"
                prefixes = sub.get("address_prefixes") or sub.get("address_prefix")
                inventory.add_subnet({"addressprefixes": prefixes}, sub_id)
    for res in state.of_type(PUBLIC_IP):
        inventory.add_public_ip({"ipaddress": res.values.get("ip_address")}, state.resource_id(res))
    for rtype, os_type in VM_OS.items():
        for res in state.of_type(rtype):
            inventory.add_vm(_vm_rest(state, res, os_type), state.resource_id(res))
    for res in state.of_type(NIC):
        inventory.add_nic(_nic_rest(state, res), state.doc, res.pointer)


def _vm_rest(state: _State, res: TfResource, os_type: str | None) -> dict[str, Any]:
    nics = [
        state.resource_id(n) if isinstance(n, TfResource) else n
        for n in state.links(res, "network_interface_ids")
    ]
    os_disk = first_block(res.values.get("storage_os_disk"))
    if os_type is None:
        os_type = os_disk.get("os_type")
    if os_type is None and res.values.get("os_profile_linux_config"):
        os_type = "Linux"
    if os_type is None and res.values.get("os_profile_windows_config"):
        os_type = "Windows"
    image = first_block(res.values.get("storage_image_reference"))
    return {
        "storageprofile": {
            "osDisk": {"osType": os_type},
            "imageReference": {"publisher": image.get("publisher")},
        },
        "networkprofile": {"networkInterfaces": [{"id": n} for n in nics]},
    }


def _nic_rest(state: _State, res: TfResource) -> dict[str, Any]:
    nic_id = state.resource_id(res)
    ipconfigs = []
    for j, ipc in enumerate(as_list(res.values.get("ip_configuration"))):
        if not isinstance(ipc, Mapping):
            continue
        ipconfigs.append(
            {
                SOURCE_POINTER: res.at("ip_configuration", j),
                "name": ipc.get("name"),
                "id": f"{nic_id}/ipConfigurations/{ipc.get('name')}",
                "privateIPAddress": ipc.get("private_ip_address"),
                "subnet": {"id": ipc.get("subnet_id")} if ipc.get("subnet_id") else None,
            }
        )
    vm = res.values.get("virtual_machine_id")
    return {
        "id": nic_id,
        "name": res.values.get("name") or res.name,
        "macAddress": res.values.get("mac_address") or None,
        "virtualMachine": {"id": vm} if vm else None,
        "ipConfigurations": ipconfigs,
    }


# ---- one balancer in the REST shape ----------------------------------------------------------


def _link_key(target: TfResource | str | None) -> object:
    """The key :meth:`_State.pointing_to` files a link under: the resource, an ID, or None."""
    if isinstance(target, TfResource):
        return id(target)
    return id_key(target) if isinstance(target, str) else None


class _Rebuilder:
    def __init__(self, state: _State, lb: TfResource) -> None:
        self.state = state
        self.lb = lb
        self.lb_id = state.resource_id(lb)

    def mine(self, rtype: str) -> list[TfResource]:
        """Resources of ``rtype`` whose ``loadbalancer_id`` is this balancer."""
        if len(self.state.of_type(LB)) == 1:
            for res in self.state.pointing_to(rtype, "loadbalancer_id", None, None):
                self.state.doc.report(
                    res.at("loadbalancer_id"),
                    f"{res.address}: loadbalancer_id is not known (plan without configuration)",
                )
        return self.state.pointing_to(rtype, "loadbalancer_id", self.lb, self.lb_id)

    def child_id(self, kind: str, res: TfResource | str | None) -> str | None:
        if isinstance(res, TfResource):
            return f"{self.lb_id}/{kind}/{res.values.get('name') or res.name}"
        return res

    def build(self) -> dict[str, Any]:
        v = self.lb.values
        pools = self.mine(POOL)
        return {
            SOURCE_FIELDS: {"name": self.lb.at("name"), "sku": self.lb.at("sku")},
            "id": self.lb_id,
            "name": v.get("name") or self.lb.name,
            "location": v.get("location"),
            "resourceGroup": v.get("resource_group_name"),
            "sku": {"name": v.get("sku") or "Standard"},  # azurerm 4.0: defaults to Standard
            "frontendIPConfigurations": [
                self.frontend(fe, j)
                for j, fe in enumerate(as_list(v.get("frontend_ip_configuration")))
            ],
            "backendAddressPools": [self.pool(p) for p in pools],
            "probes": [self.probe(p) for p in self.mine(PROBE)],
            "loadBalancingRules": [self.rule(r) for r in self.mine(RULE)],
            "inboundNatRules": [self.nat(n) for n in self.mine(NAT_RULE)],
            "outboundRules": [self.outbound(o) for o in self.mine(OUTBOUND)],
        }

    def frontend(self, fe: Any, j: int) -> dict[str, Any]:
        fe = fe if isinstance(fe, Mapping) else {}
        at = self.lb.at("frontend_ip_configuration", j)
        subnet = self._ref_in_block(fe.get("subnet_id"), "subnet_id")
        public = self._ref_in_block(fe.get("public_ip_address_id"), "public_ip_address_id")
        out: dict[str, Any] = {
            SOURCE_POINTER: at,
            SOURCE_FIELDS: {"privateIPAddress": pointer_join(at, "private_ip_address")},
            "name": fe.get("name"),
            "privateIPAddress": fe.get("private_ip_address") or None,
            "privateIPAddressVersion": fe.get("private_ip_address_version"),
            "zones": fe.get("zones") or [],
        }
        if subnet:
            out["subnet"] = {"id": subnet}
        if public:
            out["publicIPAddress"] = {"id": public}
        return out

    def _ref_in_block(self, value: Any, attr: str) -> str | None:
        """IDs inside the frontend block; in a plan the block's references are not itemised,
        so an unknown ID is taken from the single resource of the right type it references."""
        if isinstance(value, str) and value:
            return value
        config = _map(self.state.configuration.get(_config_key(self.lb.module, self.lb.base)))
        block = _map(config.get("expressions")).get("frontend_ip_configuration")
        blocks = block if isinstance(block, list) else [block]
        for item in blocks:
            expr = _map(_map(item).get(attr))
            for ref in as_list(expr.get("references")):
                target = _strip_reference(ref) if isinstance(ref, str) else None
                if target is None:
                    continue
                hits = [
                    r
                    for r in self.state.resources
                    if r.module == self.lb.module and r.base == target
                ]
                if len(hits) == 1:
                    return self.state.resource_id(hits[0])
        return None

    def pool(self, res: TfResource) -> dict[str, Any]:
        name = res.values.get("name") or res.name
        pool_id = f"{self.lb_id}/backendAddressPools/{name}"
        configs: list[dict[str, Any]] = []
        for assoc in self.state.pointing_to(NIC_POOL, "backend_address_pool_id", res, pool_id):
            nic = self.state.link(assoc, "network_interface_id")
            ipc_name = assoc.values.get("ip_configuration_name")
            if nic is None or not ipc_name:
                self.state.doc.report(
                    assoc.pointer,
                    f"{assoc.address}: network_interface_id is not known; cannot name the member",
                )
                continue
            nic_id = self.state.resource_id(nic) if isinstance(nic, TfResource) else nic
            configs.append(
                {SOURCE_POINTER: assoc.pointer, "id": f"{nic_id}/ipConfigurations/{ipc_name}"}
            )
        for j, ipc_id in enumerate(as_list(res.values.get("backend_ip_configurations"))):
            if isinstance(ipc_id, str):
                at = res.at("backend_ip_configurations", j)
                configs.append({SOURCE_POINTER: at, "id": ipc_id})
        addresses = []
        for addr in self.state.pointing_to(POOL_ADDRESS, "backend_address_pool_id", res, pool_id):
            addresses.append(
                {
                    SOURCE_POINTER: addr.pointer,
                    SOURCE_FIELDS: {"ipAddress": addr.at("ip_address")},
                    "name": addr.values.get("name"),
                    "ipAddress": addr.values.get("ip_address"),
                }
            )
            if not addr.values.get("ip_address"):
                self.state.doc.report(
                    addr.at("ip_address"),
                    f"{addr.address}: ip_address is not known",
                    Severity.ERROR,
                )
                addresses.pop()
        return {
            SOURCE_POINTER: res.pointer,
            "name": name,
            "id": pool_id,
            "backendIPConfigurations": configs,
            "loadBalancerBackendAddresses": addresses,
        }

    def _fields(self, res: TfResource, table: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
        out: dict[str, Any] = {SOURCE_POINTER: res.pointer, "name": res.values.get("name")}
        pointers: dict[str, str] = {"name": res.at("name")}
        for key, attrs in table.items():
            for attr in attrs:
                if res.values.get(attr) is not None:
                    out[key] = res.values[attr]
                    pointers[key] = res.at(attr)
                    break
        out[SOURCE_FIELDS] = pointers
        return out

    def probe(self, res: TfResource) -> dict[str, Any]:
        out = self._fields(res, PROBE_FIELDS)
        for key, default in TERRAFORM_PROBE_DEFAULTS.items():
            out.setdefault(key, default)
        return out

    def rule(self, res: TfResource) -> dict[str, Any]:
        out = self._fields(res, RULE_FIELDS)
        pointers = out[SOURCE_FIELDS]
        fe_name = res.values.get("frontend_ip_configuration_name")
        if fe_name:
            out["frontendIPConfiguration"] = {
                "id": f"{self.lb_id}/frontendIPConfigurations/{fe_name}"
            }
            pointers["frontendIPConfiguration"] = res.at("frontend_ip_configuration_name")
        pools = [
            self.child_id("backendAddressPools", p)
            for p in self.state.links(res, "backend_address_pool_ids")
        ]
        if not pools and res.values.get("backend_address_pool_id"):  # azurerm < 2.x
            pools = [
                self.child_id(
                    "backendAddressPools", self.state.link(res, "backend_address_pool_id")
                )
            ]
        if pools:
            out["backendAddressPools"] = [{"id": p} for p in pools if p]
            pointers["backendAddressPools"] = res.at("backend_address_pool_ids")
        probe = self.state.link(res, "probe_id")
        if probe is not None:
            out["probe"] = {"id": self.child_id("probes", probe)}
            pointers["probe"] = res.at("probe_id")
        return out

    def nat(self, res: TfResource) -> dict[str, Any]:
        out = self._fields(res, NAT_FIELDS)
        fe_name = res.values.get("frontend_ip_configuration_name")
        if fe_name:
            out["frontendIPConfiguration"] = {
                "id": f"{self.lb_id}/frontendIPConfigurations/{fe_name}"
            }
        exported = res.values.get("backend_ip_configuration_id")  # state: the NIC ipconfig
        if isinstance(exported, str) and exported:
            out["backendIPConfiguration"] = {"id": exported}
        for assoc in self.state.pointing_to(NIC_NAT, "nat_rule_id", res, None):
            nic = self.state.link(assoc, "network_interface_id")
            ipc = assoc.values.get("ip_configuration_name")
            if nic is not None and ipc:
                nic_id = self.state.resource_id(nic) if isinstance(nic, TfResource) else nic
                out["backendIPConfiguration"] = {"id": f"{nic_id}/ipConfigurations/{ipc}"}
        return out

    def outbound(self, res: TfResource) -> dict[str, Any]:
        out = self._fields(
            res,
            {
                "protocol": ("protocol",),
                "allocatedOutboundPorts": ("allocated_outbound_ports",),
                "idleTimeoutInMinutes": ("idle_timeout_in_minutes",),
            },
        )
        out["frontendIPConfigurations"] = [
            {"id": f"{self.lb_id}/frontendIPConfigurations/{fe.get('name')}"}
            for fe in as_list(res.values.get("frontend_ip_configuration"))
            if isinstance(fe, Mapping)
        ]
        pool = self.state.link(res, "backend_address_pool_id")
        if pool is not None:
            out["backendAddressPool"] = {"id": self.child_id("backendAddressPools", pool)}
        return out
