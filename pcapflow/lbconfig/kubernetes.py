"""Kubernetes Services as kube-proxy balances them, from ``kubectl get ... -o json``.

Documents (unmodified ``-o json`` output, in any order and number; a ``List`` or one object)::

    kubectl get svc,endpointslices -A -o json     Services and their EndpointSlices
    kubectl get endpoints -A -o json              the older Endpoints (used when a Service
                                                  has no EndpointSlice)
    kubectl get pods -A -o wide -o json           pod IP -> pod name and node (optional)
    kubectl get --raw /api/v1/nodes/NODE/proxy/configz
                                                  the kubelet's hairpinMode (optional)

Each Service of type ClusterIP, NodePort or LoadBalancer becomes a
:class:`~pcapflow.model.lb.LoadBalancer` named ``namespace/name`` (``cloud="kubernetes"``): its
cluster IPs (and load-balancer ingress and external IPs) are the frontends, each port a rule (a
named ``targetPort`` resolved through the EndpointSlice ports), the ready endpoints the pool.
``sessionAffinity: ClientIP`` is source-IP distribution.  There are no probes: kubelet's
readiness probes decide ``ready``, the balancer itself does not probe.  Node ports are not
modelled (node addresses are not in these outputs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcapflow.lbconfig.draft import LbDraft, Loaded, Placed, PoolDraft, assemble_set
from pcapflow.lbconfig.node import Node
from pcapflow.lbconfig.problems import Document, Problem, Severity, pointer_join
from pcapflow.lbconfig.vocab import canonical_ip
from pcapflow.model.lb import Distribution, Frontend, Member, Protocol, Rule

OBJECT_KINDS = ("service", "endpointslice", "endpoints", "pod")
SERVICE_PROTOCOLS = {"tcp": Protocol.TCP, "udp": Protocol.UDP}
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# kube-proxy --conntrack-tcp-timeout-established default 24h0m0s: how long an idle established
# flow keeps its translation; UDP flows follow the kernel's nf_conntrack_udp_timeout (30 s).
TCP_IDLE_TIMEOUT_MIN = 24 * 60
UDP_IDLE_TIMEOUT_MIN = 1
BALANCED_TYPES = ("clusterip", "nodeport", "loadbalancer")
# kubelet --hairpin-mode / KubeletConfiguration.hairpinMode, and its default
HAIRPIN_MODES = ("promiscuous-bridge", "hairpin-veth", "none")
HAIRPIN_MODE_DEFAULT = "promiscuous-bridge"


def _kind(item: Any) -> str:
    return str(item.get("kind", "")).casefold() if isinstance(item, Mapping) else ""


def is_kubectl_document(data: Any) -> bool:
    if isinstance(data, Mapping) and isinstance(data.get("kubeletconfig"), Mapping):
        return True  # the kubelet's configz
    if not isinstance(data, Mapping) or "apiVersion" not in data:
        return False
    kind = _kind(data)
    if kind in OBJECT_KINDS:
        return True
    items = data.get("items")
    return kind.endswith("list") and isinstance(items, list)


@dataclass
class _Set:
    services: list[Node] = field(default_factory=list)
    slices: dict[tuple[str, str], list[Node]] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], Node] = field(default_factory=dict)
    pods: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # ip -> pod
    hairpin: dict[str, Node] = field(default_factory=dict)  # kubelet hairpinMode -> its configz


def load_kubectl(items: Sequence[tuple[Any, Document]]) -> Loaded:
    found = _Set()
    for data, doc in items:
        top = Node(data, "", doc)
        if top.has("kubeletconfig"):
            _configz(found, top.child("kubeletconfig"))
            continue
        objects = top.children("items") if _kind(data).endswith("list") else [top]
        for obj in objects:
            _index(found, obj)
    drafts = [d for d in (_service(found, s) for s in found.services) if d is not None]
    mode = _hairpin_mode(found)
    for draft in drafts:
        draft.attrs["hairpin_mode"] = mode
    docs = list({id(doc): doc for _, doc in items}.values())
    if not found.services:
        docs[0].report("", "no Service in the documents given (kubectl get svc -o json)")
    problems: list[Problem] = [p for doc in docs for p in doc.problems]
    return assemble_set(drafts, problems, [doc.name for doc in docs])


def _configz(found: _Set, config: Node) -> None:
    mode = config.text("hairpinMode") or HAIRPIN_MODE_DEFAULT
    if mode not in HAIRPIN_MODES:
        config.doc.report(
            config.at("hairpinMode"),
            f"unknown hairpinMode {mode!r} (expected one of {', '.join(HAIRPIN_MODES)})",
        )
        return
    found.hairpin.setdefault(mode, config)


def _hairpin_mode(found: _Set) -> str | None:
    """The nodes' hairpin mode when the configz documents given agree (None: not known)."""
    if len(found.hairpin) > 1:
        for mode, config in found.hairpin.items():
            config.doc.report(
                config.at("hairpinMode"),
                f"nodes differ in hairpin mode ({', '.join(sorted(found.hairpin))}); this one "
                f"uses {mode}: not modelled per node",
                Severity.WARNING,
            )
        return None
    return next(iter(found.hairpin), None)


def _meta(obj: Node) -> tuple[str, str]:
    meta = obj.child("metadata")
    return meta.text("namespace") or "default", meta.text("name", required=True) or "<unnamed>"


def _index(found: _Set, obj: Node) -> None:
    kind = _kind(obj.raw)
    if kind == "service":
        found.services.append(obj)
    elif kind == "endpointslice":
        namespace, name = _meta(obj)
        labels = obj.child("metadata").get("labels", default={})
        service = labels.get(SERVICE_NAME_LABEL) if isinstance(labels, Mapping) else None
        if not isinstance(service, str):
            obj.doc.report(
                obj.child("metadata").at("labels"),
                f"EndpointSlice {name!r} has no {SERVICE_NAME_LABEL} label: not tied to a Service",
                Severity.WARNING,
            )
            return
        found.slices.setdefault((namespace, service), []).append(obj)
    elif kind == "endpoints":
        found.endpoints[_meta(obj)] = obj
    elif kind == "pod":
        _, name = _meta(obj)
        status = obj.child("status")
        node = obj.child("spec").text("nodeName")
        ips = [status.text("podIP")] + [p.text("ip") for p in status.children("podIPs")]
        for ip in ips:
            address = canonical_ip(ip) if ip else None
            if address is not None:
                found.pods[address] = (name, node)
    else:
        obj.doc.report(
            obj.pointer, f"{obj.get('kind')!r} objects are not read (ignored)", Severity.WARNING
        )


# ---- one Service -----------------------------------------------------------------------------


def _service(found: _Set, svc: Node) -> LbDraft | None:
    doc = svc.doc
    namespace, name = _meta(svc)
    spec = svc.child("spec")
    kind = str(spec.get("type", default="ClusterIP"))
    if kind.casefold() not in BALANCED_TYPES:
        doc.report(
            spec.at("type"),
            f"Service {namespace}/{name} is of type {kind}: nothing is balanced",
            Severity.WARNING,
        )
        return None
    lb = LbDraft(f"{namespace}/{name}", doc.origin(svc.pointer))
    lb.attrs.update(cloud="kubernetes", sku=kind, internal=True, resource_group=namespace)
    _frontends(lb, svc)
    if not lb.frontends:
        doc.report(
            spec.at("clusterIP"),
            f"Service {namespace}/{name} has no cluster IP (headless): kube-proxy does not "
            "balance it",
            Severity.WARNING,
        )
        return None
    pool = lb.pool(name, doc.origin(svc.pointer))
    slices = found.slices.get((namespace, name), [])
    if slices:
        for slice_node in slices:
            _slice_members(found, pool, slice_node)
    elif (namespace, name) in found.endpoints:
        _endpoints_members(found, pool, found.endpoints[(namespace, name)])
    elif spec.has("selector"):
        doc.report(
            svc.pointer,
            f"Service {namespace}/{name}: no EndpointSlice or Endpoints given, so its members "
            "are unknown (kubectl get endpointslices -o json)",
            Severity.WARNING,
        )
    _split_families(lb, pool)
    if str(spec.get("internalTrafficPolicy", default="Cluster")).casefold() == "local":
        doc.report(
            spec.at("internalTrafficPolicy"),
            f"Service {namespace}/{name} has internalTrafficPolicy Local: kube-proxy sends a "
            "pod's calls only to endpoints on the pod's own node, and drops them when the node "
            "has none; modelled as the whole pool (every endpoint counts, not only the caller "
            "node's)",
            Severity.WARNING,
        )
    affinity = str(spec.get("sessionAffinity", default="None")).casefold()
    distribution = Distribution.SOURCE_IP if affinity == "clientip" else Distribution.DEFAULT
    for port_node in spec.children("ports"):
        _port(lb, port_node, slices, found.endpoints.get((namespace, name)), distribution)
    return lb


def _family(address: str) -> int:
    return ipaddress.ip_address(address).version


def _split_families(lb: LbDraft, pool: PoolDraft) -> None:
    """A dual-stack Service: its IPv6 endpoints form a pool of their own (``NAME-ipv6``), which
    the IPv6 cluster IP's rules use; a rule never mixes families."""
    six = [m for m in pool.members if _family(m.value.address) == 6]
    if not six or len(six) == len(pool.members):
        return
    pool.members[:] = [m for m in pool.members if _family(m.value.address) == 4]
    lb.pool(f"{pool.name}-ipv6", pool.origin).members.extend(six)


def _pool_for(lb: LbDraft, address: str) -> str:
    if _family(address) == 6 and len(lb.pools) > 1:
        return lb.pools[1].name
    return lb.pools[0].name


def _frontends(lb: LbDraft, svc: Node) -> None:
    spec = svc.child("spec")
    ips = [v for v in spec.values("clusterIPs") if isinstance(v, str)]
    at = spec.at("clusterIPs")
    if not ips and isinstance(spec.get("clusterIP"), str):
        ips, at = [spec.get("clusterIP")], spec.at("clusterIP")
    sources: list[tuple[str, str, str]] = [
        ("cluster-ip" if i == 0 else f"cluster-ip-{i + 1}", ip, pointer_join(at, i))
        for i, ip in enumerate(ips)
        if ip.casefold() != "none"
    ]
    for i, ip in enumerate(spec.values("externalIPs")):
        sources.append((f"external-ip-{i + 1}", str(ip), pointer_join(spec.at("externalIPs"), i)))
    ingress = svc.child("status").child("loadBalancer")
    for i, entry in enumerate(ingress.children("ingress")):
        ip = entry.text("ip")
        if ip is not None:
            sources.append((f"lb-ingress-{i + 1}", ip, entry.at("ip")))
    for name, text, pointer in sources:
        address = canonical_ip(text)
        if address is None:
            svc.doc.report(pointer, f"{text!r} is not an IP address")
            continue
        private = ipaddress.ip_address(address).is_private
        lb.frontends.append(Placed(Frontend(name, address, private), svc.doc.origin(pointer)))


def _member(found: _Set, address: str, pod: str | None, node: str | None) -> Member:
    known_pod, known_node = found.pods.get(address, (None, None))
    return Member(address, vm=pod or known_pod, node=node or known_node)


def _add(pool: PoolDraft, member: Member, doc: Document, pointer: str) -> None:
    if all(m.value.address != member.address for m in pool.members):
        pool.members.append(Placed(member, doc.origin(pointer)))


def _slice_members(found: _Set, pool: PoolDraft, slice_node: Node) -> None:
    doc = slice_node.doc
    family = str(slice_node.get("addressType", default="IPv4")).casefold()
    if family not in ("ipv4", "ipv6"):
        doc.report(
            slice_node.at("addressType"),
            f"EndpointSlice of {pool.name!r} has {family} addresses, which are not modelled",
            Severity.WARNING,
        )
        return
    for endpoint in slice_node.children("endpoints"):
        conditions = endpoint.child("conditions")
        ready = conditions.boolean("ready", True)  # API: a nil ready is read as ready
        ref = endpoint.child("targetRef")
        pod = ref.text("name") if str(ref.get("kind", default="")).casefold() == "pod" else None
        for i, value in enumerate(endpoint.values("addresses")):
            at = pointer_join(endpoint.at("addresses"), i)
            address = canonical_ip(str(value))
            if address is None:
                doc.report(at, f"{value!r} is not an IP address")
                continue
            if not ready:
                state = [
                    word
                    for word, on in (
                        ("serving", conditions.boolean("serving", False)),
                        ("terminating", conditions.boolean("terminating", False)),
                    )
                    if on
                ]
                doc.report(
                    conditions.at("ready"),
                    f"endpoint {address} of {pool.name!r} is not ready"
                    + (f" ({', '.join(state)})" if state else "")
                    + ": kube-proxy sends it no new flows while ready endpoints exist; left out",
                    Severity.WARNING,
                )
                continue
            _add(pool, _member(found, address, pod, endpoint.text("nodeName")), doc, at)


def _endpoints_members(found: _Set, pool: PoolDraft, obj: Node) -> None:
    doc = obj.doc
    for subset in obj.children("subsets"):
        for entry in subset.children("addresses"):
            text = entry.text("ip", required=True)
            address = canonical_ip(text) if text else None
            if address is None:
                if text is not None:
                    doc.report(entry.at("ip"), f"{text!r} is not an IP address")
                continue
            ref = entry.child("targetRef")
            pod = ref.text("name") if str(ref.get("kind", default="")).casefold() == "pod" else None
            member = _member(found, address, pod, entry.text("nodeName"))
            _add(pool, member, doc, entry.pointer)
        for entry in subset.children("notReadyAddresses"):
            doc.report(
                entry.pointer,
                f"endpoint {entry.text('ip')} of {pool.name!r} is not ready: left out",
                Severity.WARNING,
            )


def _port(
    lb: LbDraft,
    node: Node,
    slices: list[Node],
    endpoints: Node | None,
    distribution: Distribution,
) -> None:
    doc = node.doc
    port = node.integer("port", required=True)
    port_name = node.text("name")
    protocol = node.choice("protocol", SERVICE_PROTOCOLS, Protocol.TCP)
    if protocol is None:
        return
    backend = _target_port(node, port, port_name, protocol, slices, endpoints)
    if backend is None:
        return
    label = port_name or str(port)
    for fe in lb.frontends:
        suffix = f"@{fe.value.name}" if len(lb.frontends) > 1 else ""
        rule = Rule(
            name=f"{label}/{protocol.value}{suffix}",
            frontend=fe.value.name,
            protocol=protocol,
            frontend_port=port,
            backend_port=backend,
            pool=_pool_for(lb, fe.value.address),
            idle_timeout_min=TCP_IDLE_TIMEOUT_MIN
            if protocol is Protocol.TCP
            else UDP_IDLE_TIMEOUT_MIN,
            distribution=distribution,
        )
        fields = {
            "frontend_port": doc.origin(node.at("port")),
            "backend_port": doc.origin(node.at("targetPort")),
        }
        lb.rules.append(Placed(rule, doc.origin(node.pointer), fields))


def _target_port(
    node: Node,
    port: int,
    port_name: str | None,
    protocol: Protocol,
    slices: list[Node],
    endpoints: Node | None,
) -> int | None:
    """``targetPort`` as a number: as given, or resolved through the endpoints' ports (named after
    the Service port, numbered with the pods' container port)."""
    target = node.get("targetPort")
    if target is None:
        return port
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    numbers: set[int] = set()
    for owner, key in [(s, "ports") for s in slices] + (
        [(sub, "ports") for sub in endpoints.children("subsets")] if endpoints else []
    ):
        for entry in owner.children(key) if owner.has(key) else []:
            same_name = (entry.text("name") or None) == (port_name or None)
            same_proto = str(entry.get("protocol", default="TCP")).casefold() == protocol.value
            if same_name and same_proto and isinstance(entry.get("port"), int):
                numbers.add(int(entry.get("port")))
    if len(numbers) == 1:
        return numbers.pop()
    if numbers:
        listed = ", ".join(str(n) for n in sorted(numbers))
        node.doc.report(
            node.at("targetPort"),
            f"targetPort {target!r} resolves to different ports on different pods ({listed}); "
            f"a rule has one backend port, so Service port {port}/{protocol.value.upper()} is "
            "not modelled",
        )
        return None
    node.doc.report(
        node.at("targetPort"),
        f"targetPort {target!r} is a container port name that no EndpointSlice port resolves "
        "(pass kubectl get endpointslices -o json)",
    )
    return None
