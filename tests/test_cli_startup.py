"""What the command line does for its own start-up and exit (no timing here: see
benchmarks/bench_startup.py)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import pcapflow.cli
from pcapflow.cli import import_quietly, main

SAMPLE = Path(__file__).resolve().parents[1] / "sample_captures" / "hairpin-two-backends"


@pytest.mark.parametrize("enabled", [True, False])
def test_a_command_module_is_imported_with_the_collector_as_it_was_after(enabled: bool) -> None:
    sys.modules.pop("pcapflow.cli.lb", None)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    frozen = gc.get_freeze_count()
    try:
        import_quietly("pcapflow.cli.lb")
        assert gc.isenabled() is enabled
        assert "pcapflow.cli.lb" in sys.modules
        assert (gc.get_freeze_count() > frozen) is enabled  # what the import made is frozen
    finally:
        (gc.enable if was else gc.disable)()


def registered_at_exit(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> list[Callable[[], None]]:
    hooks: list[Callable[[], None]] = []
    monkeypatch.setattr(pcapflow.cli, "_last_collection_skipped", [])
    monkeypatch.setattr(pcapflow.cli.atexit, "register", hooks.append)
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 3), result.output
    return hooks


def test_a_kernel_command_skips_the_last_collection_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture = str(SAMPLE / "web01-eth0.pcap")
    hooks = registered_at_exit(monkeypatch, ["flows", "-q", capture, "--format", "csv"])
    assert gc.freeze in hooks


def test_other_commands_keep_the_last_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = registered_at_exit(monkeypatch, ["lb", "show", str(SAMPLE / "lb.yaml")])
    assert gc.freeze not in hooks
