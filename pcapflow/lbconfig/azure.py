"""Azure load-balancer resources: ``az network lb show``/``list`` JSON, and the shared reader.

Accepts the current CLI shape (flattened, REST casing), the legacy CLI shape (``enableFloatingIp``,
``frontendIpConfigurations`` ...), the REST/ARM shape nested under ``properties`` and the
``{"loadBalancer": ...}`` wrapper of ``az network lb create``.  NIC-based pool members are resolved
through the :class:`~pcapflow.lbconfig.inventory.Inventory` (``--nic`` documents); a member that
cannot be resolved is reported, never invented.  The ARM loader reuses :func:`read_lb`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pcapflow.lbconfig.azure_ids import IdIndex, fold_key, id_key, id_name, id_segments, id_tail
from pcapflow.lbconfig.draft import LbDraft, Loaded, Placed, PoolDraft, assemble
from pcapflow.lbconfig.inventory import Inventory, IpConfig
from pcapflow.lbconfig.node import Node, Unresolved
from pcapflow.lbconfig.problems import Document, Problem, Severity, cite, pointer_join
from pcapflow.lbconfig.vocab import (
    DISTRIBUTIONS,
    IDLE_TIMEOUT_DEFAULT_MIN,
    PROBE_COUNT_DEFAULT,
    PROBE_PROTOCOLS,
    PROTOCOLS,
    REST_PROBE_INTERVAL_DEFAULT_S,
    canonical_ip,
)
from pcapflow.model.lb import (
    Distribution,
    Frontend,
    InboundNatRule,
    Member,
    OutboundRule,
    Probe,
    Protocol,
    Rule,
)

# child collection of a load balancer -> the ID segment naming it
CHILD_SEGMENTS = {
    "frontend": "frontendipconfigurations",
    "pool": "backendaddresspools",
    "probe": "probes",
    "rule": "loadbalancingrules",
    "nat": "inboundnatrules",
}
CHILD_WORDS = {
    "frontend": "frontend",
    "pool": "backend pool",
    "probe": "probe",
    "rule": "rule",
    "nat": "inbound NAT rule",
}


@dataclass(frozen=True)
class BackendEntry:
    """One ``loadBalancerBackendAddresses`` entry of a pool: NIC-based (``ipc_id``), by address,
    or both (the CLI lists the address of a NIC-based member beside its reference)."""

    node: Node
    ipc_id: str | None
    address: str | None  # canonical; None when absent or not an IP (then reported)
    has_address: bool


REST_SKU_DEFAULT = "Basic"  # REST: a balancer created without sku is Basic
UNKNOWN_SKU = "unknown"


def load_az(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    """``az network lb show`` (one balancer), ``az network lb list`` (a list) or ``lb create``."""
    items: list[tuple[Any, str]]
    if isinstance(data, list):
        items = [(item, pointer_join("", i)) for i, item in enumerate(data)]
    elif isinstance(data, Mapping) and _wrapped(data):
        key = next(k for k in data if fold_key(k) == "loadbalancer")
        items = [(data[key], pointer_join("", key))]
    else:
        items = [(data, "")]
    drafts = [read_lb(Node(item, at, doc), inventory) for item, at in items]
    return assemble(drafts, doc.problems, doc.name)


def _wrapped(data: Mapping[str, Any]) -> bool:
    return any(fold_key(k) == "loadbalancer" for k in data) and not any(
        fold_key(k) in ("frontendipconfigurations", "properties") for k in data
    )


def read_lb(node: Node, inventory: Inventory, lb_id: str | None = None) -> LbDraft:
    """One load-balancer resource (any shape) -> draft.  ``lb_id`` when the resource has none."""
    doc = node.doc
    name = node.text("name", required=True) or "<unnamed>"
    lb_id = node.text("id") or lb_id or f"/providers/Microsoft.Network/loadBalancers/{name}"
    segments = id_segments(lb_id)
    lb = LbDraft(name, doc.origin(node.pointer))
    lb.attrs["cloud"] = "azure"
    sku = node.child("sku").get("name")
    if isinstance(sku, Unresolved):  # a template expression: say so rather than assume
        doc.report(node.child("sku").at("name"), f"cannot resolve {sku}", Severity.WARNING)
        sku = UNKNOWN_SKU
    lb.attrs["sku"] = sku if isinstance(sku, str) else REST_SKU_DEFAULT
    lb.attrs["resource_group"] = node.text("resourceGroup") or segments.get("resourcegroups")
    lb.attrs["subscription"] = segments.get("subscriptions")
    location = node.get("location")  # informational: an unresolved location is no problem
    lb.attrs["location"] = location if isinstance(location, str) else None
    reader = _Reader(lb, node, inventory, lb_id)
    reader.read()
    return lb


class _Reader:
    """Reads the children of one load-balancer resource into its draft."""

    def __init__(self, lb: LbDraft, node: Node, inventory: Inventory, lb_id: str) -> None:
        self.lb = lb
        self.node = node
        self.doc = node.doc
        self.inventory = inventory
        self.lb_id = lb_id
        self.reported: set[tuple[str, str]] = set()  # (pool, ipconfig) already reported
        self.listed: dict[str, str] = {}  # ipconfig id_key -> address the pools list for it
        # id(pool) -> casefolded (ip_config or address) of its members, kept as members are added
        self._member_keys: dict[int, set[str]] = {}

    def read(self) -> None:
        for fe in self.node.children("frontendIPConfigurations"):
            self.frontend(fe)
        for pool in self.node.children("backendAddressPools"):
            self.pool(pool)
        for probe in self.node.children("probes"):
            self.probe(probe)
        for rule in self.node.children("loadBalancingRules"):
            self.rule(rule)
        for nat in self.node.children("inboundNatRules"):
            self.nat(nat)
        for out in self.node.children("outboundRules"):
            self.outbound(out)
        if self.node.children("inboundNatPools"):
            self.doc.report(
                self.node.at("inboundNatPools"),
                "inbound NAT pools (scale sets) are not modelled",
                Severity.WARNING,
            )
        for draft in self.lb.pools:
            self.nic_declared_members(draft)

    # ---- references ------------------------------------------------------------------------

    def child_name(self, node: Node, key: str, kind: str, *, required: bool) -> str | None:
        """The name of the child of kind ``kind`` a reference ``{"id": ...}`` points to."""
        resource_id = node.ref(key)
        if resource_id is None:
            if required and not node.has(key):
                self.doc.report(node.at(key), f"missing {key!r}")
            return None
        segments = id_segments(resource_id)
        name = segments.get(CHILD_SEGMENTS[kind])
        if name is None:
            self.doc.report(node.at(key), f"{resource_id!r} is not a {CHILD_WORDS[kind]} reference")
            return None
        owner = segments.get("loadbalancers")
        if owner is not None and owner.casefold() != self.lb.name.casefold():
            self.doc.report(
                node.at(key),
                f"refers to {CHILD_WORDS[kind]} {name!r} of another load balancer {owner!r}",
            )
        return name

    # ---- children --------------------------------------------------------------------------

    def frontend(self, node: Node) -> None:
        name = node.text("name", required=True) or "<unnamed>"
        raw_private = node.get("privateIPAddress")
        if isinstance(raw_private, Unresolved):
            self.doc.report(
                node.at("privateIPAddress"), f"frontend {name!r}: cannot resolve {raw_private}"
            )
            return
        private_text = node.text("privateIPAddress")
        public_id = node.ref("publicIPAddress")
        subnet_id = node.ref("subnet")
        address: str | None = None
        if private_text is not None:
            address = canonical_ip(private_text)
            if address is None:
                self.doc.report(node.at("privateIPAddress"), f"{private_text!r} is not an IP")
        elif public_id is not None:
            inline = node.child("publicIPAddress").text("ipAddress")
            address = canonical_ip(inline) if inline else self.inventory.public_ips.find(public_id)
            if address is None:
                self.doc.report(
                    node.at("publicIPAddress"),
                    f"frontend {name!r}: public IP {id_tail(public_id).rsplit('/', 1)[-1]!r} has "
                    "no address here; pass `az network public-ip show` JSON with --nic",
                )
        elif node.has("privateIPAddress", "subnet"):
            self.doc.report(
                node.at("privateIPAddress"),
                f"frontend {name!r}: no private IP address (dynamic allocation is only known "
                "after deployment; use `az network lb show` output or a static address)",
            )
        elif not node.has("publicIPPrefix", "gatewayLoadBalancer"):
            self.doc.report(node.pointer, f"frontend {name!r} has no IP address")
        if address is None:
            return
        subnet = self.inventory.subnets.find(subnet_id) if subnet_id else None
        zones = node.get("zones", default=[])
        fe = Frontend(
            name=name,
            address=address,
            private=private_text is not None,
            subnet=subnet,
            zones=tuple(str(z) for z in zones) if isinstance(zones, list) else (),
        )
        self.lb.frontends.append(Placed(fe, self.doc.origin(node.pointer)))

    def pool(self, node: Node) -> None:
        name = node.text("name", required=True) or "<unnamed>"
        pool = self.lb.pool(name, self.doc.origin(node.pointer))
        entries = [
            self.backend_entry(name, addr) for addr in node.children("loadBalancerBackendAddresses")
        ]
        listed = {id_key(e.ipc_id): e for e in entries if e.ipc_id and e.address}
        self.listed.update({key: e.address for key, e in listed.items() if e.address})
        for ref in node.children("backendIPConfigurations"):
            ipc_id = ref.text("id", required=True)
            if ipc_id is not None:
                self.nic_member(pool, ipc_id, ref.pointer, listed.get(id_key(ipc_id)))
        for entry in entries:
            self.entry_member(pool, entry)

    def backend_entry(self, pool: str, addr: Node) -> BackendEntry:
        """One ``loadBalancerBackendAddresses`` entry: its NIC reference and address, read once
        (an address that is not an IP is reported here)."""
        if str(addr.get("adminState", default="")).casefold() == "down":
            self.doc.report(
                addr.at("adminState"),
                f"pool {pool!r}: member {addr.text('name') or '?'} has adminState Down: it "
                "gets no new flows, so the real pool is smaller than listed",
                Severity.WARNING,
            )
        text = addr.text("ipAddress")
        address = canonical_ip(text) if text is not None else None
        if text is not None and address is None:
            self.doc.report(addr.at("ipAddress"), f"{text!r} is not an IP address")
        return BackendEntry(
            node=addr,
            ipc_id=addr.ref("networkInterfaceIPConfiguration"),
            address=address,
            has_address=text is not None,
        )

    def entry_member(self, pool: PoolDraft, entry: BackendEntry) -> None:
        addr = entry.node
        if entry.ipc_id is not None:
            self.nic_member(pool, entry.ipc_id, addr.pointer, entry if entry.address else None)
        elif entry.address is not None:
            self.add_member(pool, Member(entry.address), addr.pointer, key=entry.address)
        elif entry.has_address:
            return  # not an IP: reported
        elif addr.has("loadBalancerFrontendIPConfiguration"):
            self.doc.report(
                addr.pointer,
                "cross-region pool member (a regional frontend) is not modelled",
                Severity.WARNING,
            )
        else:
            self.doc.report(addr.pointer, "backend address without ipAddress or NIC")

    def add_member(self, pool: PoolDraft, member: Member, pointer: str, key: str) -> None:
        if key.casefold() not in self.member_keys(pool):
            self.append_member(pool, Placed(member, self.doc.origin(pointer)))

    def member_keys(self, pool: PoolDraft) -> set[str]:
        """Each member's ip_config, or address when it has none (casefolded): a set, so that a
        pool of thousands of members is not searched member by member."""
        keys = self._member_keys.get(id(pool))
        if keys is None:
            keys = {(m.value.ip_config or m.value.address).casefold() for m in pool.members}
            self._member_keys[id(pool)] = keys
        return keys

    def append_member(self, pool: PoolDraft, placed: Placed[Member]) -> None:
        self.member_keys(pool).add((placed.value.ip_config or placed.value.address).casefold())
        pool.members.append(placed)

    def nic_member(
        self, pool: PoolDraft, ipc_id: str, pointer: str, listed: BackendEntry | None = None
    ) -> None:
        """A member named by its NIC ipconfig; ``listed`` when the pool also lists its address."""
        if listed is not None and listed.address is not None:
            known = self.listed_nic_member(pool, ipc_id, listed.address, listed.node)
            self.add_member(pool, known, listed.node.pointer, key=known.ip_config or ipc_id)
            return
        member = self.inventory.member(ipc_id)
        if member is None:
            if self.first_report(pool, ipc_id):  # pools list an ipconfig twice (two fields)
                self.doc.report(pointer, self.unresolved_nic(ipc_id, pool.name))
            return
        self.add_member(pool, member, pointer, key=member.ip_config or member.address)

    def first_report(self, pool: PoolDraft, ipc_id: str) -> bool:
        """True the first time a problem about this ipconfig of this pool is to be reported."""
        key = (pool.name.casefold(), id_key(ipc_id))
        if key in self.reported:
            return False
        self.reported.add(key)
        return True

    def listed_nic_member(self, pool: PoolDraft, ipc_id: str, address: str, entry: Node) -> Member:
        """The balancer lists the address: use it; the NIC documents (``--nic``) add VM and MAC.
        A NIC document that gives another address is reported with both places."""
        ipc = self.inventory.ipconfig(ipc_id)
        if ipc is None or ipc.address is None or ipc.address == address:
            return self.inventory.member_at(ipc_id, address)
        if self.first_report(pool, ipc_id):
            nic_at = ipc.address_origin or ipc.origin
            self.doc.report(
                entry.at("ipAddress"),
                f"pool {pool.name!r} lists {address} for NIC {ipc.nic} ipconfig "
                f"{id_name(ipc.id)}, but {cite(nic_at)} gives {ipc.address}; export the load "
                "balancer and its NICs again, at the same time",
            )
        return Member(address=address, nic=ipc.nic, ip_config=ipc_id)

    def unresolved_nic(self, ipc_id: str, pool: str) -> str:
        segments = id_segments(ipc_id)
        ipc = self.inventory.ipconfig(ipc_id)
        nic = segments.get("networkinterfaces", "?")
        if ipc is not None:
            return (
                f"pool {pool!r}: NIC {nic} ipconfig {segments.get('ipconfigurations')} has no "
                "private IP address (dynamic allocation is only known after deployment; pass "
                f"`az network nic show -n {nic}` JSON with --nic)"
            )
        hint = (
            "`az vmss nic list`"
            if "virtualmachinescalesets" in segments
            else f"`az network nic show -n {nic}`"
        )
        return (
            f"pool {pool!r}: unresolvable NIC reference {nic}/"
            f"{segments.get('ipconfigurations', '?')}; pass {hint} JSON with --nic"
        )

    def nic_declared_members(self, pool: PoolDraft) -> None:
        """Members whose NIC declares the pool (ARM templates; --nic documents)."""
        pool_id = f"{self.lb_id}/backendAddressPools/{pool.name}"
        for ipc in self.inventory.members_of_pool(pool_id):
            if ipc.id.casefold() in self.member_keys(pool):
                continue  # listed by the balancer too
            member = self.inventory.member(ipc.id)
            if member is None:
                message = self.unresolved_nic(ipc.id, pool.name)
                self.doc.problems.append(Problem.at(ipc.origin, message))
                continue
            self.append_member(pool, Placed(member, ipc.origin))

    def probe(self, node: Node) -> None:
        name = node.text("name", required=True) or "<unnamed>"
        protocol = node.choice("protocol", PROBE_PROTOCOLS)
        if protocol is None:
            return
        threshold = node.get("probeThreshold")
        count_key = "probeThreshold" if threshold is not None else "numberOfProbes"
        probe = Probe(
            name=name,
            protocol=protocol,
            port=node.integer("port", required=True),
            path=node.text("requestPath"),
            interval_s=node.integer("intervalInSeconds", REST_PROBE_INTERVAL_DEFAULT_S),
            count=node.integer(count_key, PROBE_COUNT_DEFAULT),
        )
        fields = {"port": self.doc.origin(node.at("port"))}
        self.lb.probes.append(Placed(probe, self.doc.origin(node.pointer), fields))

    def rule(self, node: Node) -> None:
        errors = len(self.doc.problems)
        self._rule(node)
        broken = any(p.severity is Severity.ERROR for p in self.doc.problems[errors:])
        if broken and self.lb.rules and self.lb.rules[-1].origin.pointer == node.pointer:
            self.lb.rules.pop()  # reported already; a half-read rule would only add noise

    def _rule(self, node: Node) -> None:
        name = node.text("name", required=True) or "<unnamed>"
        frontend = self.child_name(node, "frontendIPConfiguration", "frontend", required=True)
        pool = self.child_name(node, "backendAddressPool", "pool", required=False)
        pools = node.children("backendAddressPools") if node.has("backendAddressPools") else []
        if pool is None and pools:
            pool = self._pool_from_list(pools)
        if len(pools) > 1:
            self.doc.report(
                node.at("backendAddressPools"),
                f"rule {name!r} has {len(pools)} backend pools; only the first is modelled",
                Severity.WARNING,
            )
        if pool is None:
            self.doc.report(node.pointer, f"rule {name!r} has no backend pool")
        protocol = node.choice("protocol", PROTOCOLS)
        if protocol is None or frontend is None:
            return
        rule = Rule(
            name=name,
            frontend=frontend,
            protocol=protocol,
            frontend_port=node.integer("frontendPort", required=True),
            backend_port=node.integer("backendPort", 0),
            pool=pool or "",
            probe=self.child_name(node, "probe", "probe", required=False),
            floating_ip=node.boolean("enableFloatingIP"),
            idle_timeout_min=node.integer("idleTimeoutInMinutes", IDLE_TIMEOUT_DEFAULT_MIN),
            tcp_reset=node.boolean("enableTcpReset"),
            distribution=node.choice("loadDistribution", DISTRIBUTIONS, Distribution.DEFAULT),
            disable_outbound_snat=node.boolean("disableOutboundSnat"),
        )
        fields = {
            "frontend": node.at("frontendIPConfiguration"),
            "pool": node.at("backendAddressPool", "backendAddressPools"),
            "probe": node.at("probe"),
            "frontend_port": node.at("frontendPort"),
            "backend_port": node.at("backendPort"),
            "floating_ip": node.at("enableFloatingIP"),
            "idle_timeout": node.at("idleTimeoutInMinutes"),
            "tcp_reset": node.at("enableTcpReset"),
            "protocol": node.at("protocol"),
        }
        origins = {k: self.doc.origin(v) for k, v in fields.items()}
        self.lb.rules.append(Placed(rule, self.doc.origin(node.pointer), origins))

    def _pool_from_list(self, pools: list[Node]) -> str | None:
        resource_id = pools[0].text("id", required=True)
        if resource_id is None:
            return None
        return id_segments(resource_id).get(CHILD_SEGMENTS["pool"])

    def nat(self, node: Node) -> None:
        name = node.text("name", required=True) or "<unnamed>"
        frontend = self.child_name(node, "frontendIPConfiguration", "frontend", required=True)
        protocol = node.choice("protocol", PROTOCOLS)
        if frontend is None or protocol is None:
            return
        if node.has("frontendPortRangeStart"):
            start = node.integer("frontendPortRangeStart")
            end = node.integer("frontendPortRangeEnd", start)
            self.doc.report(
                node.pointer,
                f"inbound NAT rule {name!r} maps a port range ({start}-{end}) to a pool; "
                "modelled by its first port",
                Severity.WARNING,
            )
            frontend_port = start
        else:
            frontend_port = node.integer("frontendPort", required=True)
        target: str | None = None
        target_id = node.ref("backendIPConfiguration") or self.nat_target_from_nics(name)
        if target_id is not None:
            member = self.inventory.member(target_id)
            listed = self.listed.get(id_key(target_id))
            if listed is not None:
                target = listed  # the balancer's own view, as for pool members
            elif member is None:
                self.doc.report(
                    node.at("backendIPConfiguration"),
                    f"inbound NAT rule {name!r}: target not resolved; "
                    + self.unresolved_nic(target_id, "-").split("; ", 1)[-1],
                    Severity.WARNING,
                )
            else:
                target = member.address
        nat = InboundNatRule(
            name=name,
            frontend=frontend,
            protocol=protocol,
            frontend_port=frontend_port,
            backend_port=node.integer("backendPort", required=True),
            target=target,
            floating_ip=node.boolean("enableFloatingIP"),
        )
        fields = {
            "frontend": self.doc.origin(node.at("frontendIPConfiguration")),
            "frontend_port": self.doc.origin(node.at("frontendPort", "frontendPortRangeStart")),
            "backend_port": self.doc.origin(node.at("backendPort")),
        }
        self.lb.nats.append(Placed(nat, self.doc.origin(node.pointer), fields))

    def nat_target_from_nics(self, name: str) -> str | None:
        """The ipconfig whose NIC declares this inbound NAT rule (ARM templates)."""
        probe = IdIndex()
        probe.put(f"{self.lb_id}/inboundNatRules/{name}", True)
        for ipc in self.inventory.ipconfigs.values():
            if isinstance(ipc, IpConfig) and any(probe.find(r) for r in ipc.nat_rule_ids):
                return ipc.id
        return None

    def outbound(self, node: Node) -> None:
        name = node.text("name", required=True) or "<unnamed>"
        frontends = [ref.text("id") for ref in node.children("frontendIPConfigurations")]
        names = [id_segments(f).get("frontendipconfigurations", f) for f in frontends if f]
        pool = self.child_name(node, "backendAddressPool", "pool", required=True)
        allocated = node.get("allocatedOutboundPorts")
        out = OutboundRule(
            name=name,
            frontends=tuple(names),
            pool=pool or "",
            protocol=node.choice("protocol", PROTOCOLS, Protocol.ALL),
            allocated_ports=node.integer("allocatedOutboundPorts") if allocated else None,
            idle_timeout_min=node.integer("idleTimeoutInMinutes", IDLE_TIMEOUT_DEFAULT_MIN),
        )
        self.lb.outbounds.append(Placed(out, self.doc.origin(node.pointer)))
