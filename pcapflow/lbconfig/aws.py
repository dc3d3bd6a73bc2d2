"""AWS Network Load Balancers from the AWS CLI's JSON, several documents read as one set.

Documents (each the unmodified ``--output json`` of one command, in any order and number)::

    aws elbv2 describe-load-balancers              {"LoadBalancers": [...]}
    aws elbv2 describe-listeners                   {"Listeners": [...]}
    aws elbv2 describe-target-groups               {"TargetGroups": [...]}
    aws elbv2 describe-target-health               {"TargetHealthDescriptions": [...]}
    aws elbv2 describe-target-group-attributes     {"Attributes": [{"Key": ..., "Value": ...}]}
    aws elbv2 describe-listener-attributes         {"Attributes": [...]}  tcp.idle_timeout.seconds
    aws ec2 describe-instances                     {"Reservations": [...]}   instance id -> IP
    aws ec2 describe-network-interfaces            {"NetworkInterfaces": [...]}   NLB addresses

``describe-target-health`` and ``describe-target-group-attributes`` do not name their target
group: with one target group in the set they belong to it; with several, each document needs a
``TargetGroupArn`` key (``--query "{TargetGroupArn: 'ARN', TargetHealthDescriptions: ...}"``);
``describe-listener-attributes`` likewise needs ``ListenerArn`` when several listeners are given.
A network load balancer becomes a :class:`~pcapflow.model.lb.LoadBalancer` with ``cloud="aws"``:
one frontend per Availability Zone (its address there), one rule per listener, zone and
protocol, one pool and probe per target group.  Values the documents do not hold (the private
address of an instance target without ``describe-instances``, an internal NLB's address in a
zone) are reported, never invented.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcapflow.lbconfig.draft import LbDraft, Loaded, Placed, assemble_set
from pcapflow.lbconfig.node import Node
from pcapflow.lbconfig.problems import Document, Problem, Severity
from pcapflow.lbconfig.vocab import canonical_ip, canonical_network
from pcapflow.model.lb import Distribution, Frontend, Member, Probe, ProbeProtocol, Protocol, Rule

# top-level keys of the documents this loader reads
DOCUMENT_KEYS = (
    "LoadBalancers",
    "Listeners",
    "TargetGroups",
    "TargetHealthDescriptions",
    "Attributes",
    "Reservations",
    "NetworkInterfaces",
)
TARGET_GROUP_ATTRIBUTE_PREFIXES = (
    "preserve_client_ip.",
    "stickiness.",
    "deregistration_delay.",
    "proxy_protocol_v2.",
    "target_failover.",
    "target_health_state.",
    "load_balancing.cross_zone.enabled",
)

LISTENER_ATTRIBUTE_PREFIXES = ("tcp.idle_timeout.",)
# listener protocol -> the model protocols its rules match (TLS is TCP on the wire)
LISTENER_PROTOCOLS: dict[str, tuple[Protocol, ...]] = {
    "tcp": (Protocol.TCP,),
    "udp": (Protocol.UDP,),
    "tcp_udp": (Protocol.TCP, Protocol.UDP),
    "tls": (Protocol.TCP,),
}
HEALTH_CHECK_PROTOCOLS = {"tcp": ProbeProtocol.TCP, "http": ProbeProtocol.HTTP,
                          "https": ProbeProtocol.HTTPS}  # fmt: skip
# Elastic Load Balancing user guide for NLBs, "Edit target group attributes", Client IP
# preservation, Default settings: instance targets enabled; IP targets enabled for UDP, TCP_UDP,
# QUIC, TCP_QUIC; IP targets disabled for TCP and TLS.
PRESERVE_CLIENT_IP_BY_IP_PROTOCOL = {"udp": True, "tcp_udp": True, "quic": True,
                                     "tcp_quic": True, "tcp": False, "tls": False}  # fmt: skip
NLB_TCP_IDLE_TIMEOUT_S = 350  # "Idle timeout" of NLB listeners (user guide, Listeners)
NLB_HEALTH_CHECK_INTERVAL_S = 30  # HealthCheckIntervalSeconds default
NLB_UNHEALTHY_THRESHOLD = 2  # UnhealthyThresholdCount default for TCP/HTTP(S) checks of an NLB
NLB_HEALTH_CHECK_PATH = "/"


@dataclass(frozen=True)
class TargetState:
    """What a ``describe-target-health`` state means for the pool (None: a plain member)."""

    in_pool: bool
    meaning: str


# API reference, TargetHealth (State, Reason) and the NLB user guide, "Health checks for Network
# Load Balancer target groups": new flows go to healthy targets only, to every target when none
# is healthy (fail open); deregistering and unused targets get no new flows at all.
TARGET_STATES: dict[str, TargetState | None] = {
    "": None,  # no TargetHealth given
    "healthy": None,
    "initial": TargetState(
        True,
        "the NLB sends it new flows once it passes its first health checks; kept in the pool",
    ),
    "unhealthy": TargetState(
        True,
        "the NLB sends new flows to healthy targets only (to every target when none is "
        "healthy: fail open); kept in the pool",
    ),
    "unhealthy.draining": TargetState(
        True,
        "its established flows drain and the NLB sends new flows to healthy targets only (to "
        "every target when none is healthy: fail open); kept in the pool",
    ),
    "unavailable": TargetState(
        True, "its health is unknown (the NLB reports an internal error); kept in the pool"
    ),
    "draining": TargetState(
        False,
        "it is being deregistered and gets no new flows (established ones drain); left out of "
        "the pool",
    ),
    "unused": TargetState(
        False,
        "it is not in service (not registered, its zone not enabled, or the instance stopped), "
        "so the NLB sends it no flows; left out of the pool",
    ),
}
UNKNOWN_TARGET_STATE = TargetState(True, "a state pcapflow does not know; kept in the pool")


def is_aws_document(data: Any) -> bool:
    """One of the AWS CLI outputs above (a mapping with one of their list keys)."""
    return isinstance(data, Mapping) and any(
        isinstance(data.get(key), list) for key in DOCUMENT_KEYS
    )


@dataclass
class _TargetGroup:
    node: Node
    arn: str
    name: str
    health: list[Node] = field(default_factory=list)
    health_given: bool = False
    attributes: dict[str, tuple[str, Node]] = field(default_factory=dict)


@dataclass
class _Set:
    """Every document of the set, indexed."""

    load_balancers: list[Node] = field(default_factory=list)
    listeners: list[Node] = field(default_factory=list)
    groups: dict[str, _TargetGroup] = field(default_factory=dict)  # ARN -> group
    health_docs: list[tuple[Node, list[Node]]] = field(default_factory=list)
    attribute_docs: list[tuple[Node, list[Node]]] = field(default_factory=list)
    listener_attribute_docs: list[tuple[Node, list[Node]]] = field(default_factory=list)
    idle_s: dict[str, int] = field(default_factory=dict)  # listener ARN -> TCP idle timeout
    instances: dict[str, str | None] = field(default_factory=dict)  # id -> private IP
    interfaces: dict[str, dict[str, str]] = field(default_factory=dict)  # "net/n/id" -> az -> ip
    private: dict[str, list[str]] = field(default_factory=dict)  # balancer -> its private IPs


def load_aws(items: Sequence[tuple[Any, Document]]) -> Loaded:
    """A set of AWS CLI documents -> the network load balancers they describe."""
    found = _Set()
    for data, doc in items:
        _index(found, Node(data, "", doc))
    for doc_node, entries in found.health_docs:
        group = _owner(found, doc_node, "TargetHealthDescriptions", "describe-target-health")
        if group is not None:
            group.health.extend(entries)
            group.health_given = True
    for doc_node, entries in found.attribute_docs:
        group = _owner(found, doc_node, "Attributes", "describe-target-group-attributes")
        if group is not None:
            for entry in entries:
                key = entry.text("Key", required=True)
                value = entry.get("Value")
                if key is not None:
                    group.attributes[key] = (str(value).casefold(), entry)
    for doc_node, entries in found.listener_attribute_docs:
        _listener_attributes(found, doc_node, entries)
    drafts = [d for d in (_balancer(found, node) for node in found.load_balancers) if d]
    _orphan_listeners(found)
    docs = list({id(doc): doc for _, doc in items}.values())
    if not found.load_balancers:
        docs[0].report("", "no `aws elbv2 describe-load-balancers` output in the documents given")
    _unused(found)
    problems: list[Problem] = [p for doc in docs for p in doc.problems]
    return assemble_set(drafts, problems, [doc.name for doc in docs])


def _index(found: _Set, top: Node) -> None:
    found.load_balancers.extend(top.children("LoadBalancers") if top.has("LoadBalancers") else [])
    found.listeners.extend(top.children("Listeners") if top.has("Listeners") else [])
    for node in top.children("TargetGroups") if top.has("TargetGroups") else []:
        arn = node.text("TargetGroupArn", required=True)
        if arn is not None:
            parts = arn.split("/")  # ...:targetgroup/NAME/ID
            name = node.text("TargetGroupName") or (parts[-2] if len(parts) >= 3 else arn)
            found.groups[arn] = _TargetGroup(node, arn, name)
    if top.has("TargetHealthDescriptions"):
        found.health_docs.append((top, top.children("TargetHealthDescriptions")))
    if top.has("Attributes"):
        entries = top.children("Attributes")
        keys = [str(e.get("Key", default="")) for e in entries]
        if any(k.startswith(TARGET_GROUP_ATTRIBUTE_PREFIXES) for k in keys):
            found.attribute_docs.append((top, entries))
        elif any(k.startswith(LISTENER_ATTRIBUTE_PREFIXES) for k in keys):
            found.listener_attribute_docs.append((top, entries))
    for reservation in top.children("Reservations") if top.has("Reservations") else []:
        for instance in reservation.children("Instances"):
            _instance(found, instance)
    for eni in top.children("NetworkInterfaces") if top.has("NetworkInterfaces") else []:
        description = str(eni.get("Description", default=""))
        address = eni.text("PrivateIpAddress")
        zone = eni.text("AvailabilityZone")
        if description.startswith("ELB net/") and address and zone:
            lb_key = description.removeprefix("ELB ")
            found.interfaces.setdefault(lb_key, {})[zone] = canonical_ip(address) or address


def _instance(found: _Set, node: Node) -> None:
    instance_id = node.text("InstanceId", required=True)
    if instance_id is None:
        return
    text = node.text("PrivateIpAddress")
    address = canonical_ip(text) if text else None
    if text and address is None:
        node.doc.report(node.at("PrivateIpAddress"), f"{text!r} is not an IP address")
    found.instances[instance_id] = address


def _owner(found: _Set, top: Node, key: str, command: str) -> _TargetGroup | None:
    """The target group a target-health or attributes document belongs to."""
    arn = top.text("TargetGroupArn")
    if arn is not None:
        group = found.groups.get(arn)
        if group is None:
            top.doc.report(
                top.at("TargetGroupArn"),
                f"target group {arn!r} is not in the describe-target-groups output given",
            )
        return group
    if len(found.groups) == 1:
        return next(iter(found.groups.values()))
    if not found.groups:
        top.doc.report(top.at(key), f"{command} output without describe-target-groups output")
    else:
        top.doc.report(
            top.at(key),
            f"{command} output does not name its target group and {len(found.groups)} are "
            'given; add "TargetGroupArn" (aws ... --query "{TargetGroupArn: \'ARN\', '
            f'{key}: {key}}}")',
        )
    return None


def _listener_attributes(found: _Set, top: Node, entries: list[Node]) -> None:
    """``describe-listener-attributes``: the TCP idle timeout of one listener (named by a
    ``ListenerArn`` key, or the only listener given)."""
    arn = top.text("ListenerArn")
    arns = [a for n in found.listeners if isinstance(a := n.get("ListenerArn"), str)]
    if arn is None and len(arns) == 1:
        arn = arns[0]
    elif arn is None:
        top.doc.report(
            top.at("Attributes"),
            f"describe-listener-attributes output does not name its listener and {len(arns)} "
            'are given; add "ListenerArn" (aws ... --query "{ListenerArn: \'ARN\', '
            'Attributes: Attributes}")',
        )
        return
    elif arn not in arns:
        top.doc.report(
            top.at("ListenerArn"), f"listener {arn!r} is not in the describe-listeners output"
        )
        return
    for entry in entries:
        if entry.get("Key") == "tcp.idle_timeout.seconds":
            found.idle_s[arn] = entry.integer("Value", NLB_TCP_IDLE_TIMEOUT_S)


def _balancer_arns(found: _Set) -> set[str]:
    return {a for n in found.load_balancers if isinstance(a := n.get("LoadBalancerArn"), str)}


def _orphan_listeners(found: _Set) -> None:
    arns = _balancer_arns(found)
    for node in found.listeners:
        if str(node.get("LoadBalancerArn")) not in arns and found.load_balancers:
            node.doc.report(
                node.at("LoadBalancerArn"),
                "listener of a load balancer that is not in the describe-load-balancers output "
                "given (ignored)",
                Severity.WARNING,
            )


def _unused(found: _Set) -> None:
    arns = _balancer_arns(found)
    used = {
        _forward_target(node)[0]
        for node in found.listeners
        if str(node.get("LoadBalancerArn")) in arns
    }
    for group in found.groups.values():
        if group.arn not in used and found.load_balancers:
            group.node.doc.report(
                group.node.pointer,
                f"target group {group.name!r} is not the target of any listener given",
                Severity.WARNING,
            )


# ---- one balancer ----------------------------------------------------------------------------


def _balancer(found: _Set, node: Node) -> LbDraft | None:
    doc = node.doc
    name = node.text("LoadBalancerName", required=True) or "<unnamed>"
    arn = node.text("LoadBalancerArn", required=True) or ""
    kind = str(node.get("Type", default="")).casefold()
    if kind != "network":
        doc.report(
            node.at("Type"),
            f"load balancer {name!r} is of type {kind or 'unknown'!r}: only network load "
            "balancers pass packets through (application and gateway ones are not modelled)",
            Severity.WARNING,
        )
        return None
    scheme = str(node.get("Scheme", default="internal")).casefold()
    lb = LbDraft(name, doc.origin(node.pointer))
    lb.attrs.update(cloud="aws", sku="network", internal=scheme == "internal")
    parts = arn.split(":")
    lb.attrs["location"] = parts[3] if len(parts) > 5 and parts[3] else None
    _frontends(found, lb, node, arn, scheme == "internal")
    listeners = [n for n in found.listeners if n.get("LoadBalancerArn") == arn]
    for listener in listeners:
        _listener(found, lb, listener)
    return lb


def _frontends(found: _Set, lb: LbDraft, node: Node, arn: str, internal: bool) -> None:
    enis = found.interfaces.get(_arn_key(arn), {})
    private: list[str] = []
    for zone in node.children("AvailabilityZones"):
        zone_name = zone.text("ZoneName", required=True) or "<zone>"
        addresses: dict[str, str | None] = {"PrivateIPv4Address": None, "IpAddress": None}
        at = zone.at("LoadBalancerAddresses")
        found_at: dict[str, str] = {}
        for entry in zone.children("LoadBalancerAddresses"):
            for key in ("PrivateIPv4Address", "IpAddress"):
                text = entry.text(key)
                if text is not None and addresses[key] is None:
                    addresses[key] = canonical_ip(text)
                    found_at[key] = entry.at(key)
                    if addresses[key] is None:
                        zone.doc.report(entry.at(key), f"{text!r} is not an IP address")
        if addresses["PrivateIPv4Address"] is None and zone_name in enis:
            addresses["PrivateIPv4Address"] = enis[zone_name]
        if addresses["PrivateIPv4Address"] is not None:
            private.append(addresses["PrivateIPv4Address"])
        key = "PrivateIPv4Address" if internal else "IpAddress"
        address = addresses[key]
        if address is None:
            if key not in found_at:  # a malformed address is reported already
                zone.doc.report(at, _missing_address(lb.name, zone_name, arn, internal))
            continue
        fe = Frontend(zone_name, address, private=internal, zones=(zone_name,))
        lb.frontends.append(Placed(fe, zone.doc.origin(found_at.get(key, at))))
    found.private[lb.name] = private


def _arn_key(arn: str) -> str:
    """``arn:...:loadbalancer/net/NAME/ID`` -> ``net/NAME/ID`` (an NLB ENI's description)."""
    return arn.split(":loadbalancer/", 1)[-1]


def _missing_address(name: str, zone: str, arn: str, internal: bool) -> str:
    if not internal:
        return (
            f"load balancer {name!r} has no public address listed in zone {zone} "
            "(no Elastic IP); its address there is not in this output"
        )
    return (
        f"load balancer {name!r}: its private address in zone {zone} is not in this output "
        "(listed only when set at creation); pass `aws ec2 describe-network-interfaces "
        f"--filters Name=description,Values='ELB {_arn_key(arn)}'` JSON"
    )


def _forward_target(listener: Node) -> tuple[str | None, str]:
    """The target group ARN a listener forwards to, and the pointer of that reference."""
    for action in listener.children("DefaultActions") if listener.has("DefaultActions") else []:
        arn = action.text("TargetGroupArn")
        if arn is not None:
            return arn, action.at("TargetGroupArn")
        groups = action.child("ForwardConfig").children("TargetGroups")
        if groups:
            return groups[0].text("TargetGroupArn"), groups[0].at("TargetGroupArn")
    return None, listener.at("DefaultActions")


def _listener(found: _Set, lb: LbDraft, node: Node) -> None:
    doc = node.doc
    port = node.integer("Port", required=True)
    protocol_text = str(node.get("Protocol", default="")).casefold()
    protocols = LISTENER_PROTOCOLS.get(protocol_text)
    if protocols is None:
        doc.report(
            node.at("Protocol"),
            f"listener protocol {node.get('Protocol')!r} is not TCP, UDP, TCP_UDP or TLS",
        )
        return
    arn, at = _forward_target(node)
    if arn is None:
        doc.report(at, f"listener {port}/{protocol_text.upper()} forwards to no target group")
        return
    group = found.groups.get(arn)
    if group is None:
        doc.report(
            at,
            f"listener {port}/{protocol_text.upper()} forwards to target group {arn!r}, which "
            "is not in the describe-target-groups output given",
        )
        return
    preserve, distribution = _attributes(group)
    pool_name, backend_port, probe = _target_group(found, lb, group, preserve)
    if backend_port is None:
        return
    idle_s = found.idle_s.get(str(node.get("ListenerArn")), NLB_TCP_IDLE_TIMEOUT_S)
    idle_min = math.ceil(idle_s / 60)  # the model counts whole minutes
    origin = doc.origin(node.pointer)
    fields = {"frontend_port": doc.origin(node.at("Port")), "pool": doc.origin(at)}
    for fe in lb.frontends:
        for proto in protocols:
            rule = Rule(
                name=f"{protocol_text}-{port}-{proto.value}@{fe.value.name}"
                if len(protocols) > 1
                else f"{protocol_text}-{port}@{fe.value.name}",
                frontend=fe.value.name,
                protocol=proto,
                frontend_port=port,
                backend_port=backend_port,
                pool=pool_name,
                probe=probe,
                idle_timeout_min=idle_min,
                distribution=distribution,
                preserve_client_ip=preserve,
            )
            lb.rules.append(Placed(rule, origin, fields))


def _attributes(group: _TargetGroup) -> tuple[bool, Distribution]:
    node = group.node
    target_type = str(node.get("TargetType", default="instance")).casefold()
    protocol = str(node.get("Protocol", default="tcp")).casefold()
    preserve = (
        True if target_type == "instance" else PRESERVE_CLIENT_IP_BY_IP_PROTOCOL.get(protocol, True)
    )
    given = group.attributes.get("preserve_client_ip.enabled")
    if given is not None:
        preserve = given[0] == "true"
    sticky = group.attributes.get("stickiness.enabled", ("false", node))[0] == "true"
    kind = group.attributes.get("stickiness.type", ("source_ip", node))[0]
    distribution = (
        Distribution.SOURCE_IP if sticky and kind == "source_ip" else Distribution.DEFAULT
    )
    return preserve, distribution


def _target_group(
    found: _Set, lb: LbDraft, group: _TargetGroup, preserve: bool
) -> tuple[str, int | None, str | None]:
    """Add the group's pool and probe to ``lb`` once; its pool name, backend port (None: its
    targets listen on different ports) and probe."""
    node, doc = group.node, group.node.doc
    port = node.integer("Port", 0)
    known = any(p.name == group.name for p in lb.pools)
    pool = lb.pool(group.name, doc.origin(node.pointer))
    target_type = str(node.get("TargetType", default="instance")).casefold()
    ports: dict[int, list[str]] = {}  # port -> the targets registered on it
    for entry in group.health:
        target = entry.child("Target")
        state = _state(entry)
        if state is None or state.in_pool:  # a target that gets no flows has no say
            ports.setdefault(target.integer("Port", port), []).append(str(target.get("Id")))
        if not known:
            _member(found, pool.members, group, target_type, entry)
    traffic_port: int | None = port
    if len(ports) > 1:
        # RegisterTargets: a target's Port is the port it receives traffic on (the target
        # group's Port is only the default); the model's rule has one backend port
        listed = "; ".join(f"{p}: {_some(ids)}" for p, ids in sorted(ports.items()))
        doc.report(
            node.pointer,
            f"targets of target group {group.name!r} are registered on different ports "
            f"({listed}); the NLB sends each target's flows to its own port but a rule has one "
            "backend port, so the listeners forwarding to it are not modelled",
        )
        traffic_port = None
    elif ports:
        port = traffic_port = next(iter(ports))
    if not group.health_given and not known:
        doc.report(
            node.pointer,
            f"target group {group.name!r}: no describe-target-health output, so its members "
            "are unknown",
            Severity.WARNING,
        )
    # Health checks come from the NLB's private addresses.  Without client IP preservation the
    # targets' data traffic comes from them too: the address no longer tells a probe apart.
    sources = found.private.get(lb.name, []) if preserve else []
    probe = _probe(lb, group, port, sources) if not known else _probe_name(group)
    return group.name, traffic_port, probe


def _some(ids: list[str], shown: int = 3) -> str:
    """``a, b, c and 4 more``: a problem message stays one readable line."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _member(
    found: _Set, members: list[Placed[Member]], group: _TargetGroup, kind: str, entry: Node
) -> None:
    doc = entry.doc
    target = entry.child("Target")
    target_id = target.text("Id", required=True)
    if target_id is None:
        return
    if not _in_service(entry, target_id, group):
        return
    if kind == "ip":
        address = canonical_ip(target_id)
        if address is None:
            doc.report(target.at("Id"), f"IP target {target_id!r} is not an IP address")
            return
        member = Member(address)
    elif kind == "instance":
        address = found.instances.get(target_id)
        if address is None:
            known = target_id in found.instances
            doc.report(
                target.at("Id"),
                f"target group {group.name!r}: instance {target_id} "
                + (
                    "has no private IP address in the describe-instances output"
                    if known
                    else "is unresolved; pass `aws ec2 describe-instances --instance-ids "
                    f"{target_id}` JSON"
                ),
            )
            return
        member = Member(address, vm=target_id)
    else:
        doc.report(
            entry.pointer,
            f"target group {group.name!r} has {kind} targets, which are not modelled",
            Severity.WARNING,
        )
        return
    if all(m.value.address != member.address for m in members):
        members.append(Placed(member, doc.origin(entry.pointer)))


def _state(entry: Node) -> TargetState | None:
    """What a target's health state means for the pool (None: a healthy member)."""
    state = str(entry.child("TargetHealth").get("State", default="")).casefold()
    return TARGET_STATES.get(state, UNKNOWN_TARGET_STATE)


def _in_service(entry: Node, target_id: str, group: _TargetGroup) -> bool:
    """Report a target that is not healthy; False when it is left out of the pool."""
    meaning = _state(entry)
    if meaning is None:
        return True
    health = entry.child("TargetHealth")
    state = str(health.get("State", default="")).casefold()
    reason = health.text("Reason")
    entry.doc.report(
        health.at("State"),
        f"target {target_id} of {group.name!r} is {state}"
        + (f" ({reason})" if reason else "")
        + f": {meaning.meaning}",
        Severity.WARNING,
    )
    return meaning.in_pool


def _probe_name(group: _TargetGroup) -> str | None:
    enabled = group.node.boolean("HealthCheckEnabled", True)
    return group.name if enabled else None


def _probe(lb: LbDraft, group: _TargetGroup, traffic_port: int, sources: list[str]) -> str | None:
    node, doc = group.node, group.node.doc
    if _probe_name(group) is None:
        return None
    protocol = node.choice("HealthCheckProtocol", HEALTH_CHECK_PROTOCOLS, ProbeProtocol.TCP)
    port_text = node.get("HealthCheckPort", default="traffic-port")
    if str(port_text).casefold() == "traffic-port":
        port = traffic_port
    else:
        port = node.integer("HealthCheckPort", traffic_port)
    http = protocol in (ProbeProtocol.HTTP, ProbeProtocol.HTTPS)
    # the NLB probes from its own private address in each zone
    probe = Probe(
        name=group.name,
        protocol=protocol,
        port=port,
        path=(node.text("HealthCheckPath") or NLB_HEALTH_CHECK_PATH) if http else None,
        interval_s=node.integer("HealthCheckIntervalSeconds", NLB_HEALTH_CHECK_INTERVAL_S),
        count=node.integer("UnhealthyThresholdCount", NLB_UNHEALTHY_THRESHOLD),
        source="",
        source_ranges=tuple(canonical_network(a) or a for a in sources),
    )
    fields = {"port": doc.origin(node.at("HealthCheckPort"))}
    lb.probes.append(Placed(probe, doc.origin(node.pointer), fields))
    return group.name
