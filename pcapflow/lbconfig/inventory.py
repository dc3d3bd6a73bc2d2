"""What NIC, VM, public-IP and subnet documents tell about the members and frontends of a balancer.

NIC-based backend pools name NIC ipconfig IDs only.  ``az network nic show``/``list`` JSON (the
``--nic`` files), NIC resources of an ARM template, ``az vm show`` JSON, ``az network public-ip
show`` and ``az network vnet subnet show`` fill the gaps: member IP, MAC, VM name and OS, public
frontend addresses, subnet prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pcapflow.lbconfig.azure_ids import (
    IdIndex,
    flat,
    fold_key,
    get,
    id_name,
    id_segments,
    ref_id,
)
from pcapflow.lbconfig.node import SOURCE_POINTER
from pcapflow.lbconfig.problems import Document, Origin, Severity, pointer_join
from pcapflow.lbconfig.vocab import (
    IMAGE_PUBLISHER_OS,
    canonical_ip,
    canonical_mac,
    canonical_network,
    lookup,
    os_from_text,
)
from pcapflow.model.lb import Member

NIC_TYPE = "microsoft.network/networkinterfaces"
VM_TYPE = "microsoft.compute/virtualmachines"
PUBLIC_IP_TYPE = "microsoft.network/publicipaddresses"
SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets"
VNET_TYPE = "microsoft.network/virtualnetworks"
INVENTORY_TYPES = frozenset({NIC_TYPE, VM_TYPE, PUBLIC_IP_TYPE, SUBNET_TYPE, VNET_TYPE})


@dataclass(frozen=True, slots=True)
class IpConfig:
    """One NIC ipconfig, as a NIC document describes it."""

    id: str
    address: str | None
    nic: str
    nic_id: str
    mac: str | None
    vm_id: str | None
    subnet_id: str | None
    pool_ids: tuple[str, ...]  # backend pools this ipconfig joins (declared on the NIC)
    nat_rule_ids: tuple[str, ...]
    origin: Origin
    address_origin: Origin | None = None  # where the NIC document gives the address


def _type(obj: Mapping[str, Any]) -> str:
    value = get(obj, "type", default="")
    return value.casefold() if isinstance(value, str) else ""


def is_inventory_document(data: Any) -> bool:
    """A NIC/VM/public-IP/subnet/VNet resource (flattened or nested), or a list of them."""
    if isinstance(data, list):
        return bool(data) and all(is_inventory_document(item) for item in data)
    if not isinstance(data, Mapping):
        return False
    obj = flat(data)
    if _type(obj) in INVENTORY_TYPES:
        return True
    return "ipconfigurations" in obj and "frontendipconfigurations" not in obj


def _ids(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(i for i in (ref_id(v) for v in values) if isinstance(i, str))


class Inventory:
    """Everything known about NICs, VMs, public IPs and subnets, indexed by resource ID."""

    def __init__(self) -> None:
        self.ipconfigs = IdIndex()  # ipconfig id -> IpConfig
        self.vm_os = IdIndex()  # vm id -> "linux" | "windows"
        self.vm_by_nic = IdIndex()  # nic id -> vm id
        self.public_ips = IdIndex()  # public IP id -> address
        self.subnets = IdIndex()  # subnet id -> CIDR
        self.template_parameters: dict[str, Any] = {}  # ARM parameters-file values

    def add_template_parameters(self, data: Mapping[str, Any], doc: Document) -> None:
        """An ARM parameters file (``{"parameters": {"x": {"value": ...}}}``)."""
        params = data.get("parameters")
        if not isinstance(params, Mapping):
            doc.report("/parameters", "a parameters file needs a 'parameters' object")
            return
        for name, entry in params.items():
            if isinstance(entry, Mapping) and "value" in entry:
                self.template_parameters[name] = entry["value"]
            else:
                at = pointer_join("/parameters", name)
                doc.report(at, "only literal 'value' parameters are read", Severity.WARNING)

    # ---- filling ---------------------------------------------------------------------------

    def add_document(self, data: Any, doc: Document, pointer: str = "") -> None:
        if isinstance(data, list):
            for i, item in enumerate(data):
                self.add_document(item, doc, pointer_join(pointer, i))
            return
        obj = flat(data)
        kind = _type(obj)
        if kind == VM_TYPE:
            self.add_vm(obj)
        elif kind == PUBLIC_IP_TYPE:
            self.add_public_ip(obj)
        elif kind == SUBNET_TYPE:
            self.add_subnet(obj)
        elif kind == VNET_TYPE:
            for sub in _items(get(obj, "subnets")):
                self.add_subnet(flat(sub))
        elif kind == NIC_TYPE or "ipconfigurations" in obj:
            self.add_nic(data, doc, pointer)
        else:
            doc.report(pointer, "not a NIC, VM, public IP or subnet resource", Severity.WARNING)

    def add_nic(
        self, raw: Mapping[str, Any], doc: Document, pointer: str, nic_id: str | None = None
    ) -> None:
        """Index a NIC resource, any shape (``nic_id`` when the document has no ``id``)."""
        nic = flat(raw)
        nested = any(
            fold_key(k) == "properties"
            and isinstance(v, Mapping)
            and any(fold_key(x) == "ipconfigurations" for x in v)
            for k, v in raw.items()
        )
        base = pointer_join(pointer, "properties") if nested else pointer
        nic_id = nic_id or get(nic, "id")
        name = get(nic, "name")
        if not isinstance(nic_id, str) or not isinstance(name, str):
            doc.report(pointer, "NIC without id or name; cannot match it to pool members")
            return
        mac_text = get(nic, "macAddress")
        mac = canonical_mac(mac_text) if isinstance(mac_text, str) and mac_text else None
        vm_id = ref_id(get(nic, "virtualMachine"))
        for j, raw in enumerate(_items(get(nic, "ipConfigurations"))):
            ipc = flat(raw)
            ipc_name = get(ipc, "name")
            ipc_id = get(ipc, "id") or (f"{nic_id}/ipConfigurations/{ipc_name}")
            if not isinstance(ipc_id, str) or not isinstance(ipc_name, str):
                continue
            address = get(ipc, "privateIPAddress")
            source = get(ipc, SOURCE_POINTER)
            at = source if isinstance(source, str) else pointer_join(base, "ipConfigurations", j)
            address_at = _value_pointer(raw, at, "privateIPAddress")
            self._put_ipconfig(
                IpConfig(
                    id=ipc_id,
                    address=canonical_ip(address) if isinstance(address, str) else None,
                    nic=name,
                    nic_id=nic_id,
                    mac=mac,
                    vm_id=vm_id if isinstance(vm_id, str) else None,
                    subnet_id=_str_or_none(ref_id(get(ipc, "subnet"))),
                    pool_ids=_ids(get(ipc, "loadBalancerBackendAddressPools")),
                    nat_rule_ids=_ids(get(ipc, "loadBalancerInboundNatRules")),
                    origin=doc.origin(at),
                    address_origin=doc.origin(address_at),
                ),
            )

    def _put_ipconfig(self, new: IpConfig) -> None:
        """Index an ipconfig; one already known (a template's NIC and the deployed NIC from
        ``--nic``) is merged: known values win, pool memberships add up."""
        old = self.ipconfig(new.id)
        if old is None:
            self.ipconfigs.put(new.id, new)
            return
        merged = IpConfig(
            id=old.id if old.id.startswith("/subscriptions/") else new.id,
            address=old.address or new.address,
            nic=old.nic,
            nic_id=old.nic_id,
            mac=old.mac or new.mac,
            vm_id=old.vm_id or new.vm_id,
            subnet_id=old.subnet_id or new.subnet_id,
            pool_ids=tuple(dict.fromkeys(old.pool_ids + new.pool_ids)),
            nat_rule_ids=tuple(dict.fromkeys(old.nat_rule_ids + new.nat_rule_ids)),
            origin=old.origin if old.address else new.origin,
            address_origin=old.address_origin if old.address else new.address_origin,
        )
        self.ipconfigs.put(old.id, merged)
        self.ipconfigs.put(new.id, merged)

    def add_vm(self, vm: Mapping[str, Any], vm_id: str | None = None) -> None:
        vm_id = vm_id or get(vm, "id")
        if not isinstance(vm_id, str):
            return
        os = vm_os(vm)
        if os is not None:
            self.vm_os.put(vm_id, os)
        network = flat(get(vm, "networkProfile", default={}))
        for nic in _items(get(network, "networkInterfaces")):
            nic_ref = ref_id(nic)
            if isinstance(nic_ref, str):
                self.vm_by_nic.put(nic_ref, vm_id)

    def add_public_ip(self, pip: Mapping[str, Any], pip_id: str | None = None) -> None:
        pip_id = pip_id or get(pip, "id")
        address = get(pip, "ipAddress")
        if isinstance(pip_id, str) and isinstance(address, str) and canonical_ip(address):
            self.public_ips.put(pip_id, canonical_ip(address))

    def add_subnet(self, subnet: Mapping[str, Any], subnet_id: str | None = None) -> None:
        subnet_id = subnet_id or get(subnet, "id")
        prefixes = get(subnet, "addressPrefix") or get(subnet, "addressPrefixes")
        if isinstance(prefixes, list):
            prefixes = next((p for p in prefixes if isinstance(p, str)), None)
        if isinstance(subnet_id, str) and isinstance(prefixes, str):
            cidr = canonical_network(prefixes)
            if cidr is not None:
                self.subnets.put(subnet_id, cidr)

    # ---- queries ---------------------------------------------------------------------------

    def ipconfig(self, ipconfig_id: str) -> IpConfig | None:
        found = self.ipconfigs.find(ipconfig_id)
        return found if isinstance(found, IpConfig) else None

    def member(self, ipconfig_id: str) -> Member | None:
        """The pool member behind a NIC ipconfig ID, or None when unknown or without address."""
        ipc = self.ipconfig(ipconfig_id)
        if ipc is None or ipc.address is None:
            return None
        return self._member(ipc, ipc.address)

    def member_at(self, ipconfig_id: str, address: str) -> Member:
        """The pool member behind a NIC ipconfig whose address the balancer itself lists: VM,
        MAC and OS from the NIC/VM documents when given, else what the ID says (the NIC's name;
        the instance of a scale set)."""
        ipc = self.ipconfig(ipconfig_id)
        if ipc is not None:
            return self._member(ipc, address)
        segments = id_segments(ipconfig_id)
        in_scale_set = "virtualmachinescalesets" in segments and "virtualmachines" in segments
        return Member(
            address=address,
            vm=vm_name(ipconfig_id) if in_scale_set else None,
            nic=segments.get("networkinterfaces"),
            ip_config=ipconfig_id,
        )

    def _member(self, ipc: IpConfig, address: str) -> Member:
        vm_id = ipc.vm_id or self.vm_by_nic.find(ipc.nic_id)
        return Member(
            address=address,
            vm=vm_name(vm_id) if isinstance(vm_id, str) else None,
            nic=ipc.nic,
            ip_config=ipc.id,
            mac=ipc.mac,
            os=self.vm_os.find(vm_id) if isinstance(vm_id, str) else None,
        )

    def members_of_pool(self, pool_id: str) -> Iterable[IpConfig]:
        """Ipconfigs whose NIC declares membership of ``pool_id`` (ARM-template style)."""
        probe = IdIndex()
        probe.put(pool_id, True)
        for ipc in self.ipconfigs.values():
            if any(probe.find(pid) for pid in ipc.pool_ids):
                yield ipc


def vm_name(vm_id: str) -> str:
    """A VM's name from its ID; scale-set instances are called ``<scale set>_<instance id>``."""
    segments = id_segments(vm_id)
    scale_set = segments.get("virtualmachinescalesets")
    if scale_set is not None and "virtualmachines" in segments:
        return f"{scale_set}_{segments['virtualmachines']}"
    return id_name(vm_id)


def _value_pointer(raw: Any, at: str, name: str) -> str:
    """The JSON pointer of key ``name`` (any casing) of ``raw`` or of its ``properties``."""
    if not isinstance(raw, Mapping):
        return at
    for key in raw:
        if fold_key(key) == fold_key(name):
            return pointer_join(at, str(key))
    for key, value in raw.items():
        if fold_key(key) == "properties" and isinstance(value, Mapping):
            return _value_pointer(value, pointer_join(at, str(key)), name)
    return at


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def vm_os(vm: Mapping[str, Any]) -> str | None:
    """The OS of a flattened VM resource when it says (osDisk.osType, os profile, image)."""
    storage = flat(get(vm, "storageProfile", default={}))
    found = os_from_text(get(flat(get(storage, "osDisk", default={})), "osType"))
    if found:
        return found
    profile = flat(get(vm, "osProfile", default={}))
    if get(profile, "linuxConfiguration") is not None:
        return "linux"
    if get(profile, "windowsConfiguration") is not None:
        return "windows"
    publisher = get(flat(get(storage, "imageReference", default={})), "publisher")
    found_os = lookup(dict(IMAGE_PUBLISHER_OS), publisher)
    return found_os if isinstance(found_os, str) else None
