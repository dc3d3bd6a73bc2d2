"""Google Cloud passthrough Network Load Balancers from ``gcloud compute ... --format json``.

Documents (unmodified ``--format json`` output, in any order and number; ``describe`` gives one
resource, ``list`` a list of them)::

    gcloud compute forwarding-rules describe|list        kind compute#forwardingRule
    gcloud compute backend-services describe|list        kind compute#backendService
    gcloud compute health-checks describe|list           kind compute#healthCheck
    gcloud compute instances list|describe               kind compute#instance  (networkIP)
    gcloud compute instance-groups unmanaged|managed list-instances GROUP   [{"instance": URL}]
    gcloud compute network-endpoint-groups list-network-endpoints NEG  [{"networkEndpoint": ...}]

``list-instances`` output does not name its group: with one instance group among the backends it
belongs to that group; with several, wrap it as ``{"instanceGroup": URL, "instances": [...]}``
(``list-network-endpoints``: ``{"networkEndpointGroup": URL, "endpoints": [...]}``).
A backend service with its forwarding rules becomes one
:class:`~pcapflow.model.lb.LoadBalancer` (``cloud="gcp"``): one frontend per forwarding-rule
address, one rule per forwarding rule and port, the instances of its instance groups as the pool,
its health check as the probe (from Google's documented prober ranges).  Internal passthrough
balancers deliver packets still addressed to the forwarding rule (``floating_ip``) and the guest
environment installs that address on every backend (``local_on_members``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcapflow.lbconfig.draft import LbDraft, Loaded, Placed, assemble_set
from pcapflow.lbconfig.node import Node
from pcapflow.lbconfig.problems import Document, Problem, Severity, pointer_join
from pcapflow.lbconfig.vocab import canonical_ip
from pcapflow.model.lb import Distribution, Frontend, Member, Probe, ProbeProtocol, Protocol, Rule

KINDS = (
    "compute#forwardingrule",
    "compute#backendservice",
    "compute#healthcheck",
    "compute#instance",
    "compute#instancegroup",
)
# Google Cloud "Health checks overview", probe IP ranges and firewall rules (and "Firewall
# rules" for load balancers): probes of internal passthrough NLBs come from these ranges.
GCP_PROBE_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
FORWARDING_PROTOCOLS = {"tcp": Protocol.TCP, "udp": Protocol.UDP, "l3_default": Protocol.ALL}
PASSTHROUGH_SCHEMES = {"internal": True, "external": False}  # scheme -> internal
SESSION_AFFINITY = {
    "none": Distribution.DEFAULT,
    "client_ip_port_proto": Distribution.DEFAULT,
    "client_ip_proto": Distribution.SOURCE_IP_PROTOCOL,
    "client_ip": Distribution.SOURCE_IP,
    "client_ip_no_destination": Distribution.SOURCE_IP,
}
HEALTH_CHECK_TYPES = {
    "tcp": ("tcpHealthCheck", ProbeProtocol.TCP),
    "http": ("httpHealthCheck", ProbeProtocol.HTTP),
    "https": ("httpsHealthCheck", ProbeProtocol.HTTPS),
    "http2": ("http2HealthCheck", ProbeProtocol.HTTPS),
}
# REST defaults (compute v1 healthChecks, backendServices.connectionTrackingPolicy)
CHECK_INTERVAL_DEFAULT_S = 5
UNHEALTHY_THRESHOLD_DEFAULT = 2
IDLE_TIMEOUT_DEFAULT_S = 600
PORT_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def url_key(url: str) -> str:
    """A comparison key for a resource URL: from ``projects/`` on, case-folded (gcloud prints
    ``https://www.googleapis.com/compute/v1/projects/...``; Terraform ``projects/...`` too)."""
    text = url.strip().rstrip("/")
    at = text.find("projects/")
    return (text[at:] if at >= 0 else text).casefold()


def url_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _kind(item: Any) -> str:
    return str(item.get("kind", "")).casefold() if isinstance(item, Mapping) else ""


@dataclass(frozen=True)
class MemberList:
    """A gcloud output listing a backend's members without naming the backend."""

    collection: str  # in the backend's URL
    wrapper: str  # key naming the backend when the output is wrapped
    items: str  # key of the list in the wrapped form
    item: str  # key each list item has
    what: str
    command: str


MEMBER_LISTS = (
    MemberList("/instancegroups/", "instanceGroup", "instances", "instance", "instance group",
               "gcloud compute instance-groups list-instances"),
    MemberList("/networkendpointgroups/", "networkEndpointGroup", "endpoints", "networkEndpoint",
               "network endpoint group",
               "gcloud compute network-endpoint-groups list-network-endpoints"),
)  # fmt: skip


def _member_list(data: Any) -> MemberList | None:
    """The kind of a bare member list (list-instances, list-network-endpoints output)."""
    if not isinstance(data, list) or not data:
        return None
    for kind in MEMBER_LISTS:
        if all(isinstance(i, Mapping) and i.get(kind.item) is not None for i in data):
            return kind
    return None


def _wrapped_list(data: Any) -> MemberList | None:
    if not isinstance(data, Mapping):
        return None
    return next((k for k in MEMBER_LISTS if k.wrapper in data and k.items in data), None)


def _list_kind(url: str) -> MemberList | None:
    return next((k for k in MEMBER_LISTS if k.collection in url_key(url)), None)


def is_gcloud_document(data: Any) -> bool:
    if isinstance(data, Mapping):
        return _kind(data) in KINDS or _wrapped_list(data) is not None
    if isinstance(data, list) and data:
        return all(_kind(i) in KINDS for i in data) or _member_list(data) is not None
    return False


@dataclass
class _Set:
    rules: list[Node] = field(default_factory=list)
    services: dict[str, Node] = field(default_factory=dict)  # url key -> backend service
    checks: dict[str, Node] = field(default_factory=dict)
    instances: dict[str, Node] = field(default_factory=dict)
    instance_names: dict[str, str] = field(default_factory=dict)  # name -> url key (the last)
    # (kind, wrapper or None, the backend it names or None, its items, document)
    group_lists: list[tuple[MemberList, Node | None, str | None, list[Node], Document]] = field(
        default_factory=list
    )
    members: dict[str, list[Node]] = field(default_factory=dict)  # backend key -> its items


def load_gcloud(items: Sequence[tuple[Any, Document]]) -> Loaded:
    """A set of gcloud documents -> one balancer per backend service of a passthrough rule."""
    found = _Set()
    for data, doc in items:
        _index(found, data, doc)
    found.instance_names = {url_name(key): key for key in found.instances}
    _assign_groups(found)
    drafts: dict[str, LbDraft] = {}
    for rule in found.rules:
        _forwarding_rule(found, drafts, rule)
    docs = list({id(doc): doc for _, doc in items}.values())
    if not found.rules:
        docs[0].report("", "no `gcloud compute forwarding-rules describe` output in the documents")
    problems: list[Problem] = [p for doc in docs for p in doc.problems]
    return assemble_set(drafts.values(), problems, [doc.name for doc in docs])


def _index(found: _Set, data: Any, doc: Document) -> None:
    bare = _member_list(data)
    if bare is not None:
        nodes = [Node(v, pointer_join("", i), doc) for i, v in enumerate(data)]
        found.group_lists.append((bare, None, None, nodes, doc))
        return
    wrapped = _wrapped_list(data)
    if wrapped is not None:
        top = Node(data, "", doc)
        group = top.text(wrapped.wrapper, required=True)
        found.group_lists.append((wrapped, top, group, top.children(wrapped.items), doc))
        return
    entries = data if isinstance(data, list) else [data]
    for i, raw in enumerate(entries):
        node = Node(raw, pointer_join("", i) if isinstance(data, list) else "", doc)
        kind = _kind(raw)
        link = node.text("selfLink")
        if kind == "compute#forwardingrule":
            found.rules.append(node)
        elif link is None:
            node.doc.report(node.at("selfLink"), f"{kind} without selfLink: cannot be referenced")
        elif kind == "compute#backendservice":
            found.services[url_key(link)] = node
        elif kind == "compute#healthcheck":
            found.checks[url_key(link)] = node
        elif kind == "compute#instance":
            found.instances[url_key(link)] = node


def _assign_groups(found: _Set) -> None:
    """Give each list-instances (list-network-endpoints) document its group."""
    backends = {
        url_key(g)
        for service in found.services.values()
        for backend in service.children("backends")
        if isinstance(g := backend.get("group"), str)
    }
    for kind, top, group, nodes, doc in found.group_lists:
        groups = {g for g in backends if kind.collection in g}
        if group is None:
            if len(groups) != 1:
                where = f"{len(groups)} {kind.what}s are" if groups else f"no {kind.what} is"
                doc.report(
                    "",
                    f"{kind.command} output does not name its group and {where} used by the "
                    f'backend services given; wrap it as {{"{kind.wrapper}": URL, '
                    f'"{kind.items}": [...]}}',
                )
                continue
            group = next(iter(groups))
        elif url_key(group) not in groups and top is not None:
            doc.report(
                top.at(kind.wrapper),
                f"{kind.what} {url_name(group)!r} is not a backend of the backend services given",
                Severity.WARNING,
            )
        found.members.setdefault(url_key(group), []).extend(nodes)


# ---- one forwarding rule ---------------------------------------------------------------------


def _forwarding_rule(found: _Set, drafts: dict[str, LbDraft], node: Node) -> None:
    doc = node.doc
    name = node.text("name", required=True) or "<unnamed>"
    scheme = str(node.get("loadBalancingScheme", default="EXTERNAL")).casefold()
    internal = PASSTHROUGH_SCHEMES.get(scheme)
    if internal is None:
        doc.report(
            node.at("loadBalancingScheme"),
            f"forwarding rule {name!r} is {scheme.upper()}: proxy load balancers are not "
            "modelled (only passthrough ones, INTERNAL and EXTERNAL)",
            Severity.WARNING,
        )
        return
    service_url = node.text("backendService")
    if service_url is None:
        doc.report(
            node.at("backendService"),
            f"forwarding rule {name!r} has no backendService (target pools and target "
            "instances are not modelled)",
            Severity.WARNING,
        )
        return
    service = found.services.get(url_key(service_url))
    if service is None:
        doc.report(
            node.at("backendService"),
            f"forwarding rule {name!r} names backend service {url_name(service_url)!r}, which "
            "is not in the backend-services output given",
        )
        return
    protocol_text = str(node.get("IPProtocol", default="TCP"))
    if protocol_text.casefold() not in FORWARDING_PROTOCOLS:
        doc.report(
            node.at("IPProtocol"),
            f"forwarding rule {name!r} carries {protocol_text}: only TCP, UDP and L3_DEFAULT "
            "rules are modelled",
            Severity.WARNING,
        )
        return
    protocol = node.choice("IPProtocol", FORWARDING_PROTOCOLS, Protocol.TCP)
    address_text = node.text("IPAddress", required=True)
    address = canonical_ip(address_text) if address_text else None
    if address_text is not None and address is None:
        doc.report(node.at("IPAddress"), f"{address_text!r} is not an IP address")
    if address is None or protocol is None:
        return
    lb = _draft(found, drafts, service)
    fe_name = _frontend(lb, node, name, address, internal)
    ports = _ports(node, name)
    distribution = service.choice("sessionAffinity", SESSION_AFFINITY, Distribution.DEFAULT)
    idle_min = _idle_minutes(service)
    for port in ports:
        rule = Rule(
            name=name if port == 0 else f"{name}-{port}",
            frontend=fe_name,
            protocol=protocol,
            frontend_port=port,
            backend_port=0,  # passthrough: the port is not translated
            pool=lb.name,
            probe=_probe_of(lb),
            floating_ip=True,  # backends receive packets addressed to the forwarding rule
            idle_timeout_min=idle_min,
            distribution=distribution,
        )
        fields = {
            "frontend_port": doc.origin(node.at("ports", "allPorts", "portRange")),
            "protocol": doc.origin(node.at("IPProtocol")),
            "pool": doc.origin(node.at("backendService")),
        }
        lb.rules.append(Placed(rule, doc.origin(node.pointer), fields))


def _frontend(lb: LbDraft, node: Node, name: str, address: str, internal: bool) -> str:
    for placed in lb.frontends:  # forwarding rules may share one address (different ports)
        if placed.value.address == address:
            return placed.value.name
    fe = Frontend(  # subnet: the output names the subnetwork, not its CIDR
        name=name,
        address=address,
        private=internal,
        # guest environment: a local route for the forwarding rule's address on each backend
        local_on_members=internal,
    )
    lb.frontends.append(Placed(fe, node.doc.origin(node.at("IPAddress"))))
    return name


def _ports(node: Node, name: str) -> list[int]:
    if node.boolean("allPorts"):
        return [0]
    if node.has("ports"):
        out: list[int] = []
        for i, value in enumerate(node.values("ports")):
            text = str(value)
            if text.isdigit():
                out.append(int(text))
            else:
                node.doc.report(
                    pointer_join(node.at("ports"), i), f"port {value!r} is not a single port"
                )
        return out
    text = str(node.get("portRange", default="")).strip()
    if not text:
        return [0]  # no ports, no range: every port
    # compute v1 ForwardingRule.portRange: "\d+(?:-\d+)?"; gcloud prints one port as "80-80"
    found = PORT_RANGE.fullmatch(text)
    start, end = (int(found[1]), int(found[2] or found[1])) if found else (0, -1)
    if start == end and 0 < start < 65536:
        return [start]
    if 0 < start < end < 65536:
        node.doc.report(
            node.at("portRange"),
            f"forwarding rule {name!r}: port range {text} is not modelled; rules for each port "
            "would be needed",
        )
    else:
        node.doc.report(
            node.at("portRange"),
            f"forwarding rule {name!r}: portRange {text!r} is not a port or a range "
            "START-END of ports 1-65535",
        )
    return []


def _idle_minutes(service: Node) -> int:
    seconds = service.child("connectionTrackingPolicy").integer(
        "idleTimeoutSec", IDLE_TIMEOUT_DEFAULT_S
    )
    return max(1, -(-seconds // 60))


def _probe_of(lb: LbDraft) -> str | None:
    return lb.probes[0].value.name if lb.probes else None


def _draft(found: _Set, drafts: dict[str, LbDraft], service: Node) -> LbDraft:
    link = url_key(str(service.get("selfLink")))
    lb = drafts.get(link)
    if lb is not None:
        return lb
    doc = service.doc
    name = service.text("name", required=True) or "<unnamed>"
    lb = LbDraft(name, doc.origin(service.pointer))
    region = service.text("region")
    scheme = str(service.get("loadBalancingScheme", default="")).casefold()
    lb.attrs.update(
        cloud="gcp",
        sku="passthrough",
        internal=scheme != "external",
        location=url_name(region) if region else None,
        resource_group=_project(link),
    )
    drafts[link] = lb
    pool = lb.pool(name, doc.origin(service.pointer))
    for backend in service.children("backends"):
        group = backend.text("group", required=True)
        if group is None:
            continue
        kind = _list_kind(group)
        if kind is None:
            doc.report(
                backend.at("group"),
                f"backend {url_name(group)!r} is not modelled",
                Severity.WARNING,
            )
            continue
        nodes = found.members.get(url_key(group))
        if nodes is None:
            doc.report(
                backend.at("group"),
                f"{kind.what} {url_name(group)!r}: its members are unknown; pass `{kind.command} "
                f"{url_name(group)} --format json`",
            )
            continue
        for member_node in nodes:
            if kind is MEMBER_LISTS[0]:
                _member(found, pool.members, member_node, url_name(group))
            else:
                _endpoint(found, pool.members, member_node, url_name(group))
    _health_check(found, lb, service)
    return lb


def _project(link: str) -> str | None:
    parts = link.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "projects" else None


def _member(found: _Set, members: list[Placed[Member]], node: Node, group: str) -> None:
    url = node.text("instance", required=True)
    if url is None:
        return
    instance = found.instances.get(url_key(url))
    if instance is None:
        node.doc.report(
            node.at("instance"),
            f"instance group {group!r}: instance {url_name(url)!r} is unresolved; pass `gcloud "
            "compute instances list --format json`",
        )
        return
    nics = instance.children("networkInterfaces")
    text = nics[0].text("networkIP") if nics else None
    address = canonical_ip(text) if text else None
    if address is None:
        instance.doc.report(
            nics[0].at("networkIP") if nics else instance.at("networkInterfaces"),
            f"instance {url_name(url)!r} has no internal address (networkIP)",
        )
        return
    if all(m.value.address != address for m in members):
        member = Member(address, vm=instance.text("name") or url_name(url))
        members.append(Placed(member, node.doc.origin(node.pointer)))


def _endpoint(found: _Set, members: list[Placed[Member]], node: Node, group: str) -> None:
    """A GCE_VM_IP network endpoint: its ipAddress, or its instance's address."""
    endpoint = node.child("networkEndpoint")
    text = endpoint.text("ipAddress")
    instance = endpoint.text("instance")
    if text is None:
        if instance is None:
            node.doc.report(endpoint.pointer, f"endpoint of {group!r} has no ipAddress or instance")
            return
        by_url = url_key(instance)
        key = by_url if by_url in found.instances else found.instance_names.get(instance)
        nics = found.instances[key].children("networkInterfaces") if key else []
        text = nics[0].text("networkIP") if nics else None
        if text is None:
            node.doc.report(
                endpoint.at("instance"),
                f"network endpoint group {group!r}: instance {url_name(instance)!r} is "
                "unresolved; pass `gcloud compute instances list --format json`",
            )
            return
    address = canonical_ip(text)
    if address is None:
        node.doc.report(endpoint.at("ipAddress"), f"{text!r} is not an IP address")
        return
    if all(m.value.address != address for m in members):
        vm = url_name(instance) if instance else None
        members.append(Placed(Member(address, vm=vm), node.doc.origin(node.pointer)))


def _health_check(found: _Set, lb: LbDraft, service: Node) -> None:
    urls = [u for u in service.values("healthChecks") if isinstance(u, str)]
    if not urls:
        return
    node = found.checks.get(url_key(urls[0]))
    if node is None:
        service.doc.report(
            service.at("healthChecks"),
            f"health check {url_name(urls[0])!r} is not in the health-checks output given; "
            "no probe is modelled",
            Severity.WARNING,
        )
        return
    name = node.text("name", required=True) or url_name(urls[0])
    kind = str(node.get("type", default="")).casefold()
    spec = HEALTH_CHECK_TYPES.get(kind)
    if spec is None:
        node.doc.report(
            node.at("type"),
            f"health check type {node.get('type')!r} is not modelled",
            Severity.WARNING,
        )
        return
    key, protocol = spec
    detail = node.child(key)
    if not detail.has("port"):
        node.doc.report(
            detail.at("port"),
            f"health check {name!r} has no port (serving-port checks are not modelled)",
        )
        return
    probe = Probe(
        name=name,
        protocol=protocol,
        port=detail.integer("port", required=True),
        path=(detail.text("requestPath") or "/") if protocol is not ProbeProtocol.TCP else None,
        interval_s=node.integer("checkIntervalSec", CHECK_INTERVAL_DEFAULT_S),
        count=node.integer("unhealthyThreshold", UNHEALTHY_THRESHOLD_DEFAULT),
        source="",
        source_ranges=GCP_PROBE_RANGES,
    )
    fields = {"port": node.doc.origin(detail.at("port"))}
    lb.probes.append(Placed(probe, node.doc.origin(node.pointer), fields))
