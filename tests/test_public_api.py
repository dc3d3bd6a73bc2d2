"""The package imports and its CLI answers --help."""

from click.testing import CliRunner

from pcapflow.cli import main


def test_cli_help_lists_the_main_job() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "pcapflow" in result.output
