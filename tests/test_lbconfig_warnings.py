"""The AWS, Google Cloud and Kubernetes loaders' warnings on legal but special configurations:
each one's severity, located pointer, wording and what the model then holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load, validate
from pcapflow.lbconfig.problems import Problem, Severity

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"


def _set(base: str, *replacements: str) -> list[str]:
    """The fixture set ``base`` with the files of the same name in ``replacements`` swapped in
    (and any other files of those folders added)."""
    swapped = {p.name: str(p) for r in replacements for p in sorted((FIX / r).glob("*.json"))}
    files = [swapped.pop(p.name, str(p)) for p in sorted((FIX / base).glob("*.json"))]
    return files + sorted(swapped.values())


def _about(problems: list[Problem], words: str) -> list[Problem]:
    return [p for p in problems if words in p.message]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


# ---- AWS: target health states ---------------------------------------------------------------

AWS_STATES = _set("aws", "aws-target-states")
IP_HEALTH = "target-health-ip.json"


@pytest.mark.parametrize(
    ("index", "target", "state", "kept", "words"),
    [
        (1, "10.20.2.22", "unhealthy (Target.FailedHealthChecks)", True,
         "the NLB sends new flows to healthy targets only (to every target when none is "
         "healthy: fail open); kept in the pool"),
        (2, "10.20.1.23", "draining (Target.DeregistrationInProgress)", False,
         "it is being deregistered and gets no new flows (established ones drain); left out of "
         "the pool"),
        (3, "10.20.3.24", "unused (Target.NotInUse)", False,
         "it is not in service (not registered, its zone not enabled, or the instance stopped), "
         "so the NLB sends it no flows; left out of the pool"),
        (4, "10.20.2.25", "unavailable (Elb.InternalError)", True,
         "its health is unknown (the NLB reports an internal error); kept in the pool"),
        (5, "10.20.1.26", "initial (Elb.RegistrationInProgress)", True,
         "the NLB sends it new flows once it passes its first health checks; kept in the pool"),
        (6, "10.20.2.27", "unhealthy.draining (Target.FailedHealthChecks)", True,
         "its established flows drain and the NLB sends new flows to healthy targets only (to "
         "every target when none is healthy: fail open); kept in the pool"),
    ],
)  # fmt: skip
def test_aws_target_states_are_located_warnings_and_decide_membership(
    index: int, target: str, state: str, kept: bool, words: str
) -> None:
    (problem,) = _about(validate(AWS_STATES), f"target {target} of 'tg-orders-ip'")
    assert problem.severity is Severity.WARNING
    assert Path(problem.file).parent.name == "aws-target-states"
    assert Path(problem.file).name == IP_HEALTH
    assert problem.pointer == f"/TargetHealthDescriptions/{index}/TargetHealth/State"
    assert problem.line is not None
    assert problem.message == f"target {target} of 'tg-orders-ip' is {state}: " + words
    pool = load(AWS_STATES).load_balancers[0].pool("tg-orders-ip")
    assert pool is not None and (target in pool.addresses) is kept


def test_aws_pool_holds_healthy_and_possibly_serving_targets_only() -> None:
    cfg = load(AWS_STATES)  # warnings do not stop loading
    pool = cfg.load_balancers[0].pool("tg-orders-ip")
    assert pool is not None
    assert pool.addresses == ("10.20.1.21", "10.20.2.22", "10.20.2.25", "10.20.1.26", "10.20.2.27")
    assert not cfg.is_member("10.20.1.23") and not cfg.is_member("10.20.3.24")
    assert not [p for p in validate(AWS_STATES) if p.severity is Severity.ERROR]


def test_aws_healthy_targets_give_no_warning() -> None:
    assert not _about(validate(_set("aws")), "of 'tg-orders-web'")


def test_lb_validate_prints_the_target_state_warnings_and_exits_0() -> None:
    code, out = _cli("lb", "validate", *AWS_STATES)
    assert code == 0
    lines = [line for line in out.splitlines() if "10.20.3.24" in line]
    assert len(lines) == 1
    assert f"aws-target-states/{IP_HEALTH}:" in lines[0]
    assert "/TargetHealthDescriptions/3/TargetHealth/State: warning: target 10.20.3.24" in lines[0]
    code, out = _cli("lb", "show", *AWS_STATES)
    assert code == 0
    assert "rule tcp-9000@us-east-1a: 10.20.1.50:9000/tcp -> tg-orders-ip:9000 (5 member(s))" in out


# ---- AWS: targets registered on different ports ----------------------------------------------

AWS_PORTS = _set("aws", "aws-target-ports")


def test_aws_targets_on_different_ports_are_an_error_and_model_no_rule() -> None:
    (problem,) = _about(validate(AWS_PORTS), "registered on different ports")
    assert problem.severity is Severity.ERROR
    assert Path(problem.file).name == "describe-target-groups.json"
    assert problem.pointer == "/TargetGroups/1"
    assert problem.message == (
        "targets of target group 'tg-orders-ip' are registered on different ports "
        "(9000: 10.20.1.21; 9001: 10.20.2.22, 10.20.2.23); the NLB sends each target's flows to "
        "its own port but a rule has one backend port, so the listeners forwarding to it are "
        "not modelled"
    )
    with pytest.raises(ConfigError, match="registered on different ports"):
        load(AWS_PORTS)
    code, out = _cli("lb", "validate", *AWS_PORTS)
    assert code == 1 and "describe-target-groups.json:" in out
    assert "/TargetGroups/1: error: targets of target group 'tg-orders-ip'" in out
    code, out = _cli("lb", "show", *AWS_PORTS)
    assert code == 2 and out.count("\n") == 1 and "registered on different ports" in out


def test_aws_a_large_target_group_on_different_ports_names_a_few_targets(tmp_path: Path) -> None:
    data = json.loads((FIX / "aws-target-ports" / IP_HEALTH).read_text())
    entries = data["TargetHealthDescriptions"]
    for i in range(5):
        entry = json.loads(json.dumps(entries[-1]))
        entry["Target"]["Id"] = f"10.20.2.{30 + i}"
        entries.append(entry)
    path = tmp_path / IP_HEALTH
    path.write_text(json.dumps(data))
    files = [str(path) if Path(f).name == IP_HEALTH else f for f in _set("aws")]
    (problem,) = _about(validate(files), "registered on different ports")
    assert "(9000: 10.20.1.21; 9001: 10.20.2.22, 10.20.2.23, 10.20.2.30 and 4 more)" in (
        problem.message
    )


def test_aws_a_draining_target_on_another_port_has_no_say(tmp_path: Path) -> None:
    data = json.loads((FIX / "aws-target-states" / IP_HEALTH).read_text())
    entries = data["TargetHealthDescriptions"]
    entries[2]["Target"]["Port"] = 9001  # draining
    entries[3]["Target"]["Port"] = 9002  # unused
    path = tmp_path / IP_HEALTH
    path.write_text(json.dumps(data))
    files = [str(path) if Path(f).name == IP_HEALTH else f for f in _set("aws")]
    assert not _about(validate(files), "different ports")
    (lb,) = load(files).load_balancers
    assert {r.backend_port for r in lb.rules if r.pool == "tg-orders-ip"} == {9000}
    entries[1]["Target"]["Port"] = 9001  # unhealthy, but fail open may send it flows
    path.write_text(json.dumps(data))
    (problem,) = _about(validate(files), "different ports")
    assert "(9000: 10.20.1.21, 10.20.2.25, 10.20.1.26 and 1 more; 9001: 10.20.2.22)" in (
        problem.message
    )


def test_aws_targets_on_one_port_other_than_the_groups_give_that_port(tmp_path: Path) -> None:
    data = json.loads((FIX / "aws" / IP_HEALTH).read_text())
    for entry in data["TargetHealthDescriptions"]:
        entry["Target"]["Port"] = 9100  # registered with a port override, all the same
    path = tmp_path / IP_HEALTH
    path.write_text(json.dumps(data))
    files = [str(path) if Path(f).name == IP_HEALTH else f for f in _set("aws")]
    assert not _about(validate(files), "different ports")
    (lb,) = load(files).load_balancers
    assert {r.backend_port for r in lb.rules if r.pool == "tg-orders-ip"} == {9100}


# ---- Google Cloud: portRange -----------------------------------------------------------------

GCLOUD_EXT = _set("gcloud", "gcloud-external")


def _with_range(tmp_path: Path, text: str) -> list[str]:
    rule = json.loads((FIX / "gcloud-external" / "forwarding-rule.json").read_text())
    rule["portRange"] = text
    path = tmp_path / "forwarding-rule.json"
    path.write_text(json.dumps(rule, indent=2))
    return [str(path) if Path(f).name == path.name else f for f in GCLOUD_EXT]


def test_gcloud_a_single_port_range_is_that_port(tmp_path: Path) -> None:
    files = _with_range(tmp_path, "80-80")  # what gcloud prints for --ports=80
    assert not [p for p in validate(files) if "port" in p.message.casefold()]
    (lb,) = load(files).load_balancers
    assert (lb.name, [f.address for f in lb.frontends]) == ("be-orders-ext", ["34.123.45.67"])
    assert [(r.name, r.frontend_port, r.backend_port) for r in lb.rules] == [
        ("fr-orders-ext-80", 80, 0)
    ]
    code, out = _cli("lb", "show", *files)
    assert code == 0 and "rule fr-orders-ext-80: 34.123.45.67:80/tcp -> be-orders-ext" in out


def test_gcloud_a_port_range_is_a_located_error_and_no_rule() -> None:
    (problem,) = _about(validate(GCLOUD_EXT), "port range")
    assert problem.severity is Severity.ERROR
    assert (Path(problem.file).parent.name, Path(problem.file).name) == (
        "gcloud-external",
        "forwarding-rule.json",
    )
    assert (problem.pointer, problem.line) == ("/portRange", 15)
    assert problem.message == (
        "forwarding rule 'fr-orders-ext': port range 8000-8010 is not modelled; rules for each "
        "port would be needed"
    )
    code, out = _cli("lb", "validate", *GCLOUD_EXT)
    assert code == 1 and "forwarding-rule.json:15: /portRange: error: forwarding rule" in out


@pytest.mark.parametrize("text", ["8010-8000", "eighty", "80-", "0-0", "80-70000"])
def test_gcloud_a_malformed_port_range_is_an_error(tmp_path: Path, text: str) -> None:
    files = _with_range(tmp_path, text)
    (problem,) = _about(validate(files), "portRange")
    assert problem.severity is Severity.ERROR and problem.pointer == "/portRange"
    assert problem.message == (
        f"forwarding rule 'fr-orders-ext': portRange {text!r} is not a port or a range "
        "START-END of ports 1-65535"
    )


# ---- Kubernetes: internalTrafficPolicy Local, targetPort names on different ports --------------


def test_kubectl_internal_traffic_policy_local_is_a_warning_and_keeps_the_pool() -> None:
    files = _set("kubectl", "kubectl-local")
    (problem,) = _about(validate(files), "internalTrafficPolicy")
    assert problem.severity is Severity.WARNING
    assert Path(problem.file).parent.name == "kubectl-local"
    assert problem.pointer == "/items/0/spec/internalTrafficPolicy" and problem.line is not None
    assert problem.message == (
        "Service shop/orders has internalTrafficPolicy Local: kube-proxy sends a pod's calls "
        "only to endpoints on the pod's own node, and drops them when the node has none; "
        "modelled as the whole pool (every endpoint counts, not only the caller node's)"
    )
    orders = load(files).load_balancers[0]
    assert [(m.address, m.node) for m in orders.pools[0].members] == [
        ("10.244.1.7", "worker-1"),
        ("10.244.2.9", "worker-2"),
    ]
    assert not _about(validate(_set("kubectl")), "internalTrafficPolicy")  # Cluster: silent


def test_kubectl_a_target_port_name_on_different_ports_is_an_error_and_drops_that_port() -> None:
    files = _set("kubectl", "kubectl-ports")
    (problem,) = _about(validate(files), "different ports")
    assert problem.severity is Severity.ERROR
    assert problem.pointer == "/items/0/spec/ports/0/targetPort"
    assert problem.message == (
        "targetPort 'web' resolves to different ports on different pods (8080, 8081); a rule "
        "has one backend port, so Service port 80/TCP is not modelled"
    )
    code, out = _cli("lb", "validate", *files)
    assert code == 1
    assert "kubectl-ports/svc-endpointslices.json:" in out and "/ports/0/targetPort: error:" in out


# ---- Kubernetes: kubelet hairpinMode of several nodes ----------------------------------------

CONFIGZ = FIX / "kubectl-configz"
KUBECTL = _set("kubectl")


def _configz(*nodes: int) -> list[str]:
    return [str(CONFIGZ / f"configz-worker-{n}.json") for n in nodes]


def test_kubelet_configz_of_agreeing_nodes_gives_their_mode() -> None:
    files = [*KUBECTL, *_configz(1)]
    assert {lb.hairpin_mode for lb in load(files).load_balancers} == {"hairpin-veth"}
    assert not _about(validate(files), "hairpin")
    default = [*KUBECTL, *_configz(3)]  # hairpinMode not set: kubelet's promiscuous-bridge
    assert {lb.hairpin_mode for lb in load(default).load_balancers} == {"promiscuous-bridge"}


@pytest.mark.parametrize(
    ("nodes", "modes"),
    [((1, 2), "hairpin-veth, none"), ((2, 3), "none, promiscuous-bridge")],
)
def test_kubelet_configz_of_nodes_that_differ_leave_the_mode_unknown(
    nodes: tuple[int, int], modes: str
) -> None:
    files = [*KUBECTL, *_configz(*nodes)]
    warnings = _about(validate(files), "nodes differ in hairpin mode")
    assert [Path(p.file).name for p in warnings] == [f"configz-worker-{n}.json" for n in nodes]
    for problem in warnings:
        assert problem.severity is Severity.WARNING
        assert problem.pointer == "/kubeletconfig/hairpinMode"
        assert problem.message.startswith(f"nodes differ in hairpin mode ({modes}); this one uses ")
        assert problem.message.endswith(": not modelled per node")
    assert {lb.hairpin_mode for lb in load(files).load_balancers} == {None}
    code, out = _cli("lb", "validate", *files)
    assert code == 0 and out.count("nodes differ in hairpin mode") == 2


def _problems_json(files: list[str]) -> list[dict[str, Any]]:
    code, out = _cli("lb", "validate", "--json", *files)
    assert code == 0
    data: list[dict[str, Any]] = json.loads(out)
    return data


def test_lb_validate_json_carries_each_warnings_file_and_pointer() -> None:
    problems = _problems_json([*KUBECTL, *_configz(1, 2)])
    hairpin = [p for p in problems if "hairpin" in p["message"]]
    assert [(Path(p["file"]).name, p["pointer"], p["severity"]) for p in hairpin] == [
        ("configz-worker-1.json", "/kubeletconfig/hairpinMode", "warning"),
        ("configz-worker-2.json", "/kubeletconfig/hairpinMode", "warning"),
    ]


def test_analyze_says_what_the_config_warned_about_on_stderr() -> None:
    """A command that uses the config (not only `lb validate`) prints its loading warnings, one
    located line each on stderr, and still runs; stdout carries only the report."""
    sample = Path(__file__).resolve().parent.parent / "sample_captures"
    pcap = sorted((sample / "aws-nlb-preserve-client-ip").glob("*.pcap"))[0]
    args = ["analyze", str(pcap), *(x for f in AWS_STATES for x in ("--lb", f)), "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 3), result.output
    warned = [line for line in result.stderr.splitlines() if "warning: target 10.20.3.24" in line]
    assert len(warned) == 1 and warned[0].startswith("pcapflow: ")
    assert f"aws-target-states/{IP_HEALTH}:" in warned[0]
    assert "10.20.3.24" not in result.stdout and json.loads(result.stdout)["schema_version"]


def test_report_says_what_the_config_warned_about_on_stderr(tmp_path: Path) -> None:
    """The batch report takes the same config options and says the same warnings."""
    sample = Path(__file__).resolve().parent.parent / "sample_captures"
    pcap = sorted((sample / "aws-nlb-preserve-client-ip").glob("*.pcap"))[0]
    config = [x for f in AWS_STATES for x in ("--lb", f)]
    result = CliRunner().invoke(main, ["report", str(pcap), *config, "-o", str(tmp_path / "out")])
    assert result.exit_code in (0, 3), result.output
    warned = [line for line in result.stderr.splitlines() if "warning: target 10.20.3.24" in line]
    assert len(warned) == 1 and warned[0].startswith("pcapflow: ")
