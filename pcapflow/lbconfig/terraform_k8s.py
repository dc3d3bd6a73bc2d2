"""Terraform ``terraform show -json`` (state or plan) with Kubernetes Services.

``kubernetes_service_v1`` / ``kubernetes_service`` (cluster IPs, ports, ``target_port``,
``session_affinity``, ``type``), and when Terraform manages them ``kubernetes_endpoints_v1`` /
``kubernetes_endpoints`` and ``kubernetes_endpoint_slice_v1``, are rebuilt as the objects ``kubectl
get -o json`` prints, with pointers back to the Terraform attributes, and read by
:mod:`pcapflow.lbconfig.kubernetes`.  Endpoints of a Service with a selector are made by the
cluster, not by Terraform: such a Service's members are reported unknown (add ``kubectl get
endpointslices -o json`` output to know them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pcapflow.lbconfig.draft import Loaded
from pcapflow.lbconfig.inventory import Inventory
from pcapflow.lbconfig.kubernetes import load_kubectl
from pcapflow.lbconfig.node import SOURCE_FIELDS, SOURCE_POINTER
from pcapflow.lbconfig.problems import Document
from pcapflow.lbconfig.terraform import TfResource, as_list, first_block, parse_state

SERVICES = ("kubernetes_service_v1", "kubernetes_service")
ENDPOINTS = ("kubernetes_endpoints_v1", "kubernetes_endpoints")
SLICES = ("kubernetes_endpoint_slice_v1",)


def _placed(pointer: str, fields: Mapping[str, str], **values: Any) -> dict[str, Any]:
    out = {SOURCE_POINTER: pointer, SOURCE_FIELDS: dict(fields)}
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def _metadata(res: TfResource) -> dict[str, Any]:
    meta = first_block(res.values.get("metadata"))
    return _placed(
        res.at("metadata", 0),
        {"name": res.at("metadata", 0, "name"), "labels": res.at("metadata", 0, "labels")},
        name=meta.get("name") or res.name,
        namespace=meta.get("namespace") or "default",
        labels=meta.get("labels") or {},
    )


def _target_port(value: Any) -> Any:
    """Terraform keeps ``target_port`` as a string: a number, or a container port name."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value or None


def _service(res: TfResource) -> dict[str, Any]:
    spec = first_block(res.values.get("spec"))
    base = ("spec", 0)
    ports = [
        _placed(
            res.at(*base, "port", j),
            {
                "port": res.at(*base, "port", j, "port"),
                "targetPort": res.at(*base, "port", j, "target_port"),
                "protocol": res.at(*base, "port", j, "protocol"),
            },
            name=port.get("name") or None,
            port=port.get("port"),
            protocol=port.get("protocol") or "TCP",
            targetPort=_target_port(port.get("target_port")),
        )
        for j, port in enumerate(as_list(spec.get("port")))
        if isinstance(port, Mapping)
    ]
    ingress = first_block(first_block(res.values.get("status")).get("load_balancer")).get("ingress")
    fields = {
        "clusterIPs": res.at(*base, "cluster_ips"),
        "clusterIP": res.at(*base, "cluster_ip"),
        "type": res.at(*base, "type"),
        "externalIPs": res.at(*base, "external_ips"),
        "internalTrafficPolicy": res.at(*base, "internal_traffic_policy"),
        "ports": res.at(*base, "port"),
    }
    return {
        SOURCE_POINTER: res.pointer,
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(res),
        "spec": _placed(
            res.at(*base),
            fields,
            clusterIP=spec.get("cluster_ip") or None,
            clusterIPs=spec.get("cluster_ips") or None,
            externalIPs=spec.get("external_ips") or None,
            ports=ports,
            selector=spec.get("selector") or None,
            sessionAffinity=spec.get("session_affinity") or "None",
            type=spec.get("type") or "ClusterIP",
            internalTrafficPolicy=spec.get("internal_traffic_policy") or None,
        ),
        "status": {
            "loadBalancer": {"ingress": [i for i in as_list(ingress) if isinstance(i, dict)]}
        },
    }


def _endpoints(res: TfResource) -> dict[str, Any]:
    subsets = []
    for j, subset in enumerate(as_list(res.values.get("subset"))):
        if not isinstance(subset, Mapping):
            continue
        at = ("subset", j)
        addresses = [
            _placed(
                res.at(*at, "address", k),
                {"ip": res.at(*at, "address", k, "ip")},
                ip=a.get("ip"),
                nodeName=a.get("node_name") or None,
            )
            for k, a in enumerate(as_list(subset.get("address")))
            if isinstance(a, Mapping)
        ]
        not_ready = [
            _placed(res.at(*at, "not_ready_address", k), {}, ip=a.get("ip"))
            for k, a in enumerate(as_list(subset.get("not_ready_address")))
            if isinstance(a, Mapping)
        ]
        ports = [
            {"name": p.get("name") or None, "port": p.get("port"), "protocol": p.get("protocol")}
            for p in as_list(subset.get("port"))
            if isinstance(p, Mapping)
        ]
        subsets.append(
            _placed(res.at(*at), {}, addresses=addresses, notReadyAddresses=not_ready, ports=ports)
        )
    return {
        SOURCE_POINTER: res.pointer,
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": _metadata(res),
        "subsets": subsets,
    }


def _slice(res: TfResource) -> dict[str, Any]:
    endpoints = []
    for j, ep in enumerate(as_list(res.values.get("endpoint"))):
        if not isinstance(ep, Mapping):
            continue
        condition = first_block(ep.get("condition"))
        ref = first_block(ep.get("target_ref"))
        endpoints.append(
            _placed(
                res.at("endpoint", j),
                {"addresses": res.at("endpoint", j, "addresses")},
                addresses=ep.get("addresses") or [],
                conditions=_placed(
                    res.at("endpoint", j, "condition", 0),
                    {"ready": res.at("endpoint", j, "condition", 0, "ready")},
                    ready=condition.get("ready"),
                    serving=condition.get("serving"),
                    terminating=condition.get("terminating"),
                ),
                nodeName=ep.get("node_name") or None,
                targetRef={"kind": "Pod", "name": ref["name"]} if ref.get("name") else None,
            )
        )
    ports = [
        {"name": p.get("name") or "", "port": p.get("port"), "protocol": p.get("protocol")}
        for p in as_list(res.values.get("port"))
        if isinstance(p, Mapping)
    ]
    return {
        SOURCE_POINTER: res.pointer,
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _metadata(res),
        "addressType": res.values.get("address_type") or "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def load_terraform_k8s(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    state, _ = parse_state(data, doc)
    items: list[dict[str, Any]] = []
    for rtype in SERVICES:
        items.extend(_service(r) for r in state.of_type(rtype) if not r.data)
    for rtype in ENDPOINTS:
        items.extend(_endpoints(r) for r in state.of_type(rtype))
    for rtype in SLICES:
        items.extend(_slice(r) for r in state.of_type(rtype))
    return load_kubectl([({"apiVersion": "v1", "kind": "List", "items": items}, doc)])
