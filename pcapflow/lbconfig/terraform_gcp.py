"""Terraform ``terraform show -json`` (state or plan) with Google Cloud passthrough balancers.

``google_compute_forwarding_rule``, ``google_compute_region_backend_service``,
``google_compute_instance_group`` (its ``instances``), ``google_compute_health_check`` /
``google_compute_region_health_check`` and ``google_compute_instance`` (``network_ip``) are joined
by self link; in a plan, where self links are not known yet, by the references recorded in
``configuration`` (a resource's self link is then built from its project, location and name).
They are rebuilt in the shape of ``gcloud ... --format json`` output, with pointers back to the
Terraform attributes, and read by :mod:`pcapflow.lbconfig.gcp`.  Managed instance groups do not
list their instances in Terraform: their members are reported unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pcapflow.lbconfig.draft import Loaded
from pcapflow.lbconfig.gcp import load_gcloud, url_key
from pcapflow.lbconfig.inventory import Inventory
from pcapflow.lbconfig.node import SOURCE_FIELDS, SOURCE_POINTER
from pcapflow.lbconfig.problems import Document, pointer_join
from pcapflow.lbconfig.terraform import (
    TerraformState,
    TfResource,
    as_list,
    first_block,
    parse_state,
)

FORWARDING_RULE = "google_compute_forwarding_rule"
BACKEND_SERVICES = ("google_compute_region_backend_service", "google_compute_backend_service")
INSTANCE_GROUP = "google_compute_instance_group"
HEALTH_CHECKS = ("google_compute_health_check", "google_compute_region_health_check")
INSTANCE = "google_compute_instance"
# self-link collection of each resource type, and where it lives (global, region or zone)
COLLECTIONS = {
    "google_compute_region_backend_service": ("regions", "region", "backendServices"),
    "google_compute_backend_service": ("global", None, "backendServices"),
    "google_compute_health_check": ("global", None, "healthChecks"),
    "google_compute_region_health_check": ("regions", "region", "healthChecks"),
    "google_compute_instance_group": ("zones", "zone", "instanceGroups"),
    "google_compute_instance": ("zones", "zone", "instances"),
    "google_compute_forwarding_rule": ("regions", "region", "forwardingRules"),
}
CHECK_BLOCKS = {
    "tcp_health_check": ("TCP", "tcpHealthCheck"),
    "http_health_check": ("HTTP", "httpHealthCheck"),
    "https_health_check": ("HTTPS", "httpsHealthCheck"),
    "http2_health_check": ("HTTP2", "http2HealthCheck"),
}


def self_link(res: TfResource) -> str:
    """The resource's self link, or one built from its project, location and name (plans)."""
    link = res.values.get("self_link")
    if isinstance(link, str) and link:
        return link
    scope, key, collection = COLLECTIONS.get(res.type, ("global", None, res.type))
    project = res.values.get("project") or "-"
    where = scope if key is None else f"{scope}/{_name(res.values.get(key)) or '-'}"
    return f"projects/{project}/{where}/{collection}/{res.values.get('name') or res.name}"


def _name(value: Any) -> str | None:
    return value.rstrip("/").rsplit("/", 1)[-1] if isinstance(value, str) and value else None


class _Links:
    """Following a Google reference (a self link, an id, or a configuration reference)."""

    def __init__(self, state: TerraformState) -> None:
        self.state = state
        self.index: dict[str, TfResource] = {}
        for res in state.resources:
            for value in (res.values.get("self_link"), res.values.get("id")):
                if isinstance(value, str) and value:
                    self.index[url_key(value)] = res

    def one(self, res: TfResource, attr: str) -> str | None:
        found = self.state.link(res, attr)
        if isinstance(found, str):
            found = self.index.get(url_key(found), found)
        return self_link(found) if isinstance(found, TfResource) else found

    def many(self, res: TfResource, attr: str) -> list[str]:
        out: list[str] = []
        for found in self.state.links(res, attr):
            if isinstance(found, str):
                found = self.index.get(url_key(found), found)
            out.append(self_link(found) if isinstance(found, TfResource) else found)
        return out


def _placed(res: TfResource, kind: str, fields: dict[str, tuple[str | int, ...]]) -> dict[str, Any]:
    return {
        SOURCE_POINTER: res.pointer,
        SOURCE_FIELDS: {k: pointer_join(res.pointer, "values", *a) for k, a in fields.items()},
        "kind": kind,
        "selfLink": self_link(res),
        "name": res.values.get("name") or res.name,
    }


def load_terraform_gcp(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    state, _ = parse_state(data, doc)
    links = _Links(state)
    documents: list[Any] = []
    for res in state.of_type(FORWARDING_RULE):
        documents.append(_forwarding_rule(links, res))
    for rtype in BACKEND_SERVICES:
        documents.extend(_backend_service(links, r) for r in state.of_type(rtype))
    for rtype in HEALTH_CHECKS:
        documents.extend(_health_check(r) for r in state.of_type(rtype))
    documents.extend(_instance(r) for r in state.of_type(INSTANCE))
    for res in state.of_type(INSTANCE_GROUP):
        members = [
            {SOURCE_POINTER: res.at("instances"), "instance": url}
            for url in links.many(res, "instances")
        ]
        documents.append({"instanceGroup": self_link(res), "instances": members})
    return load_gcloud([(d, doc) for d in documents])


def _forwarding_rule(links: _Links, res: TfResource) -> dict[str, Any]:
    v = res.values
    fields: dict[str, tuple[str | int, ...]] = {
        "IPAddress": ("ip_address",),
        "IPProtocol": ("ip_protocol",),
        "ports": ("ports",),
        "allPorts": ("all_ports",),
        "portRange": ("port_range",),
        "backendService": ("backend_service",),
        "loadBalancingScheme": ("load_balancing_scheme",),
    }
    out = {
        **_placed(res, "compute#forwardingRule", fields),
        "IPAddress": v.get("ip_address") or None,
        "IPProtocol": v.get("ip_protocol") or "TCP",
        "ports": v.get("ports") or None,
        "allPorts": v.get("all_ports") or None,
        "portRange": v.get("port_range") or None,
        "backendService": links.one(res, "backend_service"),
        "loadBalancingScheme": v.get("load_balancing_scheme") or "EXTERNAL",
        "region": v.get("region"),
    }
    return {k: val for k, val in out.items() if val is not None}


def _backend_service(links: _Links, res: TfResource) -> dict[str, Any]:
    v = res.values
    backends = []
    for j, backend in enumerate(as_list(v.get("backend"))):
        if not isinstance(backend, Mapping):
            continue
        group = backend.get("group")
        if not isinstance(group, str) or not group:  # a plan: the group's reference
            refs = links.state.references(res, "backend", j, "group")
            group = self_link(refs[0]) if refs else None
        else:
            found = links.index.get(url_key(group))
            group = self_link(found) if found is not None else group
        backends.append(
            {
                SOURCE_POINTER: res.at("backend", j),
                SOURCE_FIELDS: {"group": res.at("backend", j, "group")},
                "group": group,
            }
        )
    tracking = first_block(v.get("connection_tracking_policy"))
    fields: dict[str, tuple[str | int, ...]] = {
        "healthChecks": ("health_checks",),
        "sessionAffinity": ("session_affinity",),
        "backends": ("backend",),
    }
    out = {
        **_placed(res, "compute#backendService", fields),
        "backends": backends,
        "healthChecks": links.many(res, "health_checks"),
        "sessionAffinity": v.get("session_affinity") or "NONE",
        "loadBalancingScheme": v.get("load_balancing_scheme"),
        "region": v.get("region"),
        "connectionTrackingPolicy": {"idleTimeoutSec": tracking.get("idle_timeout_sec")}
        if tracking.get("idle_timeout_sec")
        else None,
    }
    return {k: val for k, val in out.items() if val is not None}


def _health_check(res: TfResource) -> dict[str, Any]:
    v = res.values
    kind, key, block = "TCP", "tcpHealthCheck", "tcp_health_check"
    for name, (check_type, check_key) in CHECK_BLOCKS.items():
        if first_block(v.get(name)):
            kind, key, block = check_type, check_key, name
            break
    detail = first_block(v.get(block))
    fields: dict[str, tuple[str | int, ...]] = {
        "checkIntervalSec": ("check_interval_sec",),
        "unhealthyThreshold": ("unhealthy_threshold",),
        "type": (block,),
    }
    inner = {
        SOURCE_POINTER: res.at(block, 0),
        SOURCE_FIELDS: {"port": res.at(block, 0, "port")},
        "port": detail.get("port"),
        "requestPath": detail.get("request_path"),
    }
    out = {
        **_placed(res, "compute#healthCheck", fields),
        "type": kind,
        key: {k: val for k, val in inner.items() if val is not None},
        "checkIntervalSec": v.get("check_interval_sec"),
        "unhealthyThreshold": v.get("unhealthy_threshold"),
    }
    return {k: val for k, val in out.items() if val is not None}


def _instance(res: TfResource) -> dict[str, Any]:
    nics = []
    for j, nic in enumerate(as_list(res.values.get("network_interface"))):
        if isinstance(nic, Mapping):
            nics.append(
                {
                    SOURCE_POINTER: res.at("network_interface", j),
                    SOURCE_FIELDS: {"networkIP": res.at("network_interface", j, "network_ip")},
                    "networkIP": nic.get("network_ip") or None,
                }
            )
    return {**_placed(res, "compute#instance", {}), "networkInterfaces": nics}
