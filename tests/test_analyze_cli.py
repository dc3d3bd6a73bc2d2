"""``pcapflow analyze``: exit status 0 (no failure), 3 (failures), 2 (bad input); formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapflow.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "sample_captures" / "hairpin-two-backends"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample captures not generated")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["analyze", *args])
    return result.exit_code, result.output


@needs_sample
def test_hairpin_capture_exits_3_and_names_the_hairpin() -> None:
    code, out = run(str(SAMPLE / "web01-eth0.pcap"), "--lb", str(SAMPLE / "lb.yaml"))
    assert code == 3
    assert "hairpin_self" in out and "az network lb rule update" in out


@needs_sample
def test_healthy_capture_exits_0() -> None:
    code, _out = run(str(SAMPLE / "client-eth0.pcap"), "--lb", str(SAMPLE / "lb.yaml"))
    assert code == 0


@needs_sample
def test_checksum_options_leave_a_veth_capture_as_it_is() -> None:
    """Every checksum of the samples (veths) is offload's unfinished one: the default counts
    them, -C ignores them, --validate-checksums keeps their packets out."""
    capture, cfg = str(SAMPLE / "web01-eth0.pcap"), str(SAMPLE / "lb.yaml")
    default = run(capture, "--lb", cfg, "--format", "json")
    code, ignored = run(capture, "--lb", cfg, "--format", "json", "-C")
    as_ignored = json.loads(ignored)
    note = as_ignored["notes"].pop(0)  # the one difference: the report names the policy
    assert note.startswith("checksum policy 'ignore' (-C)")
    assert (code, as_ignored) == (default[0], json.loads(default[1]))
    assert not any("checksum policy" in n for n in json.loads(default[1])["notes"])
    strict = CliRunner().invoke(
        main, ["analyze", capture, "--lb", cfg, "--format", "json", "--validate-checksums"]
    )
    assert "hairpin_self" in default[1] and strict.stdout != default[1]
    assert "transport checksums are wrong" in strict.stdout  # among the capture's warnings
    assert json.loads(strict.stdout)["notes"][0].startswith("checksum policy 'verify'")
    assert strict.stderr.startswith("pcapflow: warning: ") and "-C" in strict.stderr
    assert strict.stderr.count("\n") == 1  # one line


@needs_sample
def test_json_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, _ = run(
        str(SAMPLE / "web01-eth0.pcap"),
        str(SAMPLE / "web02-eth0.pcap"),
        "--lb",
        str(SAMPLE / "lb.yaml"),
        "--format",
        "json",
        "-o",
        str(out),
        "--point",
        "web01 eth0",
        "--point",
        "web02 eth0",
        "--os",
        "linux",
    )
    assert code == 3
    doc = json.loads(out.read_text())
    assert doc["schema_version"] and doc["captures"][1]["capture_point"] == "web02 eth0"
    assert doc["captures"][1]["clock_offset_basis"] > 0
    labels = {f["label"] for f in doc["flows"] if f["role"] == "outbound"}
    assert labels == {"hairpin_self", "hairpin_other_backend"}


@needs_sample
def test_without_config_a_config_is_suggested() -> None:
    code, out = run(
        str(SAMPLE / "web01-eth0.pcap"), str(SAMPLE / "web02-eth0.pcap"), "--format", "json"
    )
    assert code == 3
    doc = json.loads(out)
    assert "10.2.1.100" in doc["suggested_config"] and "10.2.1.6" in doc["suggested_config"]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["/nonexistent/capture.pcap"],
        ["--os", "beos", "x.pcap"],
        ["--format", "pdf", "x.pcap"],
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    code, out = run(*args)
    assert code == 2
    assert "Traceback" not in out


@needs_sample
def test_point_count_must_match() -> None:
    code, out = run(str(SAMPLE / "web01-eth0.pcap"), "--point", "a", "--point", "b")
    assert code == 2 and "--point" in out


def test_bad_lb_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "lb.yaml"
    bad.write_text("version: 1\nload_balancers: [{name: x, frontends: 7}]\n")
    cap = tmp_path / "empty.pcap"
    cap.write_bytes(
        b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 8 + b"\xff\xff\x00\x00\x01\x00\x00\x00"
    )
    code, out = run(str(cap), "--lb", str(bad))
    assert code == 2 and "error" in out


def test_the_output_format_follows_the_file_extension() -> None:
    from pcapflow.cli.analyze import format_for_output

    assert format_for_output("report.html") == "html"
    assert format_for_output("REPORT.HTM") == "html"
    assert format_for_output("ticket.md") == "markdown"
    assert format_for_output("result.json") == "json"
    assert format_for_output("flows.csv") == "csv"
    assert format_for_output("conn.log") == "zeek"
    assert format_for_output("out.bin") == "text"
    assert format_for_output(None) == "text"


def test_a_window_that_is_not_a_number_is_bad_input() -> None:
    code, out = run(str(SAMPLE / "web01-eth0.pcap"), "--window-ms", "nan")
    assert code == 2
    assert "--window-ms: not a number" in out


def test_no_colour_codes_when_the_output_is_not_a_terminal() -> None:
    code, out = run(str(SAMPLE / "web01-eth0.pcap"), "--lb", str(SAMPLE / "lb.yaml"))
    assert code == 3
    assert "\x1b[" not in out
