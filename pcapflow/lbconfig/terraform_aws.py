"""Terraform ``terraform show -json`` (state or plan) with AWS network load balancers.

``aws_lb`` (``load_balancer_type = "network"``), ``aws_lb_listener``, ``aws_lb_target_group``
(``target_type``, ``preserve_client_ip``, ``health_check``, ``stickiness``),
``aws_lb_target_group_attachment`` and ``aws_instance`` (``private_ip``) are joined by ARN; in a
plan, where ARNs are not known yet, by the references recorded in ``configuration``.  They are
rebuilt in the shape of the AWS CLI's output, with pointers back to the Terraform attributes, and
read by :mod:`pcapflow.lbconfig.aws`: the same model, the same problems.  Availability Zones are
not in these resources: frontends are named after the subnet of each ``subnet_mapping``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pcapflow.lbconfig.aws import load_aws
from pcapflow.lbconfig.draft import Loaded
from pcapflow.lbconfig.inventory import Inventory
from pcapflow.lbconfig.node import SOURCE_FIELDS, SOURCE_POINTER
from pcapflow.lbconfig.problems import Document, Severity, pointer_join
from pcapflow.lbconfig.terraform import (
    TerraformState,
    TfResource,
    as_list,
    first_block,
    parse_state,
)

LB = "aws_lb"
LISTENER = "aws_lb_listener"
TARGET_GROUP = "aws_lb_target_group"
ATTACHMENT = "aws_lb_target_group_attachment"
INSTANCE = "aws_instance"
LISTENER_FIELDS: dict[str, str] = {
    "Port": "port",
    "Protocol": "protocol",
    "DefaultActions": "default_action",
}


def _arn(res: TfResource) -> str:
    """The resource's ARN, or a stand-in naming it (a plan knows ARNs only after apply)."""
    arn = res.values.get("arn")
    return arn if isinstance(arn, str) and arn else f"terraform:{res.address}"


def _link(state: TerraformState, res: TfResource, attr: str) -> str | None:
    target = state.link(res, attr)
    if isinstance(target, TfResource):
        return _arn(target)
    return target


Attribute = str | tuple[str | int, ...]  # an attribute, or the path to a nested one


def _placed(res: TfResource, fields: Mapping[str, Attribute]) -> dict[str, Any]:
    """An object pointing back at ``res`` (and each of its keys at a Terraform attribute)."""
    return {
        SOURCE_POINTER: res.pointer,
        SOURCE_FIELDS: {
            key: pointer_join(res.pointer, "values", *((a,) if isinstance(a, str) else a))
            for key, a in fields.items()
        },
    }


def load_terraform_aws(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    state, at = parse_state(data, doc)
    balancers = [_balancer(state, r) for r in state.of_type(LB) if not r.data]
    groups = [_group(r) for r in state.of_type(TARGET_GROUP) if not r.data]
    listeners = [_listener(state, r) for r in state.of_type(LISTENER)]
    documents: list[dict[str, Any]] = [
        {"LoadBalancers": balancers, "Listeners": listeners, "TargetGroups": groups},
        {"Reservations": [{"Instances": [_instance(r) for r in state.of_type(INSTANCE)]}]},
    ]
    for res in state.of_type(TARGET_GROUP):
        if res.data:
            continue
        documents.append(_attributes(res))
        documents.append(_targets(state, res))
    if not balancers:
        doc.report(at, "no aws_lb resource in this Terraform document")
    return load_aws([(d, doc) for d in documents])


def _balancer(state: TerraformState, res: TfResource) -> dict[str, Any]:
    v = res.values
    zones = []
    for j, mapping in enumerate(as_list(v.get("subnet_mapping"))):
        if not isinstance(mapping, Mapping):
            continue
        subnet = mapping.get("subnet_id") or f"subnet-mapping-{j + 1}"
        addresses = []
        private = mapping.get("private_ipv4_address")
        if private:
            at = ("subnet_mapping", j, "private_ipv4_address")
            entry = _placed(res, {"PrivateIPv4Address": at})
            addresses.append({**entry, "PrivateIPv4Address": private})
        zone = _placed(res, {"LoadBalancerAddresses": ("subnet_mapping", j)})
        zones.append({**zone, "ZoneName": subnet, "LoadBalancerAddresses": addresses})
    for subnet in as_list(v.get("subnets")):
        if isinstance(subnet, str) and all(z["ZoneName"] != subnet for z in zones):
            zone = _placed(res, {"LoadBalancerAddresses": "subnets"})
            zones.append({**zone, "ZoneName": subnet, "LoadBalancerAddresses": []})
    internal = v.get("internal")
    return {
        **_placed(res, {"Type": "load_balancer_type", "LoadBalancerName": "name"}),
        "LoadBalancerArn": _arn(res),
        "LoadBalancerName": v.get("name") or res.name,
        "Type": v.get("load_balancer_type") or "application",  # the provider's default
        "Scheme": "internal" if internal is True else "internet-facing",
        "AvailabilityZones": zones,
    }


def _listener(state: TerraformState, res: TfResource) -> dict[str, Any]:
    v = res.values
    actions = []
    for j, action in enumerate(as_list(v.get("default_action"))):
        if not isinstance(action, Mapping):
            continue
        arn = action.get("target_group_arn")
        at: tuple[str | int, ...] = ("default_action", j, "target_group_arn")
        if not arn:
            forward = first_block(first_block(action.get("forward")).get("target_group"))
            arn = forward.get("arn")
            at = ("default_action", j, "forward", 0, "target_group", 0, "arn")
        if not arn:  # a plan: the group's ARN is known after apply, its reference is not
            refs = state.references(res, "default_action", j, "target_group_arn")
            arn = _arn(refs[0]) if refs else None
        fields = {"TargetGroupArn": pointer_join(res.pointer, "values", *at)}
        actions.append(
            {
                SOURCE_POINTER: res.at("default_action", j),
                SOURCE_FIELDS: fields,
                "Type": action.get("type"),
                "TargetGroupArn": arn,
            }
        )
    return {
        **_placed(res, LISTENER_FIELDS),
        "LoadBalancerArn": _link(state, res, "load_balancer_arn"),
        "Port": v.get("port"),
        "Protocol": v.get("protocol") or "TCP",
        "DefaultActions": actions,
    }


def _group(res: TfResource) -> dict[str, Any]:
    v = res.values
    check = first_block(v.get("health_check"))
    fields: dict[str, Attribute] = {
        "Port": "port",
        "Protocol": "protocol",
        "TargetType": "target_type",
        "HealthCheckProtocol": ("health_check", "0", "protocol"),
        "HealthCheckPort": ("health_check", "0", "port"),
        "HealthCheckIntervalSeconds": ("health_check", "0", "interval"),
        "UnhealthyThresholdCount": ("health_check", "0", "unhealthy_threshold"),
    }
    out = {
        **_placed(res, fields),
        "TargetGroupArn": _arn(res),
        "TargetGroupName": v.get("name") or res.name,
        "Port": v.get("port"),
        "Protocol": v.get("protocol") or "TCP",
        "TargetType": v.get("target_type") or "instance",
        "HealthCheckEnabled": check.get("enabled", True),
        "HealthCheckProtocol": check.get("protocol") or "TCP",
        "HealthCheckPort": check.get("port") or "traffic-port",
        "HealthCheckPath": check.get("path") or None,
        "HealthCheckIntervalSeconds": check.get("interval"),
        "UnhealthyThresholdCount": check.get("unhealthy_threshold"),
    }
    return {k: val for k, val in out.items() if val is not None}


def _attributes(res: TfResource) -> dict[str, Any]:
    v = res.values
    entries = []
    preserve = v.get("preserve_client_ip")
    if preserve not in (None, ""):  # "" / null: the platform default for the target type
        entries.append(
            {
                **_placed(res, {"Value": "preserve_client_ip"}),
                "Key": "preserve_client_ip.enabled",
                "Value": str(preserve).casefold(),
            }
        )
    sticky = first_block(v.get("stickiness"))
    if sticky:
        for key, attr in (("stickiness.enabled", "enabled"), ("stickiness.type", "type")):
            value = sticky.get(attr)
            if value is not None:
                entries.append(
                    {
                        **_placed(res, {"Value": ("stickiness", "0", attr)}),
                        "Key": key,
                        "Value": str(value).casefold(),
                    }
                )
    return {"TargetGroupArn": _arn(res), "Attributes": entries}


def _targets(state: TerraformState, group: TfResource) -> dict[str, Any]:
    attachments = state.pointing_to(ATTACHMENT, "target_group_arn", group, _arn(group))
    entries = []
    for res in attachments:
        target = state.link(res, "target_id")
        target_id = _arn(target) if isinstance(target, TfResource) else target
        if target_id is None:
            state.doc.report(
                res.at("target_id"),
                f"{res.address}: target_id is not known (plan without configuration)",
                Severity.ERROR,
            )
            continue
        if isinstance(target, TfResource) and target.type == INSTANCE:
            target_id = target.values.get("id") or target.address
        port = res.values.get("port") or group.values.get("port")
        entries.append(
            {
                SOURCE_POINTER: res.pointer,
                "Target": {
                    SOURCE_POINTER: res.pointer,
                    SOURCE_FIELDS: {"Id": res.at("target_id"), "Port": res.at("port")},
                    "Id": target_id,
                    "Port": port,
                },
            }
        )
    return {"TargetGroupArn": _arn(group), "TargetHealthDescriptions": entries}


def _instance(res: TfResource) -> dict[str, Any]:
    v = res.values
    instance_id = v.get("id") or res.address  # a plan knows the id only after apply
    return {
        **_placed(res, {"PrivateIpAddress": "private_ip"}),
        "InstanceId": instance_id,
        "PrivateIpAddress": v.get("private_ip"),
    }
