"""Lab scenarios as data: VMs, load balancer, traffic plan and what each attempt should show.

A :class:`Scenario` says *what* to build and *what should happen*; :mod:`pcapflow.lab.topology`,
:mod:`pcapflow.lab.nft` and :mod:`pcapflow.lab.runner` turn it into namespaces, rules and captures.
Addresses follow the seed write-up (Azure ILB hairpin): web01 10.2.1.4 (second NIC 10.2.1.5), web02
10.2.1.6, VIP 10.2.1.100, on-premises client 192.168.2.1, health probes from 168.63.129.16.

Expected labels are keyed by the *case* the balancer produced for an attempt, read from conntrack:

* ``self``   the balancer chose a member that is the calling VM itself (hairpin to self);
* ``member`` the balancer chose another member;
* ``none``   no balancer decision was recorded (served locally, or dropped before the balancer).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from pcapflow.errors import InputError

# ---- addresses of the seed topology -------------------------------------------------------------
GATEWAY = "10.2.1.1"
SUBNET = "10.2.1.0/24"
VIP = "10.2.1.100"
WEB01 = "10.2.1.4"
WEB01_NIC2 = "10.2.1.5"
WEB02 = "10.2.1.6"
NVA01 = "10.2.1.10"
CLIENT = "192.168.2.1"
CLIENT_SUBNET = "192.168.2.0/24"
CLIENT_GATEWAY = "192.168.2.254"
PROBE_SOURCE = "168.63.129.16"
GATEWAY6 = "fe80::1"
SUBNET6 = "fd00:2:1::/64"
VIP6 = "fd00:2:1::100"
WEB01_6 = "fd00:2:1::4"
WEB02_6 = "fd00:2:1::6"
CLIENT6 = "fd00:c0a8:2::1"
AZURE_HOST_MAC = "12:34:56:78:9a:bc"

CASES = ("self", "member", "none")
OUTCOMES = ("connected", "refused", "timeout", "reply", "no_reply")
LABELS = (
    "ok",
    "hairpin_other_backend",
    "hairpin_self",
    "floating_ip_guest_unconfigured",
    "refused",
    "filtered",
    "probe_asymmetric_route",
    "idle_timeout",
    "served_locally_refused",
    "unknown",
)
GUEST_COMMANDS = ("ip", "sysctl")  # the only programs a scenario's guest setup may run


@dataclass(frozen=True, slots=True)
class Nic:
    """One guest NIC: a veth whose peer is a port of the host (virtual switch) namespace."""

    name: str  # guest interface name: "eth0", "eth1"
    address: str | None  # IPv4 address (/24 in the subnet) or None
    address6: str | None = None  # IPv6 address (/128, routed via fe80::1) or None
    primary: bool = True  # carries the default route


@dataclass(frozen=True, slots=True)
class Vm:
    """A VM modelled as a network namespace."""

    name: str
    nics: tuple[Nic, ...]
    role: str = "backend"  # "backend" | "client" | "nva"
    listen_tcp: tuple[int, ...] = ()
    listen_udp: tuple[int, ...] = ()
    listen_echo: tuple[int, ...] = ()  # TCP echo ports: connections stay open (idle sessions)
    setup: tuple[str, ...] = ()  # guest commands (ip / sysctl), run in the VM's namespace
    upstreams: tuple[str, ...] = ()  # NVA only: addresses NGINX proxies to (port 80)

    def addresses(self) -> tuple[str, ...]:
        found = [a for n in self.nics for a in (n.address, n.address6) if a]
        return tuple(found)

    def nic_of(self, address: str) -> Nic | None:
        return next((n for n in self.nics if address in (n.address, n.address6)), None)


@dataclass(frozen=True, slots=True)
class LbRule:
    name: str
    protocol: str  # "tcp" | "udp"
    frontend_port: int
    backend_port: int
    floating_ip: bool = False
    idle_timeout_min: int = 4  # the balancer forgets an idle flow after this (host conntrack)
    preserve_client_ip: bool = True  # False: the balancer SNATs to the frontend (AWS NLB option)


@dataclass(frozen=True, slots=True)
class NsgDeny:
    """An NSG-like deny: ``source`` to any member on ``protocol``/``port`` is dropped."""

    name: str
    source: str  # address or CIDR
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class LbSpec:
    """The internal load balancer: one frontend (the VIP), one pool, its rules and probe."""

    vip: str
    members: tuple[str, ...]  # member addresses (NIC addresses of VMs)
    rules: tuple[LbRule, ...]
    probe_port: int | None = 80  # TCP probe from 168.63.129.16; None = members always healthy
    probe_interval_s: int = 5
    nsg: tuple[NsgDeny, ...] = ()
    cloud: str = "azure"  # the platform the lab models: "azure", "aws", "gcp", "kubernetes"
    local_on_members: bool = False  # GCP: the frontend is a local route on every backend
    hairpin_mode: str | None = None  # Kubernetes: kubelet --hairpin-mode the node runs with


@dataclass(frozen=True, slots=True)
class Expect:
    outcome: str  # what the client should see: connected/refused/timeout/reply/no_reply
    label: str  # the pcapflow label for the attempt


@dataclass(frozen=True, slots=True)
class Step:
    """A burst of connection attempts from one VM to a frontend, one per client port."""

    caller: str  # VM name
    source: str  # address the client binds to; "" = only the port, the kernel picks the address
    proto: str  # "tcp" | "udp"
    port: int  # frontend port
    first_port: int  # client port of the first attempt; the next use +1, +2, ...
    count: int
    expect: Mapping[str, Expect]  # case -> expectation
    gap_s: float = 0.3  # delay between two attempts of the step
    timeout_s: float = 3.0  # connect timeout: the SYN is sent at 0, 1 and 2 s
    idle_s: float = 0.0  # > 0: a session to an echo port: a line, idle_s of silence, a line

    def ports(self) -> range:
        return range(self.first_port, self.first_port + self.count)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    signature: str  # signatures of domain-hairpin.md section 4.3, e.g. "S1, S2"
    vms: tuple[Vm, ...]
    lb: LbSpec
    steps: tuple[Step, ...]
    probe_expect: Mapping[str, str] = field(default_factory=dict)  # member -> expected probe label
    require_cases: tuple[str, ...] = ()  # cases a committed sample must show (e.g. self and member)
    remediation: str | None = None  # name of the remediation applied, if any

    def vm(self, name: str) -> Vm:
        found = next((v for v in self.vms if v.name == name), None)
        if found is None:
            raise InputError(f"scenario {self.name}: no VM named {name!r}")
        return found

    def member_vm(self, address: str) -> Vm | None:
        return next((v for v in self.vms if address in v.addresses()), None)

    @property
    def kube(self) -> bool:
        """A Kubernetes node (bridge, pods, kube-proxy) rather than the cloud host model."""
        return self.lb.cloud == "kubernetes"

    @property
    def floating_ip(self) -> bool:
        return any(r.floating_ip for r in self.lb.rules)


@dataclass(frozen=True, slots=True)
class Remediation:
    """A change to a scenario's guests or load-balancer rules, and the expectations it brings."""

    name: str
    description: str
    applies_to: tuple[str, ...]
    floating_ip: bool | None = None  # set every rule's floating IP option
    guest_setup: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # VM -> commands
    backends_setup: tuple[str, ...] = ()  # commands run on every backend VM ({vip} substituted)
    healthy: bool = True  # every attempt is expected to succeed with label "ok"
    probe_expect: Mapping[str, str] = field(default_factory=dict)


# ---- building blocks ----------------------------------------------------------------------------
OK = Expect("connected", "ok")
UDP_OK = Expect("reply", "ok")
HAIRPIN = {
    "self": Expect("timeout", "hairpin_self"),
    "member": Expect("connected", "hairpin_other_backend"),
}
CLIENT_OK = {"member": OK}


def web(
    name: str,
    address: str,
    *,
    nic2: str | None = None,
    address6: str | None = None,
    setup: tuple[str, ...] = (),
    echo: tuple[int, ...] = (),
) -> Vm:
    """A backend VM serving HTTP on 80 and 443, a UDP echo on 5000 (and TCP echo on ``echo``)."""
    nics = [Nic("eth0", address, address6)]
    if nic2:
        nics.append(Nic("eth1", nic2, primary=False))
    return Vm(name, tuple(nics), "backend", (80, 443), (5000,), echo, setup)


def client(address6: str | None = None) -> Vm:
    return Vm("client", (Nic("eth0", CLIENT, address6),), role="client")


HTTP = LbRule("rule-http-80", "tcp", 80, 80)
WEB01_VM = web("web01", WEB01)
WEB02_VM = web("web02", WEB02)


def _client_step(count: int = 4, first_port: int = 40001, port: int = 80) -> Step:
    return Step("client", CLIENT, "tcp", port, first_port, count, CLIENT_OK)


def _web01_step(
    count: int, first_port: int = 41001, expect: Mapping[str, Expect] = HAIRPIN
) -> Step:
    return Step("web01", WEB01, "tcp", 80, first_port, count, expect)


# ---- the scenarios ------------------------------------------------------------------------------
SINGLE_BACKEND = Scenario(
    name="single-backend",
    description=(
        "One backend (web01). The on-premises client reaches the VIP; web01 calling its own VIP "
        "always fails: the DNAT'd SYN comes back to web01 with its own source (martian), no "
        "SYN-ACK."
    ),
    signature="S1",
    vms=(WEB01_VM, client()),
    lb=LbSpec(VIP, (WEB01,), (HTTP,)),
    steps=(_client_step(), _web01_step(4)),
    probe_expect={WEB01: "ok"},
    require_cases=("self", "member"),
)

HAIRPIN_TWO = Scenario(
    name="hairpin-two-backends",
    description=(
        "Two backends (web01, web02). web01 calls the VIP 16 times: the balancer picks a member "
        "per flow at random; attempts mapped to web02 connect, attempts mapped back to web01 time "
        "out (hairpin to self)."
    ),
    signature="S1, S2",
    vms=(WEB01_VM, WEB02_VM, client()),
    lb=LbSpec(VIP, (WEB01, WEB02), (HTTP,)),
    steps=(_client_step(), _web01_step(16)),
    probe_expect={WEB01: "ok", WEB02: "ok"},
    require_cases=("self", "member"),
)

_SECOND_NIC_ROUTE = f"ip route add {VIP}/32 via {GATEWAY} dev eth1 src {WEB01_NIC2}"
SECOND_NIC_PLAIN = Scenario(
    name="second-nic-plain",
    description=(
        "The seed's Windows workaround done on Linux: web01 gets a second NIC (10.2.1.5) and a "
        "route to the VIP through it. The DNAT'd SYN 10.2.1.5 -> 10.2.1.4 arrives on eth0 with a "
        "local source address and is dropped as martian: still no SYN-ACK."
    ),
    signature="S10",
    vms=(
        web("web01", WEB01, nic2=WEB01_NIC2, setup=(_SECOND_NIC_ROUTE,)),
        client(),
    ),
    lb=LbSpec(VIP, (WEB01,), (HTTP,)),
    steps=(
        _client_step(),
        Step("web01", WEB01_NIC2, "tcp", 80, 41001, 4, {"self": Expect("timeout", "hairpin_self")}),
    ),
    probe_expect={WEB01: "ok"},
    require_cases=("self",),
)

FLOATING_NO_VIP = Scenario(
    name="floating-ip-no-vip",
    description=(
        "The rule has Floating IP (DSR) enabled but no guest has the VIP configured: SYNs reach "
        "the backends with destination 10.2.1.100, which they do not own (ip_forward=0 drops "
        "them). Every attempt fails, while the health probes to the members' own addresses keep "
        "succeeding."
    ),
    signature="S4, S1b",
    vms=(WEB01_VM, WEB02_VM, client()),
    lb=LbSpec(VIP, (WEB01, WEB02), (dataclasses.replace(HTTP, floating_ip=True),)),
    steps=(
        Step("client", CLIENT, "tcp", 80, 40001, 4,
             {"member": Expect("timeout", "floating_ip_guest_unconfigured")}),
        _web01_step(4, expect={
            "self": Expect("timeout", "floating_ip_guest_unconfigured"),
            "member": Expect("timeout", "floating_ip_guest_unconfigured"),
        }),
    ),
    probe_expect={WEB01: "ok", WEB02: "ok"},
    require_cases=("self", "member"),
)  # fmt: skip

NVA_NGINX = Scenario(
    name="nva-nginx",
    description=(
        "The seed's workaround 3: an NGINX reverse proxy (nva01, 10.2.1.10) is the only member "
        "behind the VIP and proxies to web01 and web02. web01 calling the VIP works because the "
        "proxy opens a new connection from its own address (SNAT by proxy)."
    ),
    signature="S2 (via proxy)",
    vms=(
        Vm("nva01", (Nic("eth0", NVA01),), role="nva", upstreams=(WEB01, WEB02)),
        WEB01_VM,
        WEB02_VM,
        client(),
    ),
    lb=LbSpec(VIP, (NVA01,), (HTTP,)),
    steps=(_client_step(), _web01_step(6, expect={"member": OK})),
    probe_expect={NVA01: "ok"},
)

_PROBE_ASYM_MEMBER = WEB01_NIC2
PROBE_ASYMMETRIC = Scenario(
    name="probe-asymmetric",
    description=(
        "web01 has two NICs and its pool member is the second NIC (10.2.1.5). Probes arrive on "
        "eth1 but the reply leaves eth0 (default route); the host drops it (anti-spoofing), the "
        "probe fails and web01 leaves rotation: every client flow lands on web02."
    ),
    signature="S7",
    vms=(web("web01", WEB01, nic2=WEB01_NIC2), WEB02_VM, client()),
    lb=LbSpec(VIP, (_PROBE_ASYM_MEMBER, WEB02), (HTTP,)),
    steps=(dataclasses.replace(_client_step(8), gap_s=1.0),),  # long enough for two probe rounds
    probe_expect={_PROBE_ASYM_MEMBER: "probe_asymmetric_route", WEB02: "ok"},
)

MIXED = Scenario(
    name="mixed",
    description=(
        "Healthy, refused, filtered and hairpin flows together: client -> VIP:80 connects, client "
        "-> VIP:8080 is refused (no listener), client -> VIP:443 is dropped by an NSG rule, and "
        "web01 -> VIP:80 hairpins (some to web02, some to itself)."
    ),
    signature="S1, S2, S5, S6",
    vms=(WEB01_VM, WEB02_VM, client()),
    lb=LbSpec(
        VIP,
        (WEB01, WEB02),
        (
            HTTP,
            LbRule("rule-alt-8080", "tcp", 8080, 8080),
            LbRule("rule-https-443", "tcp", 443, 443),
        ),
        nsg=(NsgDeny("deny-onprem-443", CLIENT_SUBNET, "tcp", 443),),
    ),
    steps=(
        _client_step(6),
        Step("client", CLIENT, "tcp", 8080, 40101, 3, {"member": Expect("refused", "refused")}),
        Step("client", CLIENT, "tcp", 443, 40201, 3, {"none": Expect("timeout", "filtered")}),
        _web01_step(8),
    ),
    probe_expect={WEB01: "ok", WEB02: "ok"},
    require_cases=("self", "member", "none"),
)

UDP_SERVICE = Scenario(
    name="udp-service",
    description=(
        "A UDP service (port 5000) behind the VIP. The client gets replies; web01's datagrams "
        "mapped back to itself are dropped as martian (no reply, no ICMP), those mapped to web02 "
        "are answered from the VIP. Port 5001 is balanced too but nothing listens on it: the "
        "member answers with ICMP port unreachable, reverse-NATed to come from the VIP (refused)."
    ),
    signature="S1, S2, S5 (UDP)",
    vms=(WEB01_VM, WEB02_VM, client()),
    lb=LbSpec(
        VIP,
        (WEB01, WEB02),
        (LbRule("rule-udp-5000", "udp", 5000, 5000), LbRule("rule-udp-5001", "udp", 5001, 5001)),
    ),
    steps=(
        Step("client", CLIENT, "udp", 5000, 40001, 4, {"member": UDP_OK}),
        Step("client", CLIENT, "udp", 5001, 40101, 3, {"member": Expect("refused", "refused")}),
        Step("web01", WEB01, "udp", 5000, 41001, 12, {
            "self": Expect("no_reply", "hairpin_self"),
            "member": Expect("reply", "hairpin_other_backend"),
        }),
    ),
    probe_expect={WEB01: "ok", WEB02: "ok"},
    require_cases=("self", "member"),
)  # fmt: skip

ECHO_PORT = 7
IDLE_TIMEOUT_MIN = 1  # the lab's compressed idle timeout (Azure: 4..100 min)
IDLE_TIMEOUT = Scenario(
    name="idle-timeout",
    description=(
        "An echo service (TCP 7) behind the VIP with a 1-minute idle timeout (the balancer's "
        "conntrack forgets an established flow after 60 s of silence). The client opens two "
        "sessions: one exchanges a line, stays idle 65 s and sends again: the balancer no longer "
        "knows the flow and silently drops the packet (no TCP reset), the client retransmits "
        "unanswered; the other is idle only 20 s and gets its echo."
    ),
    signature="S9",
    vms=(
        web("web01", WEB01, echo=(ECHO_PORT,)),
        web("web02", WEB02, echo=(ECHO_PORT,)),
        client(),
    ),
    lb=LbSpec(
        VIP,
        (WEB01, WEB02),
        (LbRule("rule-echo-7", "tcp", ECHO_PORT, ECHO_PORT, idle_timeout_min=IDLE_TIMEOUT_MIN),),
    ),
    steps=(
        Step("client", CLIENT, "tcp", ECHO_PORT, 40001, 1,
             {"member": Expect("timeout", "idle_timeout")}, idle_s=65.0),
        Step("client", CLIENT, "tcp", ECHO_PORT, 40101, 1, {"member": OK}, idle_s=20.0),
    ),
    probe_expect={WEB01: "ok", WEB02: "ok"},
)  # fmt: skip

IPV6_FRONTEND = Scenario(
    name="ipv6-frontend",
    description=(
        "IPv6 frontend fd00:2:1::100 with web01 and web02. IPv6 has no martian-source check: the "
        "hairpinned SYN is accepted, web01's SYN-ACK to itself goes over lo and is answered with a "
        "RST, so the call still times out; eth0 looks like the IPv4 case. Members are always "
        "healthy (no IPv6 probes in the lab)."
    ),
    signature="S1, S2 (IPv6)",
    vms=(
        web("web01", WEB01, address6=WEB01_6),
        web("web02", WEB02, address6=WEB02_6),
        client(address6=CLIENT6),
    ),
    lb=LbSpec(VIP6, (WEB01_6, WEB02_6), (HTTP,), probe_port=None),
    steps=(
        Step("client", CLIENT6, "tcp", 80, 40001, 4, CLIENT_OK),
        Step("web01", WEB01_6, "tcp", 80, 41001, 12, HAIRPIN),
    ),
    require_cases=("self", "member"),
)

# ---- AWS Network Load Balancer ----------------------------------------------------------------
AWS_NLB = Scenario(
    name="aws-nlb-preserve-client-ip",
    description=(
        "AWS internal Network Load Balancer (10.2.1.100, TCP 80, instance targets web01 and "
        "web02) with client IP preservation, the default for instance targets: the NLB rewrites "
        "only the destination. web01 calls the NLB 12 times: routed to web02 it connects, routed "
        "to itself source and destination are equal and the connection times out (AWS: "
        "'Internal load balancers do not support hairpinning or loopback')."
    ),
    signature="S1, S2 (AWS NLB)",
    vms=(WEB01_VM, WEB02_VM, client()),
    lb=LbSpec(VIP, (WEB01, WEB02), (HTTP,), probe_port=None, cloud="aws"),
    steps=(_client_step(), _web01_step(12)),
    require_cases=("self", "member"),
)

AWS_NLB_NO_PRESERVE = dataclasses.replace(
    AWS_NLB,
    name="aws-nlb-no-preserve-client-ip",
    description=(
        "The same NLB with the target group attribute preserve_client_ip.enabled=false (the AWS "
        "fix): the NLB replaces the source with its own private address 10.2.1.100 (SNAT), so a "
        "target routed to itself sees 10.2.1.100 -> 10.2.1.4 and answers. Every call connects, "
        "whichever target is picked: no hairpin failure, no hairpin risk."
    ),
    signature="S2 negative (AWS NLB, SNAT)",
    lb=LbSpec(
        VIP,
        (WEB01, WEB02),
        (dataclasses.replace(HTTP, preserve_client_ip=False),),
        probe_port=None,
        cloud="aws",
    ),
    steps=(_client_step(), _web01_step(12, expect={"self": OK, "member": OK})),
)

# ---- Google Cloud internal passthrough Network Load Balancer ----------------------------------
# the Google guest environment's route for a forwarding rule of an internal passthrough NLB
GCP_LOCAL_ROUTE = f"ip route add to local {VIP}/32 dev eth0 proto 66 table local"
GCP_WEB01 = web("web01", WEB01, setup=(GCP_LOCAL_ROUTE,))
GCP_WEB02 = web("web02", WEB02, setup=(GCP_LOCAL_ROUTE,))
GCP_LB = LbSpec(
    VIP,
    (WEB01, WEB02),
    (dataclasses.replace(HTTP, floating_ip=True),),  # passthrough: the destination is kept
    probe_port=None,
    cloud="gcp",
    local_on_members=True,
)
SERVED_LOCALLY = Expect("connected", "ok")
LOCAL_REFUSED = Expect("refused", "served_locally_refused")

GCP_ILB = Scenario(
    name="gcp-ilb-local-route",
    description=(
        "Google Cloud internal passthrough Network Load Balancer (forwarding rule 10.2.1.100, "
        "TCP 80, backends web01 and web02). Packets reach a backend with the forwarding rule's "
        "address as destination, and the guest environment has installed that address as a "
        "local route on every backend. The client's calls are balanced; web01's own calls to "
        "10.2.1.100 never leave web01: they are served by web01 itself over lo, every time."
    ),
    signature="S3 (Google Cloud, by design)",
    vms=(GCP_WEB01, GCP_WEB02, client()),
    lb=GCP_LB,
    steps=(
        _client_step(),
        Step("web01", "", "tcp", 80, 41001, 6, {"none": SERVED_LOCALLY}),
    ),
    require_cases=("member", "none"),
)

GCP_ILB_DOWN = Scenario(
    name="gcp-ilb-local-route-service-down",
    description=(
        "The same Google Cloud backends, but web01's own HTTP service is down (nothing listens "
        "on port 80 on web01) while web02 serves. web01's calls to the forwarding rule are still "
        "answered by web01 itself, over lo: refused at once, although a healthy backend exists. "
        "By design of the platform, not a balancer fault."
    ),
    signature="S3 failure (Google Cloud, caller's service down)",
    vms=(
        Vm("web01", (Nic("eth0", WEB01),), "backend", (443,), (5000,), (), (GCP_LOCAL_ROUTE,)),
        GCP_WEB02,
    ),
    lb=GCP_LB,
    steps=(Step("web01", "", "tcp", 80, 41001, 4, {"none": LOCAL_REFUSED}),),
    require_cases=("none",),
)

# ---- Kubernetes: a Service through kube-proxy (iptables mode) on a bridge CNI --------------------
CLUSTER_IP = "10.96.0.10"
POD_WEB1 = "10.244.1.2"
POD_WEB2 = "10.244.1.3"
POD_CLIENT = "10.244.1.4"
POD_PORT = 8080


def pod(name: str, address: str, role: str = "backend") -> Vm:
    """A pod: one eth0 on the node's bridge; endpoints serve HTTP on 8080."""
    listen = (POD_PORT,) if role == "backend" else ()
    return Vm(name, (Nic("eth0", address),), role, listen)


K8S_HAIRPIN_OFF = Scenario(
    name="k8s-hairpin-off",
    description=(
        "Kubernetes Service default/web (ClusterIP 10.96.0.10:80 -> pods web1 10.244.1.2 and "
        "web2 10.244.1.3 on port 8080) through kube-proxy's iptables rules on node-1, whose "
        "bridge cni0 has hairpin_mode off on every port (kubelet --hairpin-mode=none). web1 calls "
        "its own Service 12 times: kube-proxy picks an endpoint at random per SYN; sent to web2 "
        "it connects, sent back to web1 the SYN returns un-masqueraded with web1's own source "
        "(martian): no answer, and the call times out when every SYN of it picks web1."
    ),
    signature="S1, S2 (Kubernetes, hairpin off)",
    vms=(pod("web1", POD_WEB1), pod("web2", POD_WEB2), pod("client", POD_CLIENT, "client")),
    lb=LbSpec(
        CLUSTER_IP,
        (POD_WEB1, POD_WEB2),
        (LbRule("http", "tcp", 80, POD_PORT),),  # the Service port named http
        probe_port=None,
        cloud="kubernetes",
        hairpin_mode="none",
    ),
    steps=(
        Step("client", POD_CLIENT, "tcp", 80, 40001, 4, CLIENT_OK),
        Step("web1", POD_WEB1, "tcp", 80, 41001, 12, HAIRPIN, timeout_s=1.5),
    ),
    require_cases=("self", "member"),
)

K8S_HAIRPIN_ON = dataclasses.replace(
    K8S_HAIRPIN_OFF,
    name="k8s-hairpin-on",
    description=(
        "The same Service with hairpin_mode on on the bridge ports (kubelet "
        "--hairpin-mode=hairpin-veth, the fix): a SYN kube-proxy sends back to web1 leaves the "
        "bridge by the port it came in on, masqueraded by KUBE-POSTROUTING to the node's bridge "
        "address 10.244.1.1, and web1 answers it. Every call connects."
    ),
    signature="S2 negative (Kubernetes, hairpin on)",
    lb=dataclasses.replace(K8S_HAIRPIN_OFF.lb, hairpin_mode="hairpin-veth"),
    steps=(
        Step("client", POD_CLIENT, "tcp", 80, 40001, 4, CLIENT_OK),
        Step("web1", POD_WEB1, "tcp", 80, 41001, 12, {"self": OK, "member": OK}, timeout_s=1.5),
    ),
)

# ---- remediations -------------------------------------------------------------------------------
LOOPBACK_VIP = Remediation(
    name="loopback-vip-floating-ip",
    description=(
        "Enable Floating IP on the rule and put the VIP as a /32 on every backend's lo "
        "(arp_ignore=1, arp_announce=2): a backend's call to the VIP is served locally over lo."
    ),
    applies_to=("single-backend", "hairpin-two-backends", "floating-ip-no-vip"),
    floating_ip=True,
    backends_setup=(
        "ip addr add {vip}/32 dev lo",
        "sysctl -qw net.ipv4.conf.all.arp_ignore=1",
        "sysctl -qw net.ipv4.conf.all.arp_announce=2",
    ),
)

POLICY_ROUTING = Remediation(
    name="policy-routing",
    description=(
        "Second NIC made to work on Linux: replies from 10.2.1.4 to 10.2.1.5 are sent to the wire "
        "(rule 'from 10.2.1.4 to 10.2.1.5 iif lo lookup 100' before the local table) so that the "
        "balancer's reverse NAT sees them."
    ),
    applies_to=("second-nic-plain",),
    guest_setup={
        "web01": (
            "ip rule add pref 1000 lookup local",
            "ip rule del pref 0 lookup local",
            f"ip rule add pref 100 from {WEB01} to {WEB01_NIC2} iif lo lookup 100",
            f"ip route add {WEB01_NIC2}/32 via {GATEWAY} dev eth0 onlink table 100",
        )
    },
)

ACCEPT_LOCAL = Remediation(
    name="accept-local",
    description=(
        "A tempting fix that does NOT work: accept_local=1 on web01 lets the DNAT'd SYN from "
        "10.2.1.5 in, but the SYN-ACK to 10.2.1.5 is a local destination: it goes over lo, never "
        "passes the balancer's reverse NAT, and the client socket answers it with a RST (only a lo "
        "capture shows it). The attempts still time out."
    ),
    applies_to=("second-nic-plain",),
    guest_setup={
        "web01": (
            "sysctl -qw net.ipv4.conf.all.accept_local=1",
            "sysctl -qw net.ipv4.conf.eth0.accept_local=1",
        )
    },
    healthy=False,
)

PROBE_POLICY_ROUTING = Remediation(
    name="probe-policy-routing",
    description=(
        "Answer the probe on the NIC it arrived on: source policy routing for 10.2.1.5 (table 200 "
        "via eth1)."
    ),
    applies_to=("probe-asymmetric",),
    guest_setup={
        "web01": (
            f"ip route add default via {GATEWAY} dev eth1 table 200",
            f"ip route add {PROBE_SOURCE}/32 via {GATEWAY} dev eth1 table 200",
            f"ip rule add pref 200 from {WEB01_NIC2} lookup 200",
        )
    },
    probe_expect={_PROBE_ASYM_MEMBER: "ok"},
)

REMEDIATIONS: dict[str, Remediation] = {
    r.name: r for r in (LOOPBACK_VIP, POLICY_ROUTING, ACCEPT_LOCAL, PROBE_POLICY_ROUTING)
}


def success_outcome(proto: str) -> str:
    return "reply" if proto == "udp" else "connected"


def apply_remediation(
    scenario: Scenario, remediation: Remediation, name: str | None = None
) -> Scenario:
    """The scenario with the remediation's guest commands, rule options and expectations applied."""
    if scenario.name not in remediation.applies_to:
        raise InputError(
            f"remediation {remediation.name!r} does not apply to scenario {scenario.name!r} "
            f"(it applies to: {', '.join(remediation.applies_to)})"
        )
    vms = tuple(_remediate_vm(vm, scenario, remediation) for vm in scenario.vms)
    rules = scenario.lb.rules
    if remediation.floating_ip is not None:
        rules = tuple(dataclasses.replace(r, floating_ip=remediation.floating_ip) for r in rules)
    steps = scenario.steps
    if remediation.healthy:
        steps = tuple(_healthy(step) for step in steps)
    return dataclasses.replace(
        scenario,
        name=name or f"{scenario.name}+{remediation.name}",
        vms=vms,
        lb=dataclasses.replace(scenario.lb, rules=rules),
        steps=steps,
        probe_expect={**scenario.probe_expect, **remediation.probe_expect},
        require_cases=(),
        remediation=remediation.name,
    )


def _remediate_vm(vm: Vm, scenario: Scenario, remediation: Remediation) -> Vm:
    extra = list(remediation.guest_setup.get(vm.name, ()))
    if vm.role == "backend":
        extra += [c.format(vip=scenario.lb.vip) for c in remediation.backends_setup]
    return dataclasses.replace(vm, setup=(*vm.setup, *extra)) if extra else vm


def _healthy(step: Step) -> Step:
    ok = Expect(success_outcome(step.proto), "ok")
    return dataclasses.replace(step, expect=dict.fromkeys(CASES, ok))


SECOND_NIC_POLICY = dataclasses.replace(
    apply_remediation(SECOND_NIC_PLAIN, POLICY_ROUTING, name="second-nic-policy-routing"),
    description=(
        "The second NIC with Linux policy routing (domain-hairpin.md 3.5): web01's reply to "
        "10.2.1.5 goes out of eth0 to the balancer, is reverse-NATed to the VIP and delivered to "
        "eth1. web01 -> VIP from 10.2.1.5 connects."
    ),
    signature="S10 (remediated)",
    require_cases=("self",),
)

LOOPBACK_FLOATING = dataclasses.replace(
    apply_remediation(HAIRPIN_TWO, LOOPBACK_VIP, name="loopback-vip-floating-ip"),
    description=(
        "Floating IP on, VIP 10.2.1.100/32 on every backend's lo. Client flows reach a backend "
        "with destination 10.2.1.100 and connect; web01's own calls to the VIP never leave web01: "
        "they are served over lo (10.2.1.100:p -> 10.2.1.100:80), nothing on eth0."
    ),
    signature="S3",
    steps=tuple(
        dataclasses.replace(step, source="") if step.caller == "web01" else step
        for step in apply_remediation(HAIRPIN_TWO, LOOPBACK_VIP).steps
    ),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        SINGLE_BACKEND,
        HAIRPIN_TWO,
        SECOND_NIC_PLAIN,
        SECOND_NIC_POLICY,
        LOOPBACK_FLOATING,
        FLOATING_NO_VIP,
        NVA_NGINX,
        PROBE_ASYMMETRIC,
        MIXED,
        UDP_SERVICE,
        IPV6_FRONTEND,
        IDLE_TIMEOUT,
        AWS_NLB,
        AWS_NLB_NO_PRESERVE,
        GCP_ILB,
        GCP_ILB_DOWN,
        K8S_HAIRPIN_OFF,
        K8S_HAIRPIN_ON,
    )
}


def get_scenario(name: str, remediation: str | None = None) -> Scenario:
    """The named scenario, with the named remediation applied when given."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise InputError(f"unknown lab scenario {name!r} (known: {', '.join(SCENARIOS)})")
    if remediation is None:
        return scenario
    rem = REMEDIATIONS.get(remediation)
    if rem is None:
        raise InputError(f"unknown remediation {remediation!r} (known: {', '.join(REMEDIATIONS)})")
    return apply_remediation(scenario, rem)


def expectation(step: Step, case: str) -> Expect:
    """What the design says an attempt of ``step`` in ``case`` should show."""
    return step.expect.get(case, Expect("?", "unknown"))
