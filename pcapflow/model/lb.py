"""The declared load-balancer configuration: one typed, immutable model for every input format.

Loaders in :mod:`pcapflow.lbconfig` turn pcapflow YAML, ``az network lb show`` JSON, ARM templates,
Terraform JSON and command-line declarations into a :class:`LbConfig`.  Analysis only ever sees
this model.  Addresses are canonical text (``ipaddress`` ``str()``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

AZURE_PROBE_SOURCE = "168.63.129.16"


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ALL = "all"  # HA ports (with frontend_port = backend_port = 0)

    def matches(self, proto: str) -> bool:
        return self is Protocol.ALL or self.value == proto


class Distribution(StrEnum):
    """How the balancer picks a member for a new flow."""

    DEFAULT = "default"  # 5-tuple hash: a hairpin fails at about 1/N
    SOURCE_IP = "source_ip"  # 2-tuple: a caller always lands on the same member
    SOURCE_IP_PROTOCOL = "source_ip_protocol"  # 3-tuple


class ProbeProtocol(StrEnum):
    TCP = "tcp"
    HTTP = "http"
    HTTPS = "https"


@dataclass(frozen=True, slots=True)
class Frontend:
    """A frontend IP configuration: the VIP clients connect to."""

    name: str
    address: str
    private: bool = True
    subnet: str | None = None  # CIDR of the subnet the frontend lives in, when known
    zones: tuple[str, ...] = ()
    # Google Cloud internal passthrough NLB: the guest environment installs the forwarding
    # rule's address on every backend, so a backend calling it is answered by itself.
    local_on_members: bool = False


@dataclass(frozen=True, slots=True)
class Member:
    """One backend pool member.  ``address`` is the IP the balancer delivers to."""

    address: str
    vm: str | None = None
    nic: str | None = None  # NIC name or resource id
    ip_config: str | None = None  # NIC ipconfig resource id
    mac: str | None = None
    os: str | None = None  # "linux" | "windows" when known
    node: str | None = None  # Kubernetes: the node the pod runs on


@dataclass(frozen=True, slots=True)
class BackendPool:
    name: str
    members: tuple[Member, ...] = ()

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(m.address for m in self.members)


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    protocol: ProbeProtocol
    port: int
    path: str | None = None
    interval_s: int = 5
    count: int = 1  # consecutive failures (numberOfProbes / probe threshold)
    source: str = AZURE_PROBE_SOURCE  # "" when the probes come from ``source_ranges`` only
    # Google Cloud (its documented prober ranges) and AWS (the NLB's own address in each zone)
    # probe from several addresses: networks in CIDR form.  Empty (Azure): ``source`` alone.
    source_ranges: tuple[str, ...] = ()

    def comes_from(self, address: str) -> bool:
        """Whether a packet from ``address`` may be this probe."""
        if self.source and _canon(self.source) == _canon(address):
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.source_ranges)


@dataclass(frozen=True, slots=True)
class Rule:
    """A load-balancing rule: frontend:port/proto -> pool:backend_port."""

    name: str
    frontend: str  # Frontend.name
    protocol: Protocol
    frontend_port: int  # 0 with Protocol.ALL = HA ports
    backend_port: int  # 0 = no port translation
    pool: str  # BackendPool.name
    probe: str | None = None  # Probe.name
    floating_ip: bool = False
    idle_timeout_min: int = 4
    tcp_reset: bool = False
    distribution: Distribution = Distribution.DEFAULT
    disable_outbound_snat: bool = False
    # AWS NLB target group attribute preserve_client_ip.enabled (Azure and GCP always keep the
    # client's address).  False: the balancer puts its own address as source (no self-hairpin).
    preserve_client_ip: bool = True

    @property
    def ha_ports(self) -> bool:
        return self.protocol is Protocol.ALL and self.any_port

    @property
    def any_port(self) -> bool:
        """Frontend port 0: every port (HA ports; a Google Cloud forwarding rule with allPorts)."""
        return self.frontend_port == 0

    def matches_port(self, port: int) -> bool:
        return self.any_port or self.frontend_port == port

    def backend_port_for(self, frontend_port: int) -> int:
        return frontend_port if self.backend_port == 0 else self.backend_port


@dataclass(frozen=True, slots=True)
class InboundNatRule:
    name: str
    frontend: str
    protocol: Protocol
    frontend_port: int
    backend_port: int
    target: str | None = None  # member address
    floating_ip: bool = False


@dataclass(frozen=True, slots=True)
class OutboundRule:
    name: str
    frontends: tuple[str, ...]
    pool: str
    protocol: Protocol = Protocol.ALL
    allocated_ports: int | None = None
    idle_timeout_min: int = 4


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    name: str
    frontends: tuple[Frontend, ...] = ()
    pools: tuple[BackendPool, ...] = ()
    rules: tuple[Rule, ...] = ()
    probes: tuple[Probe, ...] = ()
    inbound_nat_rules: tuple[InboundNatRule, ...] = ()
    outbound_rules: tuple[OutboundRule, ...] = ()
    cloud: str = "azure"  # "azure", "aws", "gcp", "kubernetes", "generic"
    sku: str = "Standard"
    internal: bool = True
    resource_group: str | None = None
    subscription: str | None = None
    location: str | None = None
    hairpin_mode: str | None = None  # Kubernetes: kubelet --hairpin-mode of the nodes, if known

    def frontend(self, name: str) -> Frontend | None:
        return next((f for f in self.frontends if f.name == name), None)

    def pool(self, name: str) -> BackendPool | None:
        return next((p for p in self.pools if p.name == name), None)

    def probe(self, name: str | None) -> Probe | None:
        return next((p for p in self.probes if p.name == name), None)


# kubelet --hairpin-mode values with which the node's bridge sends a frame back out of the port
# it came in on (Kubernetes docs, "A Pod fails to reach itself via the Service IP")
REFLECTING_HAIRPIN_MODES = frozenset({"hairpin-veth", "promiscuous-bridge"})


@dataclass(frozen=True, slots=True)
class Platform:
    """What a platform's balancer does that the analysis must know: facts as data, cited in
    docs/analysis.md (platform behaviour)."""

    picks: str = ""  # how a member is picked, said with the expected 1/N failure rate
    masquerades_hairpin: bool = False  # a call sent back to the caller leaves with another source


PLATFORMS: dict[str, Platform] = {
    "azure": Platform(),
    "generic": Platform(),
    "aws": Platform(picks="the NLB picks a target per flow (flow hash)"),
    "gcp": Platform(picks="the load balancer picks a backend per flow (5-tuple hash)"),
    "kubernetes": Platform(
        picks="kube-proxy (iptables mode) picks an endpoint at random for each SYN until one "
        "is answered: a call fails only when every SYN it sends picks the caller",
        masquerades_hairpin=True,  # KUBE-SEP-*: -s <podIP> -j KUBE-MARK-MASQ
    ),
}


def platform(cloud: str) -> Platform:
    return PLATFORMS.get(cloud, Platform())


def rewrites_source(lb: LoadBalancer, rule: Rule) -> bool:
    """The balancer may put another source on the translated leg of this rule."""
    return not rule.preserve_client_ip or platform(lb.cloud).masquerades_hairpin


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule located by address: which balancer, frontend, rule and pool it belongs to."""

    lb: LoadBalancer
    frontend: Frontend
    rule: Rule
    pool: BackendPool

    @property
    def members(self) -> tuple[Member, ...]:
        return self.pool.members

    @property
    def source_translated(self) -> bool:
        """The balancer may rewrite the caller's address on the translated leg: the rule does
        not preserve the client IP (AWS), or the platform masquerades a hairpin (kube-proxy)."""
        return rewrites_source(self.lb, self.rule)

    @property
    def self_call_works(self) -> str:
        """Why a member's call to this frontend is answered even when the balancer picks the
        member itself ("" when nothing makes it work: the hairpin fails at about 1/N)."""
        if not self.rule.preserve_client_ip:
            return (
                "client IP preservation is off (preserve_client_ip=false): the balancer puts its "
                "own address as source, so a call sent back to the caller is answered"
            )
        if self.lb.hairpin_mode in REFLECTING_HAIRPIN_MODES:
            return (
                f"the node's bridge reflects hairpin traffic (hairpin mode {self.lb.hairpin_mode}) "
                "and kube-proxy masquerades it, so a call sent back to the caller is answered"
            )
        return ""


@dataclass(frozen=True, slots=True)
class LbConfig:
    """Everything declared about the load balancers involved in an analysis."""

    load_balancers: tuple[LoadBalancer, ...] = ()
    sources: tuple[str, ...] = field(default=())  # files / declarations it was loaded from

    # ---- queries the analysis needs -------------------------------------------------------
    def rules_for(self, vip: str, port: int, proto: str) -> tuple[RuleMatch, ...]:
        """Rules whose frontend is ``vip`` and that accept ``port``/``proto``."""
        vip = _canon(vip)
        found: list[RuleMatch] = []
        for lb in self.load_balancers:
            for rule in lb.rules:
                fe, pool = lb.frontend(rule.frontend), lb.pool(rule.pool)
                if fe is None or pool is None or _canon(fe.address) != vip:
                    continue
                if rule.protocol.matches(proto) and rule.matches_port(port):
                    found.append(RuleMatch(lb, fe, rule, pool))
        return tuple(found)

    def explain(self, vip: str, vport: int, dst: str, dport: int, proto: str) -> RuleMatch | None:
        """The rule that explains rewriting ``vip:vport`` into ``dst:dport``, if any.

        Floating IP keeps the destination address (the VIP) and may change only the port.
        """
        dst = _canon(dst)
        for match in self.rules_for(vip, vport, proto):
            if match.rule.backend_port_for(vport) != dport:
                continue
            if match.rule.floating_ip and dst == _canon(vip):
                return match
            if not match.rule.floating_ip and dst in map(_canon, match.pool.addresses):
                return match
        return None

    def is_frontend(self, address: str) -> bool:
        address = _canon(address)
        return any(_canon(f.address) == address for lb in self.load_balancers for f in lb.frontends)

    def is_member(self, address: str) -> bool:
        address = _canon(address)
        return any(
            _canon(m.address) == address
            for lb in self.load_balancers
            for p in lb.pools
            for m in p.members
        )

    def member(self, address: str) -> Member | None:
        address = _canon(address)
        for lb in self.load_balancers:
            for pool in lb.pools:
                for m in pool.members:
                    if _canon(m.address) == address:
                        return m
        return None

    def is_probe_source(self, address: str) -> bool:
        address = _canon(address)
        return (
            any(p.comes_from(address) for lb in self.load_balancers for p in lb.probes)
            or address == AZURE_PROBE_SOURCE
        )

    def probe_ports(self) -> frozenset[int]:
        return frozenset(p.port for lb in self.load_balancers for p in lb.probes)

    @property
    def empty(self) -> bool:
        return not self.load_balancers


def _canon(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address
