"""The public API is what __all__ says, and the main job runs from Python as from the CLI."""

from pathlib import Path

import click
from click.testing import CliRunner

import pcapflow
from pcapflow.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def test_every_name_in_all_is_importable() -> None:
    for name in pcapflow.__all__:
        assert hasattr(pcapflow, name), name


def test_cli_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("analyze", "flows", "lb", "lab", "report", "serve", "probe", "watch"):
        assert command in result.output, command


def test_readme_main_job_finds_the_hairpin_from_python() -> None:
    sample = SAMPLES / "hairpin-two-backends"
    cfg = pcapflow.load_lb_config([str(sample / "lb.yaml")])
    result = pcapflow.analyze([sample / "web01-eth0.pcap"], cfg)
    labels = {f.label for f in result.findings}
    assert pcapflow.Label.HAIRPIN_SELF in labels
    assert result.verdict == "hairpin failure"
    assert '"schema_version"' in pcapflow.render(result, "json")


def test_read_flows_gives_zeek_columns() -> None:
    frame = pcapflow.read_flows(str(SAMPLES / "hairpin-two-backends" / "web01-eth0.pcap"))
    for column in ("uid", "id.orig_h", "id.resp_p", "conn_state", "history", "orig_pkts"):
        assert column in frame.columns
    assert (frame["conn_state"] == "S0").any()


def test_all_and_the_lazy_export_table_agree() -> None:
    assert set(pcapflow.__all__) - {"__version__"} == set(pcapflow._EXPORTS)


def test_cli_command_table_names_every_registered_command() -> None:
    from pcapflow.cli import COMMANDS

    ctx = click.Context(main)
    for name in COMMANDS:
        assert main.get_command(ctx, name) is not None, name
    assert set(main.commands) <= set(COMMANDS)
