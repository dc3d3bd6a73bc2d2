"""AWS, Google Cloud and Kubernetes loaders: what each reads, and each malformed document's one
located problem."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.errors import ConfigError
from pcapflow.lbconfig import detect, load, load_text, to_yaml, validate
from pcapflow.lbconfig.problems import Severity
from pcapflow.model.lb import Distribution, LbConfig, Protocol

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"
AWS = sorted(str(p) for p in (FIX / "aws").glob("*.json"))
GCLOUD = sorted(str(p) for p in (FIX / "gcloud").glob("*.json"))
WEB_TG = "tg-orders-web/73e2d6bc24d8a067"
KUBECTL = sorted(str(p) for p in (FIX / "kubectl").glob("*.json"))


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


def _write(tmp: Path, name: str, data: Any) -> str:
    path = tmp / name
    path.write_text(json.dumps(data, indent=2))
    return str(path)


def _with(tmp: Path, files: list[str], name: str, change: Any) -> list[str]:
    """The fixture set with ``name`` replaced by ``change(copy of it)`` (None: left out)."""
    out = []
    for f in files:
        if Path(f).name != name:
            out.append(f)
            continue
        data = change(copy.deepcopy(_read(Path(f))))
        if data is not None:
            out.append(_write(tmp, name, data))
    return out


def _errors(files: list[str]) -> list[str]:
    return [str(p) for p in validate(files) if p.severity is Severity.ERROR]


# ---- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(("files", "fmt"), [(AWS, "aws"), (GCLOUD, "gcloud"), (KUBECTL, "kubectl")])
def test_every_fixture_is_detected_as_its_platform(files: list[str], fmt: str) -> None:
    assert {detect(_read(Path(f))) for f in files} == {fmt}


# ---- AWS -------------------------------------------------------------------------------------


def test_aws_nlb_frontends_pools_rules_and_probes() -> None:
    cfg = load(AWS)
    (lb,) = cfg.load_balancers
    assert (lb.name, lb.cloud, lb.internal, lb.location) == ("nlb-orders", "aws", True, "us-east-1")
    assert [(f.name, f.address) for f in lb.frontends] == [
        ("us-east-1a", "10.20.1.50"),
        ("us-east-1b", "10.20.2.50"),
    ]
    web = lb.pool("tg-orders-web")
    assert web is not None
    assert [(m.address, m.vm) for m in web.members] == [
        ("10.20.1.11", "i-0f76fade435676abd"),
        ("10.20.2.12", "i-0e4c8b2f1a3d5c7e9"),
    ]
    rules = {r.name: r for r in lb.rules}
    assert set(rules) == {
        "tcp-80@us-east-1a",
        "tcp-80@us-east-1b",
        "tcp-9000@us-east-1a",
        "tcp-9000@us-east-1b",
    }
    web_rule, ip_rule = rules["tcp-80@us-east-1a"], rules["tcp-9000@us-east-1b"]
    assert (web_rule.backend_port, web_rule.preserve_client_ip) == (8080, True)
    assert ip_rule.distribution is Distribution.SOURCE_IP  # stickiness source_ip
    assert ip_rule.preserve_client_ip  # the attributes document says true
    assert (web_rule.idle_timeout_min, ip_rule.idle_timeout_min) == (6, 15)  # 350 s; 900 s given
    probe = lb.probe("tg-orders-web")
    assert probe is not None and (probe.port, probe.path, probe.interval_s) == (
        8080,
        "/healthz",
        10,
    )
    assert probe.source_ranges == ("10.20.1.50/32", "10.20.2.50/32")
    assert cfg.is_probe_source("10.20.2.50") and not cfg.is_probe_source("10.20.1.11")
    match = cfg.explain("10.20.2.50", 80, "10.20.1.11", 8080, "tcp")
    assert match is not None and match.pool.name == "tg-orders-web"


def test_aws_ip_targets_over_tcp_do_not_preserve_the_client_ip_by_default(tmp_path: Path) -> None:
    files = [f for f in AWS if "target-group-attributes" not in f]
    (lb,) = load(files).load_balancers
    ip_rules = [r for r in lb.rules if r.pool == "tg-orders-ip"]
    assert ip_rules and not any(r.preserve_client_ip for r in ip_rules)
    assert all(r.preserve_client_ip for r in lb.rules if r.pool == "tg-orders-web")


def test_aws_attribute_false_turns_preservation_off(tmp_path: Path) -> None:
    def off(doc: Any) -> Any:
        arn = doc["TargetGroupArn"]
        doc["TargetGroupArn"] = arn.replace("tg-orders-ip/2453ed029918f21f", WEB_TG)
        for attr in doc["Attributes"]:
            if attr["Key"] == "preserve_client_ip.enabled":
                attr["Value"] = "false"
        return doc

    files = _with(tmp_path, AWS, "target-group-attributes-ip.json", off)
    (lb,) = load(files).load_balancers
    assert not any(r.preserve_client_ip for r in lb.rules if r.pool == "tg-orders-web")


def test_aws_tcp_udp_listener_gives_a_tcp_and_a_udp_rule(tmp_path: Path) -> None:
    def tcp_udp(doc: Any) -> Any:
        doc["Listeners"][1]["Protocol"] = "TCP_UDP"
        return doc

    (lb,) = load(_with(tmp_path, AWS, "describe-listeners.json", tcp_udp)).load_balancers
    protos = {r.protocol for r in lb.rules if r.frontend_port == 9000}
    assert protos == {Protocol.TCP, Protocol.UDP}


def _drop_arn(doc: Any) -> Any:
    del doc["TargetGroupArn"]
    return doc


def _unknown_tg(doc: Any) -> Any:
    doc["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"] += "-gone"
    del doc["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]
    return doc


def _no_private(doc: Any) -> Any:
    doc["LoadBalancers"][0]["AvailabilityZones"][1]["LoadBalancerAddresses"] = []
    return doc


def _port_text(doc: Any) -> Any:
    doc["Listeners"][0]["Port"] = "eighty"
    return doc


def _drop_listener_arn(doc: Any) -> Any:
    del doc["ListenerArn"]
    return doc


def _no_port(doc: Any) -> Any:
    del doc["Listeners"][0]["Port"]
    return doc


def _http_listener(doc: Any) -> Any:
    doc["Listeners"][0]["Protocol"] = "HTTP"
    return doc


def _bad_target_ip(doc: Any) -> Any:
    doc["TargetHealthDescriptions"][0]["Target"]["Id"] = "10.20.1.300"
    return doc


@pytest.mark.parametrize(
    ("name", "change", "where", "words"),
    [
        ("target-health-ip.json", _drop_arn, "target-health-ip.json:2: /TargetHealthDescriptions:",
         "does not name its target group and 2 are given"),
        ("describe-listeners.json", _unknown_tg, "/Listeners/0/DefaultActions/0/TargetGroupArn",
         "which is not in the describe-target-groups output given"),
        ("describe-instances.json", lambda d: None, "target-health-web.json:6: /Target",
         "is unresolved; pass `aws ec2 describe-instances"),
        ("describe-load-balancers.json", _no_private, "/AvailabilityZones/1/LoadBalancerAddresses",
         "its private address in zone us-east-1b is not in this output"),
        ("describe-listeners.json", _port_text, "/Listeners/0/Port", "expected an integer"),
        ("describe-listeners.json", _no_port, "/Listeners/0/Port", "missing 'Port'"),
        ("listener-attributes-9000.json", _drop_listener_arn, "listener-attributes-9000.json:2",
         "does not name its listener and 2 are given"),
        ("describe-listeners.json", _http_listener, "/Listeners/0/Protocol",
         "is not TCP, UDP, TCP_UDP or TLS"),
        ("target-health-ip.json", _bad_target_ip, "/TargetHealthDescriptions/0/Target/Id",
         "is not an IP address"),
    ],
)  # fmt: skip
def test_aws_malformed_documents_give_one_located_error(
    tmp_path: Path, name: str, change: Any, where: str, words: str
) -> None:
    errors = _errors(_with(tmp_path, AWS, name, change))
    assert len(errors) == (2 if name == "describe-instances.json" else 1), errors  # 2 instances
    assert where in errors[0] and words in errors[0] and all(words in e for e in errors)
    assert re.search(r"\.json:\d+: /", errors[0])  # file, line and JSON pointer
    with pytest.raises(ConfigError) as info:
        load(_with(tmp_path, AWS, name, change))
    assert "\n" not in str(info.value)


def test_aws_the_plain_cli_output_belongs_to_the_only_target_group(tmp_path: Path) -> None:
    groups = _read(FIX / "aws" / "describe-target-groups.json")
    groups["TargetGroups"] = groups["TargetGroups"][:1]
    listeners = _read(FIX / "aws" / "describe-listeners.json")
    listeners["Listeners"] = listeners["Listeners"][:1]
    health = _drop_arn(_read(FIX / "aws" / "target-health-web.json"))
    files = [
        str(FIX / "aws" / "describe-load-balancers.json"),
        str(FIX / "aws" / "describe-instances.json"),
        _write(tmp_path, "tg.json", groups),
        _write(tmp_path, "l.json", listeners),
        _write(tmp_path, "h.json", health),
    ]
    (lb,) = load(files).load_balancers
    assert [p.name for p in lb.pools] == ["tg-orders-web"] and len(lb.pools[0].members) == 2


def test_aws_internal_nlb_addresses_from_its_network_interfaces(tmp_path: Path) -> None:
    enis = {
        "NetworkInterfaces": [
            {
                "AvailabilityZone": "us-east-1b",
                "Description": "ELB net/nlb-orders/50dc6c495c0c9188",
                "InterfaceType": "network_load_balancer",
                "NetworkInterfaceId": "eni-0c1d2e3f4a5b60002",
                "PrivateIpAddress": "10.20.2.77",
                "RequesterId": "amazon-elb",
            }
        ]
    }
    files = _with(tmp_path, AWS, "describe-load-balancers.json", _no_private)
    (lb,) = load([*files, _write(tmp_path, "enis.json", enis)]).load_balancers
    assert [f.address for f in lb.frontends] == ["10.20.1.50", "10.20.2.77"]


# ---- Google Cloud ----------------------------------------------------------------------------


def test_gcloud_internal_passthrough_balancer() -> None:
    cfg = load(GCLOUD)
    (lb,) = cfg.load_balancers
    assert (lb.name, lb.cloud, lb.location, lb.resource_group) == (
        "be-orders",
        "gcp",
        "us-central1",
        "shop-prod-4411",
    )
    (fe,) = lb.frontends
    assert (fe.address, fe.local_on_members, fe.private) == ("10.128.0.100", True, True)
    assert [(m.address, m.vm) for m in lb.pools[0].members] == [
        ("10.128.0.11", "orders-a-1"),
        ("10.128.0.12", "orders-a-2"),
        ("10.128.0.21", "orders-b-1"),
    ]
    assert [(r.frontend_port, r.floating_ip, r.probe) for r in lb.rules] == [
        (80, True, "hc-orders-http"),
        (8080, True, "hc-orders-http"),
    ]
    (probe,) = lb.probes
    assert probe.source_ranges == ("35.191.0.0/16", "130.211.0.0/22") and probe.source == ""
    assert cfg.is_probe_source("35.191.7.9") and cfg.is_probe_source("130.211.3.1")
    assert not cfg.is_probe_source("10.128.0.11")
    # packets keep the forwarding rule's address on the backend (passthrough)
    assert cfg.explain("10.128.0.100", 80, "10.128.0.100", 80, "tcp") is not None


def test_gcloud_all_ports_and_session_affinity(tmp_path: Path) -> None:
    def all_ports(doc: Any) -> Any:
        del doc["ports"]
        doc["allPorts"] = True
        return doc

    def affinity(doc: Any) -> Any:
        doc["sessionAffinity"] = "CLIENT_IP"
        return doc

    files = _with(tmp_path, GCLOUD, "forwarding-rule.json", all_ports)
    files = _with(tmp_path, files, "backend-service.json", affinity)
    cfg = load(files)
    (rule,) = cfg.load_balancers[0].rules
    assert (rule.frontend_port, rule.distribution) == (0, Distribution.SOURCE_IP)
    assert cfg.rules_for("10.128.0.100", 5432, "tcp") and not cfg.rules_for(
        "10.128.0.100", 53, "udp"
    )
    assert not [p for p in validate(files) if p.severity is Severity.ERROR]
    code, out = _cli("lb", "show", *files)
    assert code == 0 and "rule fr-orders: 10.128.0.100 all tcp ports -> be-orders same port" in out


def _unknown_service(doc: Any) -> Any:
    doc["backendService"] = doc["backendService"].replace("be-orders", "be-missing")
    return doc


def _no_ip(doc: Any) -> Any:
    del doc["IPAddress"]
    return doc


def _ip_text(doc: Any) -> Any:
    doc["IPAddress"] = "10.128.0.300"
    return doc


@pytest.mark.parametrize(
    ("name", "change", "where", "words"),
    [
        ("instances-list.json", lambda d: None, "/instances/0/instance",
         "is unresolved; pass `gcloud compute instances list"),
        ("forwarding-rule.json", _unknown_service, "forwarding-rule.json:5: /backendService",
         "names backend service 'be-missing'"),
        ("forwarding-rule.json", _ip_text, "/IPAddress", "is not an IP address"),
        ("forwarding-rule.json", _no_ip, "/IPAddress", "missing 'IPAddress'"),
        ("instances-ig-orders-b.json", lambda d: None, "/backends/1/group",
         "instance group 'ig-orders-b': its members are unknown"),
    ],
)  # fmt: skip
def test_gcloud_malformed_documents_give_located_errors(
    tmp_path: Path, name: str, change: Any, where: str, words: str
) -> None:
    errors = _errors(_with(tmp_path, GCLOUD, name, change))
    assert errors and where in errors[0] and words in errors[0], errors
    assert all(words in e for e in errors)


def test_gcloud_an_unnamed_instance_list_with_two_groups_is_reported(tmp_path: Path) -> None:
    files = _with(tmp_path, GCLOUD, "instances-ig-orders-a.json", lambda d: d["instances"])
    errors = _errors(files)
    assert any("does not name its group and 2 instance groups" in e for e in errors), errors


# ---- Kubernetes ------------------------------------------------------------------------------


def test_kubectl_services_endpoints_and_pods() -> None:
    cfg = load(KUBECTL)
    orders, sticky = cfg.load_balancers
    assert (orders.name, orders.cloud, orders.sku) == ("shop/orders", "kubernetes", "ClusterIP")
    assert [(f.name, f.address) for f in orders.frontends] == [("cluster-ip", "10.96.120.15")]
    members = orders.pools[0].members
    assert [(m.address, m.vm, m.node) for m in members] == [
        ("10.244.1.7", "orders-7c9d8f6b5-2xkqp", "worker-1"),
        ("10.244.2.9", "orders-7c9d8f6b5-h8w4n", "worker-2"),
    ]  # the terminating, not-ready endpoint is left out
    http = next(r for r in orders.rules if r.frontend_port == 80)
    assert http.backend_port == 8080  # targetPort "web" through the slice's port "http"
    assert orders.probes == ()
    assert sticky.rules[0].distribution is Distribution.SOURCE_IP
    assert cfg.explain("10.96.120.15", 80, "10.244.2.9", 8080, "tcp") is not None


def test_kubectl_pods_fill_in_names_the_endpoints_lack(tmp_path: Path) -> None:
    def bare(doc: Any) -> Any:
        for item in doc["items"]:
            for ep in item.get("endpoints", []):
                ep.pop("targetRef", None)
                ep.pop("nodeName", None)
        return doc

    files = _with(tmp_path, KUBECTL, "svc-endpointslices.json", bare)
    member = load(files).load_balancers[0].pools[0].members[1]
    assert (member.vm, member.node) == ("orders-7c9d8f6b5-h8w4n", "worker-2")


def test_kubectl_older_endpoints_objects(tmp_path: Path) -> None:
    doc = _read(FIX / "kubectl" / "svc-endpointslices.json")
    doc["items"] = [
        doc["items"][0],
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "orders", "namespace": "shop"},
            "subsets": [
                {
                    "addresses": [{"ip": "10.244.1.7", "nodeName": "worker-1"}],
                    "notReadyAddresses": [{"ip": "10.244.2.11"}],
                    "ports": [
                        {"name": "http", "port": 8080, "protocol": "TCP"},
                        {"name": "metrics", "port": 9100, "protocol": "TCP"},
                    ],
                }
            ],
        },
    ]
    cfg = load([_write(tmp_path, "svc-ep.json", doc)])
    lb = cfg.load_balancers[0]
    assert [m.address for m in lb.pools[0].members] == ["10.244.1.7"]
    assert next(r for r in lb.rules if r.frontend_port == 80).backend_port == 8080


def _unresolvable_port(doc: Any) -> Any:
    doc["items"][0]["spec"]["ports"][0]["name"] = "www"
    return doc


def _bad_cluster_ip(doc: Any) -> Any:
    doc["items"][0]["spec"]["clusterIPs"] = ["10.96.120.999"]
    return doc


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (_unresolvable_port, "/items/0/spec/ports/0/targetPort",
         "targetPort 'web' is a container port name that no EndpointSlice port resolves"),
        (_bad_cluster_ip, "/items/0/spec/clusterIPs/0", "is not an IP address"),
    ],
)  # fmt: skip
def test_kubectl_malformed_documents_give_one_located_error(
    tmp_path: Path, change: Any, where: str, words: str
) -> None:
    errors = _errors(_with(tmp_path, KUBECTL, "svc-endpointslices.json", change))
    assert len(errors) == 1 and where in errors[0] and words in errors[0], errors


# ---- the YAML form keeps every platform field ------------------------------------------------


@pytest.mark.parametrize("files", [AWS, GCLOUD, KUBECTL])
def test_the_yaml_form_round_trips(files: list[str]) -> None:
    cfg = load(files)
    again = load_text(to_yaml(cfg))
    assert again.load_balancers == cfg.load_balancers


# ---- CLI -------------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("files", "line"),
    [
        (AWS, "rule tcp-80@us-east-1b: 10.20.2.50:80/tcp -> tg-orders-web:8080 (2 member(s))"),
        (GCLOUD, "frontend fr-orders: 10.128.0.100 private  local on every member"),
        (KUBECTL, "10.244.2.9  vm orders-7c9d8f6b5-h8w4n  node worker-2"),
    ],
)
def test_lb_show_on_each_platform(files: list[str], line: str) -> None:
    code, out = _cli("lb", "show", *files)
    assert code == 0 and line in out


def test_lb_validate_exit_codes(tmp_path: Path) -> None:
    assert _cli("lb", "validate", *AWS)[0] == 0
    bad = _with(tmp_path, AWS, "describe-listeners.json", _unknown_tg)
    code, out = _cli("lb", "validate", *bad)
    assert code == 1 and "which is not in the describe-target-groups output" in out
    broken = tmp_path / "broken.json"
    broken.write_text('{"LoadBalancers": [')
    code, out = _cli("lb", "validate", str(broken))
    assert code == 2 and out.count("\n") == 1
    code, out = _cli("lb", "validate", "--lb-format", "kubectl", *AWS[:1])
    assert code == 1 and "no Service in the documents given" in out


def test_lb_show_json_carries_platform_fields() -> None:
    code, out = _cli("lb", "show", "--format", "json", *GCLOUD)
    assert code == 0
    data = json.loads(out)["load_balancers"][0]
    assert data["frontends"][0]["local_on_members"] is True
    assert data["probes"][0]["source_ranges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert "source" not in data["probes"][0]


def test_analyze_accepts_each_platform_set() -> None:
    sample = Path(__file__).resolve().parents[1] / "sample_captures"
    capture = next(iter(sorted(sample.glob("*/*.pcap"))), None)
    if capture is None:
        pytest.skip("no sample capture in this checkout")
    for files in (AWS, GCLOUD, KUBECTL):
        args = [x for f in files for x in ("--lb", f)]
        code, out = _cli("analyze", str(capture), *args)
        assert code in (0, 3), out


def test_one_config_from_three_platforms() -> None:
    cfg: LbConfig = load([*AWS, *GCLOUD, *KUBECTL])
    assert [lb.cloud for lb in cfg.load_balancers] == ["aws", "gcp", "kubernetes", "kubernetes"]


# ---- Terraform (aws and google providers) ----------------------------------------------------

TF = FIX / "terraform"


@pytest.mark.parametrize("name", ["aws-state.json", "aws-plan.json"])
def test_terraform_aws_state_and_plan(name: str) -> None:
    cfg = load([str(TF / name)])
    (lb,) = cfg.load_balancers
    assert (lb.name, lb.cloud, lb.internal) == ("nlb-pay", "aws", True)
    assert [f.address for f in lb.frontends] == ["10.30.1.100", "10.30.2.100"]
    assert [m.address for m in lb.pools[0].members] == ["10.30.1.21", "10.30.2.22"]
    assert {(r.frontend_port, r.backend_port, r.preserve_client_ip) for r in lb.rules} == {
        (443, 8443, True)
    }
    assert not [p for p in validate([str(TF / name)]) if p.severity is Severity.ERROR]


@pytest.mark.parametrize("name", ["gcp-state.json", "gcp-plan.json"])
def test_terraform_gcp_state_and_plan(name: str) -> None:
    (lb,) = load([str(TF / name)]).load_balancers
    assert (lb.name, lb.cloud) == ("bs-pay", "gcp")
    assert [(f.address, f.local_on_members) for f in lb.frontends] == [("10.164.0.100", True)]
    assert [(m.address, m.vm) for m in lb.pools[0].members] == [
        ("10.164.0.11", "pay-1"),
        ("10.164.0.12", "pay-2"),
    ]
    assert [(r.frontend_port, r.floating_ip, r.probe) for r in lb.rules] == [(8443, True, "hc-pay")]
    assert lb.probes[0].source_ranges == ("35.191.0.0/16", "130.211.0.0/22")


def _tf_resource(data: Any, rtype: str) -> dict[str, Any]:
    resources = data["values"]["root_module"]["resources"]
    found: dict[str, Any] = next(r for r in resources if r["type"] == rtype)
    return found


def _tf_unknown_group(data: Any) -> Any:
    action = _tf_resource(data, "aws_lb_listener")["values"]["default_action"][0]
    action["target_group_arn"] += "-gone"
    return data


def _tf_no_instances(data: Any) -> Any:
    resources = data["values"]["root_module"]["resources"]
    data["values"]["root_module"]["resources"] = [
        r for r in resources if r["type"] != "aws_instance"
    ]
    return data


def _tf_unknown_service(data: Any) -> Any:
    rule = _tf_resource(data, "google_compute_forwarding_rule")
    rule["values"]["backend_service"] += "-gone"
    return data


def _tf_bad_ip(data: Any) -> Any:
    _tf_resource(data, "google_compute_forwarding_rule")["values"]["ip_address"] = "10.164.0.999"
    return data


@pytest.mark.parametrize(
    ("name", "change", "where", "words"),
    [
        ("aws-state.json", _tf_unknown_group, "/values/default_action/0/target_group_arn",
         "which is not in the describe-target-groups output given"),
        ("aws-state.json", _tf_no_instances, "/values/target_id",
         "is unresolved; pass `aws ec2 describe-instances"),
        ("gcp-state.json", _tf_unknown_service, "/values/backend_service",
         "names backend service 'bs-pay-gone'"),
        ("gcp-state.json", _tf_bad_ip, "/values/ip_address", "is not an IP address"),
    ],
)  # fmt: skip
def test_terraform_malformed_documents_point_at_the_attribute(
    tmp_path: Path, name: str, change: Any, where: str, words: str
) -> None:
    path = _write(tmp_path, name, change(_read(TF / name)))
    errors = _errors([path])
    assert errors and all(where in e and words in e for e in errors), errors
    assert re.search(r"\.json:\d+: /values/root_module/resources/\d+/values/", errors[0])
    assert _cli("lb", "validate", path)[0] == 1


def test_terraform_with_azure_aws_and_google_balancers_reads_all_three(tmp_path: Path) -> None:
    azure = _read(FIX / "tf-state.json")
    merged = _read(TF / "aws-state.json")
    resources = merged["values"]["root_module"]["resources"]
    resources.extend(_read(TF / "gcp-state.json")["values"]["root_module"]["resources"])
    resources.extend(azure["values"]["root_module"].get("resources", []))
    merged["values"]["root_module"]["child_modules"] = azure["values"]["root_module"].get(
        "child_modules", []
    )
    cfg = load([_write(tmp_path, "all.json", merged)])
    assert sorted(lb.cloud for lb in cfg.load_balancers) == ["aws", "azure", "gcp"]


# ---- batch reports ---------------------------------------------------------------------------


def test_batch_report_with_a_set_reanalyses_when_the_set_changes(tmp_path: Path) -> None:
    capture = Path(__file__).resolve().parents[1] / "sample_captures" / "hairpin-two-backends"
    if not (capture / "web01-eth0.pcap").exists():
        pytest.skip("sample_captures/hairpin-two-backends is missing")
    files = [_write(tmp_path, Path(f).name, _read(Path(f))) for f in AWS]
    out = tmp_path / "out"
    args = ["report", str(capture / "web01-eth0.pcap"), "--out", str(out), "-j", "1",
            "--format", "json", *[x for f in files for x in ("--lb", f)]]  # fmt: skip
    code, output = _cli(*args)
    assert code in (0, 3) and (out / "summary.json").exists(), output
    assert "1 up to date" in _cli(*args)[1]

    def off(doc: Any) -> Any:
        for attr in doc["Attributes"]:
            if attr["Key"] == "preserve_client_ip.enabled":
                attr["Value"] = "false"
        return doc

    _with(tmp_path, files, "target-group-attributes-ip.json", off)  # rewrites it in place
    assert "0 up to date" in _cli(*args)[1]


def test_a_directory_stands_for_its_configuration_files(tmp_path: Path) -> None:
    code, out = _cli("lb", "show", str(FIX / "aws"))
    assert code == 0 and "nlb-orders (aws, network, internal)" in out
    (tmp_path / "notes.txt").write_text("not a config")
    code, out = _cli("lb", "show", str(tmp_path))
    assert code == 2 and "a directory without .json or .yaml configuration files" in out
    samples = Path(__file__).resolve().parents[1] / "sample_captures"
    capture = samples / "hairpin-two-backends" / "web01-eth0.pcap"
    if capture.exists():  # the Azure lab's subnet, VIP and members are the lab NLB's too
        nlb = samples / "aws-nlb-preserve-client-ip" / "aws"
        code, out = _cli("analyze", str(capture), "--lb", str(nlb))
        assert code == 3, out
        assert "load balancer nlb-web, rule tcp-80@eu-west-1a" in out


def test_kubectl_dual_stack_service_keeps_families_apart(tmp_path: Path) -> None:
    doc = _read(FIX / "kubectl" / "svc-endpointslices.json")
    svc, v4 = doc["items"][0], doc["items"][1]
    svc["spec"]["clusterIPs"] = ["10.96.120.15", "fd00:10:96::8c"]
    v6 = copy.deepcopy(v4)
    v6["addressType"] = "IPv6"
    v6["metadata"]["name"] = "orders-v6"
    v6["endpoints"] = [{"addresses": ["fd00:10:244:1::7"], "conditions": {"ready": True}}]
    doc["items"] = [svc, v4, v6]
    files = [_write(tmp_path, "dual.json", doc)]
    (lb,) = load(files).load_balancers
    assert [(p.name, [m.address for m in p.members]) for p in lb.pools] == [
        ("orders", ["10.244.1.7", "10.244.2.9"]),
        ("orders-ipv6", ["fd00:10:244:1::7"]),
    ]
    pools = {(lb.frontend(r.frontend).address, r.pool) for r in lb.rules}  # type: ignore[union-attr]
    assert pools == {("10.96.120.15", "orders"), ("fd00:10:96::8c", "orders-ipv6")}
    assert not [p for p in validate(files) if p.severity is Severity.ERROR]


def test_gcloud_a_non_tcp_udp_forwarding_rule_is_a_warning(tmp_path: Path) -> None:
    def esp(doc: Any) -> Any:
        doc["IPProtocol"] = "ESP"
        return doc

    problems = validate(_with(tmp_path, GCLOUD, "forwarding-rule.json", esp))
    (warning,) = [p for p in problems if "ESP" in p.message]
    assert warning.severity is Severity.WARNING and warning.pointer == "/IPProtocol"


def test_aws_a_listener_of_another_balancer_is_noted(tmp_path: Path) -> None:
    def other(doc: Any) -> Any:
        doc["Listeners"][1]["LoadBalancerArn"] += "-other"
        return doc

    files = _with(tmp_path, AWS, "describe-listeners.json", other)
    notes = [p.message for p in validate(files) if p.severity is Severity.WARNING]
    assert any("listener of a load balancer that is not in" in n for n in notes)
    assert any("'tg-orders-ip' is not the target of any listener" in n for n in notes)


def test_terraform_kubernetes_services_and_endpoints() -> None:
    path = str(TF / "k8s-state.json")
    orders, legacy = load([path]).load_balancers
    assert (orders.name, orders.cloud, [f.address for f in orders.frontends]) == (
        "shop/orders",
        "kubernetes",
        ["10.96.120.15"],
    )
    assert [(r.frontend_port, r.backend_port, r.distribution) for r in orders.rules] == [
        (80, 8080, Distribution.SOURCE_IP),
        (9100, 9100, Distribution.SOURCE_IP),
    ]
    assert orders.pools[0].members == ()  # the cluster makes its endpoints, not Terraform
    assert [m.address for m in legacy.pools[0].members] == ["10.20.9.41", "10.20.9.42"]
    warnings = [p for p in validate([path]) if "members are unknown" in p.message]
    assert warnings and warnings[0].pointer == "/values/root_module/resources/0"


def test_terraform_kubernetes_bad_cluster_ip_points_at_the_attribute(tmp_path: Path) -> None:
    data = _read(TF / "k8s-state.json")
    _tf_resource(data, "kubernetes_service_v1")["values"]["spec"][0]["cluster_ips"] = ["10.96.1"]
    errors = _errors([_write(tmp_path, "k8s.json", data)])
    assert len(errors) == 1 and "/values/spec/0/cluster_ips/0" in errors[0], errors
    assert "'10.96.1' is not an IP address" in errors[0]


NO_PRESERVE = FIX.parents[2] / "sample_captures" / "aws-nlb-no-preserve-client-ip" / "aws"


@pytest.mark.parametrize(
    "files", [AWS, GCLOUD, KUBECTL, sorted(str(p) for p in NO_PRESERVE.glob("*.json"))]
)
def test_lb_show_json_of_every_platform_follows_the_schema(files: list[str]) -> None:
    import jsonschema

    from pcapflow.lbconfig import schema

    code, out = _cli("lb", "show", "--format", "json", *files)
    assert code == 0, out
    jsonschema.Draft202012Validator(schema()).validate(json.loads(out))


def test_live_capture_filter_takes_probe_ranges() -> None:
    from pcapflow.live.capture import config_filter

    bpf = config_filter(load(GCLOUD))
    assert "(net 35.191.0.0/16 and port 80)" in bpf and "(net 130.211.0.0/22 and port 80)" in bpf
    assert "168.63.129.16" not in bpf  # Azure's prober has nothing to do with Google Cloud
    assert "(host 10.128.0.100 and port 8080)" in bpf
    if shutil.which("tcpdump"):
        done = subprocess.run(
            ["tcpdump", "-d", "-y", "EN10MB", bpf], capture_output=True, timeout=20
        )
        if b"permission" not in done.stderr.lower():
            assert done.returncode == 0, done.stderr


def test_gcloud_network_endpoint_group_backends(tmp_path: Path) -> None:
    files = sorted(str(p) for p in (FIX / "gcloud-neg").glob("*.json"))
    assert detect(_read(Path(files[-1]))) == "gcloud"  # the bare list-network-endpoints list
    (lb,) = load(files).load_balancers
    assert [(m.address, m.vm) for m in lb.pools[0].members] == [
        ("10.128.0.31", "gke-shop-default-pool-4b1e2c3d-7x9q"),
        ("10.128.0.32", "gke-shop-default-pool-4b1e2c3d-k2m8"),
    ]
    assert (lb.rules[0].frontend_port, lb.probes[0].port) == (0, 10256)
    without = [f for f in files if "neg-endpoints" not in f]
    errors = _errors(without)
    assert len(errors) == 1 and "/backends/0/group" in errors[0]
    assert "network endpoint group 'k8s2-neg-shop-cart': its members are unknown" in errors[0]


def test_gcloud_many_network_endpoints_named_by_instance_resolve_each(tmp_path: Path) -> None:
    neg = FIX / "gcloud-neg"
    count = 1200
    zone = "https://www.googleapis.com/compute/v1/projects/shop-prod-4411/zones/us-central1-a"
    instances = [
        {
            "kind": "compute#instance",
            "name": f"gke-shop-pool-{i:04d}",
            "networkInterfaces": [
                {"name": "nic0", "networkIP": f"10.130.{i // 250}.{i % 250 + 1}"}
            ],
            "selfLink": f"{zone}/instances/gke-shop-pool-{i:04d}",
        }
        for i in range(count)
    ]
    # GCE_VM_IP endpoints naming their instance only (by name, one by URL, one unknown)
    endpoints: list[dict[str, Any]] = [
        {"networkEndpoint": {"instance": f"gke-shop-pool-{i:04d}"}} for i in range(count)
    ]
    endpoints[7]["networkEndpoint"]["instance"] = f"{zone}/instances/gke-shop-pool-0007"
    endpoints.append({"networkEndpoint": {"instance": "gke-shop-pool-gone"}})
    files = [
        str(neg / "backend-service.json"),
        str(neg / "forwarding-rule.json"),
        str(neg / "health-check.json"),
        _write(tmp_path, "instances.json", instances),
        _write(tmp_path, "endpoints.json", endpoints),
    ]
    errors = _errors(files)
    assert len(errors) == 1 and "/1200/networkEndpoint/instance" in errors[0], errors
    assert "instance 'gke-shop-pool-gone' is unresolved" in errors[0]
    files[-1] = _write(tmp_path, "endpoints.json", endpoints[:-1])
    (lb,) = load(files).load_balancers
    members = lb.pools[0].members
    assert len(members) == count
    assert members[0].address == "10.130.0.1" and members[-1].address == "10.130.4.200"
    assert [m.vm for m in members[:2]] == ["gke-shop-pool-0000", "gke-shop-pool-0001"]
    assert members[7].vm == "gke-shop-pool-0007" and members[7].address == "10.130.0.8"
