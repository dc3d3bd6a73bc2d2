"""The shared click options (lb_options, config_from_options) and --vip/--backend declarations."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pcapflow.cli.options import lb_options
from pcapflow.errors import ConfigError, PcapflowError
from pcapflow.lbconfig import from_declaration
from pcapflow.lbconfig.options import config_from_kwargs, config_from_options
from pcapflow.model.lb import LbConfig, Protocol

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "pcapflow" / "lbconfig" / "example.yaml")


def test_declaration_of_the_seed_topology() -> None:
    cfg = from_declaration(["10.2.1.100:80/tcp"], ["10.2.1.4:80", "10.2.1.6:80"])
    (lb,) = cfg.load_balancers
    assert lb.frontends[0].address == "10.2.1.100"
    assert lb.pools[0].addresses == ("10.2.1.4", "10.2.1.6")
    rule = lb.rules[0]
    assert (rule.protocol, rule.frontend_port, rule.backend_port) == (Protocol.TCP, 80, 80)
    assert not rule.floating_ip
    assert cfg.explain("10.2.1.100", 80, "10.2.1.6", 80, "tcp") is not None
    assert cfg.explain("10.2.1.100", 80, "10.2.1.100", 80, "tcp") is None


def test_declaration_floating_ip_port_translation_and_udp() -> None:
    cfg = from_declaration(["10.2.1.100:8080", "10.2.1.100:53/udp"], ["10.2.1.4:80"], True)
    (lb,) = cfg.load_balancers
    assert len(lb.frontends) == 1 and len(lb.rules) == 2
    tcp, udp = lb.rules
    assert (tcp.protocol, tcp.frontend_port, tcp.backend_port) == (Protocol.TCP, 8080, 80)
    assert udp.protocol is Protocol.UDP and tcp.floating_ip and udp.floating_ip
    assert cfg.explain("10.2.1.100", 8080, "10.2.1.100", 80, "tcp") is not None


def test_declaration_ha_ports_and_ipv6() -> None:
    ha = from_declaration(["10.2.1.100"], ["10.2.1.4", "10.2.1.6"]).load_balancers[0].rules[0]
    assert ha.ha_ports and ha.backend_port == 0
    v6 = from_declaration(["[FD00::100]:443/tcp"], ["[fd00::4]:8443"]).load_balancers[0]
    assert v6.frontends[0].address == "fd00::100"
    assert v6.rules[0].backend_port == 8443 and v6.pools[0].addresses == ("fd00::4",)


@pytest.mark.parametrize(
    ("vips", "backends", "needle"),
    [
        (["10.2.1.100:80/sctp"], ["10.2.1.4"], "protocol must be tcp, udp or all"),
        (["10.2.1.300:80"], ["10.2.1.4"], "not an IP address"),
        (["10.2.1.100:99999"], ["10.2.1.4"], "out of range"),
        (["10.2.1.100:80"], ["10.2.1.4:80", "10.2.1.6:81"], "same port"),
        (["10.2.1.100:80"], ["10.2.1.4:80", "10.2.1.6"], "every backend or on none"),
        (["10.2.1.100:80"], [], "at least one --backend"),
        (["10.2.1.100:80/all"], ["10.2.1.4"], "HA ports"),
        (["10.2.1.100:80", "10.2.1.100:80"], ["10.2.1.4"], "declared twice"),
        (["10.2.1.100:80"], ["10.2.1.4:80/tcp"], "belongs on --vip"),
        (["web:80"], ["10.2.1.4"], "not an IP address"),
    ],
)
def test_bad_declarations(vips: list[str], backends: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        from_declaration(vips, backends)


@click.command()
@lb_options
def _probe_command(**kwargs: object) -> None:
    cfg = config_from_kwargs(kwargs)  # type: ignore[arg-type]
    assert not kwargs
    if cfg is None:
        click.echo("none")
    else:
        click.echo(f"{len(cfg.load_balancers)} {','.join(lb.name for lb in cfg.load_balancers)}")


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(_probe_command, args)
    if isinstance(result.exception, PcapflowError):
        return 2, str(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_decorator_adds_every_option() -> None:
    result = CliRunner().invoke(_probe_command, ["--help"])
    for flag in ("--lb", "--lb-format", "--nic", "--vip", "--backend", "--floating-ip"):
        assert flag in result.output


def test_decorator_without_options_gives_none() -> None:
    assert _run([]) == (0, "none\n")


def test_decorator_combines_files_and_declaration() -> None:
    code, out = _run(
        ["--lb", EXAMPLE, "--vip", "10.9.0.100:80", "--backend", "10.9.0.4", "--floating-ip"]
    )
    assert (code, out) == (0, "2 ilb-web,cli\n")


def test_decorator_rejects_inconsistent_options() -> None:
    code, message = _run(["--backend", "10.2.1.4"])
    assert code == 2 and "--vip" in message
    code, message = _run(["--nic", EXAMPLE])
    assert code == 2 and "--lb" in message
    result = CliRunner().invoke(_probe_command, ["--lb-format", "xml"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_config_from_options_direct_call() -> None:
    assert config_from_options() is None
    cfg = config_from_options(lb=[EXAMPLE], lb_format="yaml")
    assert isinstance(cfg, LbConfig) and cfg.load_balancers[0].name == "ilb-web"
    with pytest.raises(ConfigError, match="cannot read"):
        config_from_options(lb=["/nonexistent/lb.yaml"])
