"""NIC-based pool members whose address the balancer lists too (issue 13, item 2).

`az network lb show` prints, for a NIC-based pool, each `loadBalancerBackendAddresses` entry
with its `networkInterfaceIPConfiguration` reference and its `ipAddress`.  The fixtures hold the
same balancer in the three casings met in practice: REST casing without nulls (current CLI),
camelCase with explicit nulls (older CLIs: `networkInterfaceIpConfiguration`, `"subnet": null`)
and snake_case (the Python SDK's `as_dict()`, Ansible).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.errors import ConfigError
from pcapflow.lbconfig import load, validate
from pcapflow.lbconfig.problems import Severity

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "lbconfig"
NICS = [str(FIX / "az-nic-show-web01.json"), str(FIX / "az-nic-list.json")]
SAMPLE = ROOT / "sample_captures" / "hairpin-two-backends"
CASINGS = {
    "rest": FIX / "az-lb-show-nic-addresses.json",
    "camel-nulls": FIX / "az-lb-show-nic-addresses-legacy.json",
    "snake": FIX / "az-lb-show-nic-addresses-snake.json",
}
casings = pytest.mark.parametrize("doc", list(CASINGS.values()), ids=list(CASINGS))


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def disagreeing(tmp_path: Path, doc: Path) -> Path:
    """The document with web02's listed address changed: the NIC file still says 10.2.1.6."""
    text = doc.read_text()
    assert text.count('"10.2.1.6"') == 1
    out = tmp_path / doc.name
    out.write_text(text.replace('"10.2.1.6"', '"10.2.1.7"'))
    return out


@casings
def test_listed_addresses_need_no_nic_file(doc: Path) -> None:
    (lb,) = load([str(doc)]).load_balancers
    web01, web02 = lb.pools[0].members  # listed twice (two fields), kept once
    assert (web01.address, web02.address) == ("10.2.1.4", "10.2.1.6")
    assert (web01.nic, web02.nic) == ("vm-we-02-web01-nic1", "vm-we-02-web02-nic1")
    assert web01.ip_config is not None and web01.ip_config.endswith("/ipConfigurations/ipconfig1")
    assert web01.mac is None and web01.vm is None  # only a NIC file knows them: not guessed
    assert lb.inbound_nat_rules[0].target == "10.2.1.4"  # the NAT rule's ipconfig is listed too
    assert [p for p in validate([str(doc)]) if p.severity is Severity.ERROR] == []


@casings
def test_nic_file_enriches_listed_members(doc: Path) -> None:
    (lb,) = load([str(doc)], nic_files=NICS).load_balancers
    web01, web02 = lb.pools[0].members
    assert (web01.address, web01.vm, web01.mac) == (
        "10.2.1.4",
        "vm-we-02-web01",
        "00:0d:3a:2b:4c:5d",
    )
    assert (web02.address, web02.vm) == ("10.2.1.6", "vm-we-02-web02")
    assert validate([str(doc)], nic_files=NICS) == []


def test_casings_read_alike() -> None:
    rest, camel, snake = (load([str(p)], nic_files=NICS) for p in CASINGS.values())
    assert rest.load_balancers == camel.load_balancers == snake.load_balancers


@casings
def test_address_disagreeing_with_the_nic_file_names_both(tmp_path: Path, doc: Path) -> None:
    path = disagreeing(tmp_path, doc)
    problems = validate([str(path)], nic_files=NICS)
    (problem,) = problems
    assert problem.severity is Severity.ERROR and problem.file == str(path)
    assert problem.pointer in (
        "/backendAddressPools/0/loadBalancerBackendAddresses/1/ipAddress",
        "/backend_address_pools/0/load_balancer_backend_addresses/1/ip_address",
    )
    assert problem.line is not None
    nic_text = (FIX / "az-nic-list.json").read_text().splitlines()
    nic_line = next(i for i, line in enumerate(nic_text, 1) if '"10.2.1.6"' in line)
    assert f"{NICS[1]}:{nic_line} /1/ipConfigurations/0/privateIPAddress" in problem.message
    assert "10.2.1.7" in problem.message and "gives 10.2.1.6" in problem.message
    with pytest.raises(ConfigError) as info:
        load([str(path)], nic_files=NICS)
    assert "\n" not in str(info.value) and "10.2.1.7" in str(info.value)


def test_without_a_nic_file_there_is_nothing_to_disagree_with(tmp_path: Path) -> None:
    path = disagreeing(tmp_path, CASINGS["rest"])
    assert load([str(path)]).load_balancers[0].pools[0].addresses == ("10.2.1.4", "10.2.1.7")


def test_unlisted_nic_members_are_still_reported() -> None:
    """Without `ipAddress` (what AKS balancers print) the NIC file is still needed."""
    with pytest.raises(ConfigError, match="unresolvable NIC reference"):
        load([str(FIX / "az-lb-show.json")])


@casings
def test_lb_show_and_validate_commands(doc: Path) -> None:
    code, out, err = cli("lb", "show", str(doc), "--format", "json")
    assert code == 0, err
    members = json.loads(out)["load_balancers"][0]["pools"][0]["members"]
    assert [m["address"] for m in members] == ["10.2.1.4", "10.2.1.6"]
    code, out, _ = cli("lb", "validate", str(doc))
    assert code == 0 and out.startswith("ok: ")
    code, out, _ = cli("lb", "validate", str(doc), *[a for n in NICS for a in ("--nic", n)])
    assert code == 0 and out.startswith("ok: ")


@casings
def test_validate_command_reports_disagreement(tmp_path: Path, doc: Path) -> None:
    path = disagreeing(tmp_path, doc)
    code, out, _ = cli("lb", "validate", str(path), "--nic", NICS[1], "--json")
    assert code == 1
    (problem,) = json.loads(out)
    assert problem["severity"] == "error" and problem["line"] is not None
    assert NICS[1] in problem["message"] and problem["file"] == str(path)
    code, _, err = cli("lb", "show", str(path), "--nic", NICS[1])
    assert code == 2 and err.startswith("pcapflow: error: ") and err.count("\n") == 1


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample captures not generated")
@casings
def test_analyze_with_listed_addresses(tmp_path: Path, doc: Path) -> None:
    captures = [str(SAMPLE / "web01-eth0.pcap"), str(SAMPLE / "web02-eth0.pcap")]
    out = tmp_path / "a.json"
    code, _, err = cli("analyze", *captures, "--lb", str(doc), "--format", "json", "-o", str(out))
    assert code == 3, err  # the hairpins are found: the members were resolved
    labels = {flow["label"] for flow in json.loads(out.read_text())["flows"]}
    assert {"hairpin_self", "hairpin_other_backend"} <= labels
    bad = disagreeing(tmp_path, doc)
    code, _, err = cli("analyze", *captures, "--lb", str(bad), "--nic", NICS[1])
    assert code == 2 and err.count("\n") == 1 and "gives 10.2.1.6" in err
