"""The first-run compile notice: one stderr line with a count, stdout clean, absent when warm."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcapflow._jitnotice import CompileNotice, notice_text

REPO = Path(__file__).resolve().parents[1]
HAIRPIN = REPO / "sample_captures" / "hairpin-two-backends"
TITLE = "pcapflow: compiling packet kernels for first use"


def test_notice_text_names_the_cache_and_counts() -> None:
    text = notice_text("/home/ana/.cache/pcapflow/numba", 2, 5)
    assert text == f"{TITLE} (once per user, cached in /home/ana/.cache/pcapflow/numba)... 2/5"


def test_notice_text_without_a_cache_says_how_to_get_one() -> None:
    assert "set NUMBA_CACHE_DIR" in notice_text(None, 0, 3)


def compile_burst(notice: CompileNotice, nested: int) -> None:
    """One kernel compile from Python, with ``nested`` helper compiles inside it."""
    notice.compile_started()
    for _ in range(nested):
        notice.compile_started()
        notice.compile_ended()
    notice.compile_ended()


def test_a_log_gets_one_line_with_the_count_appended() -> None:
    stream = io.StringIO()
    notice = CompileNotice(stream)
    compile_burst(notice, 3)
    compile_burst(notice, 0)
    notice.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith(" s)\n")
    assert text.startswith(TITLE)
    counts = [part for part in text.split() if "/" in part and part[0].isdigit()]
    assert [c.split("/")[0] for c in counts] == ["0", "1", "2"]


def test_nothing_is_written_when_nothing_compiles() -> None:
    stream = io.StringIO()
    CompileNotice(stream).close()
    assert stream.getvalue() == ""


def test_a_silenced_notice_writes_nothing() -> None:
    stream = io.StringIO()
    notice = CompileNotice(stream)
    notice.enabled = False
    compile_burst(notice, 2)
    notice.close()
    assert stream.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_count_is_rewritten_in_place() -> None:
    stream = Terminal()
    notice = CompileNotice(stream)
    compile_burst(notice, 1)
    compile_burst(notice, 0)
    notice.close()
    lines = stream.getvalue().split("\r")
    assert lines[0].startswith(TITLE) and lines[-1].endswith(" s)\n")
    assert lines[-1].startswith(TITLE) and " 2/" in lines[-1]


def test_an_early_notice_is_taken_back_when_nothing_compiles() -> None:
    stream = Terminal()
    notice = CompileNotice(stream)
    notice.announce()
    assert stream.getvalue().startswith(TITLE)
    notice.close()
    shown, blank = stream.getvalue().split("\r", 1)
    assert blank.strip() == "" and blank.endswith("\r") and len(blank) == len(shown) + 1


def test_an_early_notice_gets_its_count_when_compiling_starts() -> None:
    stream = Terminal()
    notice = CompileNotice(stream)
    notice.announce()
    compile_burst(notice, 0)
    notice.close()
    assert stream.getvalue().rstrip().endswith("s)") and " 1/" in stream.getvalue()


def test_only_kernel_commands_announce_early() -> None:
    from pcapflow.cli import runs_kernels

    assert runs_kernels(["analyze", "a.pcap"]) and runs_kernels(["flows", "a.pcap"])
    assert not runs_kernels(["analyze", "--help"]) and not runs_kernels(["analyze", "-q", "x"])
    assert not runs_kernels(["lb", "show", "lb.yaml"]) and not runs_kernels([])


def test_quiet_on_any_command_silences_the_notice() -> None:
    from pcapflow.cli import quiet

    assert quiet(["analyze", "a.pcap", "-q"]) and quiet(["explain", "--quiet", "a.pcap"])
    assert not quiet(["analyze", "a.pcap"]) and not quiet(["-q"])


def analyze_json(cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", "from pcapflow.cli import main; main()", "analyze"]
    command += [str(HAIRPIN / "web01-eth0.pcap"), "--lb", str(HAIRPIN / "lb.yaml")]
    command += ["--format", "json", *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_first_run_notice_goes_to_stderr_only_and_not_when_warm(tmp_path: Path) -> None:
    if not (HAIRPIN / "web01-eth0.pcap").exists():
        pytest.skip("sample_captures/hairpin-two-backends is missing")
    cache = tmp_path / "numba-cache"
    cold = analyze_json(cache)
    assert cold.returncode == 3, cold.stderr
    assert json.loads(cold.stdout)["summary"]["verdict"] == "hairpin failure"
    lines = cold.stderr.splitlines()
    assert len(lines) == 1, cold.stderr
    assert lines[0].startswith(f"{TITLE} (once per user, cached in {cache})... 0/")
    assert " done (" in lines[0]
    warm = analyze_json(cache)
    assert warm.returncode == 3 and warm.stderr == ""
    assert json.loads(warm.stdout) == json.loads(cold.stdout)


@pytest.mark.slow
def test_cold_warmup_ends_the_notice_line_before_its_result(tmp_path: Path) -> None:
    """On a terminal both streams share a screen: the notice's line is ended ("done") before
    "kernels ready" is printed, not after it."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    env["PYTHONUNBUFFERED"] = "1"  # each write shows at once, as on a terminal
    command = [sys.executable, "-c", "from pcapflow.cli import main; main()", "warmup"]
    # one pipe for both streams, as a terminal shows them
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout
    notice, ready = done.stdout.splitlines()
    assert notice.startswith(TITLE) and " done (" in notice
    assert ready.startswith("kernels ready (")


def test_warmup_takes_quiet_and_then_prints_nothing() -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main

    loud = CliRunner().invoke(main, ["warmup"])
    assert loud.exit_code == 0, loud.output
    assert loud.stdout.startswith("kernels ready")
    for option in ("-q", "--quiet"):
        result = CliRunner().invoke(main, ["warmup", option])
        assert result.exit_code == 0, result.output
        assert result.stdout == "" and result.stderr == ""


@pytest.mark.parametrize("command", ["flows", "report", "slice", "analyze", "explain", "warmup"])
def test_every_kernel_command_takes_quiet(command: str) -> None:
    """The docs' promise: ``-q``/``--quiet`` on any kernel command drops the notice."""
    from click.testing import CliRunner

    from pcapflow.cli import main

    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "-q, --quiet" in result.stdout


def test_flows_output_is_the_same_with_quiet() -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main

    capture = str(HAIRPIN / "web01-eth0.pcap")
    plain = CliRunner().invoke(main, ["flows", capture, "--format", "csv"])
    quiet = CliRunner().invoke(main, ["flows", "-q", capture, "--format", "csv"])
    assert plain.exit_code == quiet.exit_code == 0, quiet.output
    assert quiet.stdout == plain.stdout and plain.stdout.count("\n") > 1
