"""`pcapflow lb show|validate`: output forms and exit codes (0 ok, 1 invalid, 2 unreadable)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.lbconfig import load_text, schema

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "lbconfig"
EXAMPLE = str(ROOT / "pcapflow" / "lbconfig" / "example.yaml")


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["lb", *args], input=stdin)
    out, err = result.stdout, result.stderr
    assert "Traceback" not in out + err
    return result.exit_code, out, err


def f(name: str) -> str:
    return str(FIX / name)


def test_show_text() -> None:
    code, out, _ = run("show", EXAMPLE)
    assert code == 0
    assert "frontend fe-web: 10.2.1.100 private  subnet 10.2.1.0/24" in out
    assert "rule http: 10.2.1.100:80/tcp -> be-web:80 (2 member(s))" in out


def test_show_json_is_the_documented_stable_form() -> None:
    code, out, _ = run("show", "--format", "json", f("tf-state.json"))
    assert code == 0
    data = json.loads(out)
    assert data["format"] == "pcapflow-lb" and data["version"] == 1
    import jsonschema

    jsonschema.Draft202012Validator(schema()).validate(data)
    member = data["load_balancers"][0]["pools"][0]["members"][0]
    assert set(member) == {"address", "vm", "nic", "ip_config", "mac", "os"}
    # the JSON form is itself a pcapflow config
    assert load_text(out).load_balancers[0].name == "ilb-we-02-web"


@pytest.mark.parametrize(
    "args",
    [
        [EXAMPLE],
        [
            f("az-lb-show.json"),
            "--nic",
            f("az-nic-show-web01.json"),
            "--nic",
            f("az-nic-list.json"),
        ],
        [f("arm-seed-template.json")],
        [f("tf-plan.json")],
        [f("az-rest-nested-haports.json"), f("tf-state.json")],
    ],
)
def test_show_yaml_round_trips_every_format(args: list[str]) -> None:
    code, out, _ = run("show", "--format", "yaml", *args)
    assert code == 0
    _, out_json, _ = run("show", "--format", "json", *args)
    assert load_text(out).load_balancers == load_text(out_json).load_balancers


def test_show_reads_stdin() -> None:
    code, out, _ = run("show", "-", stdin=Path(EXAMPLE).read_text())
    assert code == 0 and "ilb-web" in out


def test_lb_format_override() -> None:
    code, _, err = run("show", "--lb-format", "terraform", EXAMPLE)
    assert code == 2 and err.startswith("pcapflow: error:") and err.count("\n") == 1


def test_validate_ok_and_warnings() -> None:
    code, out, _ = run("validate", EXAMPLE, f("az-rest-nested-haports.json"))
    assert code == 0 and out.startswith("ok:")
    code, out, _ = run("validate", EXAMPLE, f("tf-state.json"))  # the same VIP twice
    assert code == 1 and "duplicate frontend: 10.2.1.100" in out
    code, out, _ = run("validate", f("tf-plan-dynamic.json"))
    assert code == 1 and "2 error(s), 1 warning(s)" in out


def test_validate_lists_every_problem_and_exits_1() -> None:
    code, out, _ = run(
        "validate",
        f("az-lb-show-invalid.json"),
        "--nic",
        f("az-nic-show-web01.json"),
        "--nic",
        f("az-nic-list.json"),
        "--nic",
        f("az-vnet-show.json"),
    )
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1] == "4 error(s), 1 warning(s)"
    assert any(
        "az-lb-show-invalid.json:172: /loadBalancingRules/0/probe: error: rule 'rule-http-80' "
        "names missing probe 'probe-https-443'" in line
        for line in lines
    )


def test_validate_json_output() -> None:
    code, out, _ = run("validate", "--json", f("az-lb-show.json"))
    assert code == 1
    problems = json.loads(out)
    assert {p["severity"] for p in problems} == {"error", "warning"}
    assert all(set(p) == {"file", "pointer", "line", "severity", "message"} for p in problems)


def test_validate_yaml_problems_carry_lines(tmp_path: Path) -> None:
    bad = tmp_path / "lb.yaml"
    text = Path(EXAMPLE).read_text().replace("probe: http-probe", "probe: tcp-probe")
    bad.write_text(text.replace("frontend_port: 80", "frontend_port: 70000"))
    code, out, _ = run("validate", str(bad))
    assert code == 1
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "probe: tcp-probe" in t)
    assert f"lb.yaml:{line}: /load_balancers/0/rules/0/probe: error:" in out
    assert "frontend port 70000 is out of range 0-65534" in out


@pytest.mark.parametrize(
    "name",
    [
        "az-lb-show-truncated.json",  # unparseable JSON
        "does-not-exist.yaml",  # missing file
        "az-nic-list.json",  # not a load-balancer document
    ],
)
def test_unreadable_input_is_one_line_exit_2(name: str) -> None:
    for command in ("show", "validate"):
        code, out, err = run(command, f(name))
        assert code == 2, (command, out, err)
        assert err.startswith("pcapflow: error: ") and err.count("\n") == 1


def test_bad_documents_of_each_format_exit_2(tmp_path: Path) -> None:
    docs = {
        "bad.yaml": "load_balancers:\n  - name: a\n    frontends: [{name: f, address: nope}]\n",
        "bad-syntax.yaml": "load_balancers: [\n",
        "bad-az.json": '{"frontendIPConfigurations": [{"name": "f"}], "name": "x"}',
        "bad-arm.json": '{"$schema": "x/deploymentTemplate.json#", "resources": 5}',
        "bad-tf.json": '{"format_version": "1.0", "values": []}',
        "binary.bin": "\x00\x01\x02",
        "deep.json": "[" * 100000 + "]" * 100000,
        "deep.yaml": "a:\n" + "".join(" " * (i + 1) + "- \n" for i in range(3000)),
    }
    for name, text in docs.items():
        path = tmp_path / name
        path.write_text(text)
        code, _, err = run("show", str(path))
        assert code == 2, name
        assert err.startswith("pcapflow: error: ") and err.count("\n") == 1, (name, err)


def test_missing_argument_is_a_usage_error() -> None:
    code, _, _ = run("show")
    assert code == 2


def test_utf16_from_powershell_and_binary_files(tmp_path: Path) -> None:
    text = (FIX / "az-rest-nested-haports.json").read_text()
    (tmp_path / "u16.json").write_bytes(text.encode("utf-16"))
    code, out, _ = run("show", str(tmp_path / "u16.json"))
    assert code == 0 and "ilb-nva" in out
    (tmp_path / "blob.bin").write_bytes(bytes(range(200, 256)) * 3)
    code, _, err = run("show", str(tmp_path / "blob.bin"))
    assert code == 2 and "not a text file" in err


def test_schema_command_prints_the_published_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out) == schema()


# ---- the command-line declaration (--vip/--backend/--floating-ip), as analyze takes it ---------

DECLARED = ("--vip", "10.2.1.100:80/tcp", "--backend", "10.2.1.4:80", "--backend", "10.2.1.6:80")


def test_show_a_declaration_alone() -> None:
    code, out, err = run("show", *DECLARED, "--floating-ip")
    assert code == 0, err
    assert "rule fe-1-tcp-80: 10.2.1.100:80/tcp -> be-cli:80 (2 member(s))" in out
    assert "floating IP on" in out
    code, out, _ = run("show", "--format", "json", *DECLARED)
    (lb,) = json.loads(out)["load_balancers"]
    assert lb["name"] == "cli" and [m["address"] for m in lb["pools"][0]["members"]] == [
        "10.2.1.4",
        "10.2.1.6",
    ]


def test_show_files_and_declaration_together() -> None:
    code, out, _ = run(
        "show", f("az-rest-nested-haports.json"), "--vip", "10.9.0.100:443", "--backend", "10.9.0.4"
    )
    assert code == 0
    assert "10.0.3.10" in out and "10.9.0.100:443/tcp -> be-cli:443" in out


def test_validate_a_declaration() -> None:
    code, out, _ = run("validate", *DECLARED)
    assert (
        code == 0
        and out == "ok: --vip 10.2.1.100:80/tcp --backend 10.2.1.4:80 --backend 10.2.1.6:80\n"
    )
    # an IPv6 VIP with an IPv4 member: a semantic problem, located on the command line
    code, out, _ = run("validate", "--vip", "[fd00::100]:80", "--backend", "10.2.1.4:80", "--json")
    assert code == 1
    (problem,) = json.loads(out)
    assert problem["file"] == "<command line>" and "is IPv4" in problem["message"]
    # the declaration and a file claim the same VIP
    code, out, _ = run("validate", EXAMPLE, *DECLARED)
    assert code == 1 and "duplicate frontend: 10.2.1.100" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--vip", "10.2.1.100:80/sctp", "--backend", "10.2.1.4"], "protocol must be"),
        (["--backend", "10.2.1.4"], "add --vip"),
        (["--vip", "10.2.1.100:80"], "at least one --backend"),
        (["--nic", f("az-nic-list.json")], "CONFIG file"),
    ],
)
@pytest.mark.parametrize("command", ["show", "validate"])
def test_bad_declarations_are_one_line_exit_2(command: str, args: list[str], needle: str) -> None:
    code, _, err = run(command, *args)
    assert code == 2 and err.startswith("pcapflow: error: ") and err.count("\n") == 1
    assert needle in err


@pytest.mark.parametrize("command", ["show", "validate"])
def test_nothing_to_show_is_a_usage_error(command: str) -> None:
    code, _, err = run(command)
    assert code == 2 and "--vip" in err


def test_every_command_taking_a_config_takes_the_same_declaration() -> None:
    ctx = click.Context(main)
    group = main.get_command(ctx, "lb")
    assert isinstance(group, click.Group)
    commands = [main.get_command(ctx, name) for name in (
        "analyze", "report", "slice", "probe", "watch", "explain"
    )] + [group.get_command(ctx, "show"), group.get_command(ctx, "validate")]  # fmt: skip
    declared = []
    for command in commands:
        assert command is not None
        params = {p.name: p for p in command.params}
        assert {"vip", "backend", "floating_ip", "nic", "lb_format"} <= set(params), command.name
        declared.append(
            [
                (params[n].opts, getattr(params[n], "help", None))
                for n in ("vip", "backend", "floating_ip")
            ]
        )
    assert all(d == declared[0] for d in declared)
