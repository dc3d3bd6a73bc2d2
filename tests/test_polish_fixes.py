"""Fixes to QA bugs (notes/qa-bugs.md) made by the "polish" helper, one test group per bug."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_factory import VIP, B, flow, pkt, seed_config
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.lbconfig import load
from pcapflow.model.packet import SYN
from pcapflow.pipeline import analyze
from pcapflow.reconcile import CaptureView, join_connections
from pcapflow.reconcile.hosts import balancer_side

REPO = Path(__file__).resolve().parents[1]
MIXED = REPO / "sample_captures" / "mixed"
CORPUS = REPO.parent / "shared" / "corpus"
LONE_SYN = CORPUS / "malformed" / "zeek" / "ipv4" / "fragmented-4.pcap"


# --- #12: the balancer's side of a VM's port is not the VM's own capture ----------------------


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("lb-web01-eth0", True),
        ("LB web01 eth1", True),
        ("lb_client_eth0", True),
        ("web01-eth0", False),
        ("lb-eth0", False),  # a VM called "lb": its own capture
        ("lbweb01-eth0", False),
        (None, False),
    ],
)
def test_balancer_side_points_are_recognised_by_name(point: str | None, expected: bool) -> None:
    assert balancer_side(point) is expected


def _syn_seen_at(file_idx: int) -> CaptureView:
    syn = pkt(B, 41001, VIP, 80, SYN, t=0.0, seq=7, frame=43, file_idx=file_idx)
    names = {0: "lb-web01-eth0", 1: "web01-eth0"}
    return CaptureView(
        file_idx, f"{names[file_idx]}.pcap", names[file_idx], (flow([syn]),), frozenset({B})
    )


def test_the_vms_own_capture_stands_for_the_attempt_even_when_given_after_the_balancer_side() -> (
    None
):
    conns = join_connections([_syn_seen_at(0), _syn_seen_at(1)], seed_config())
    (conn,) = [c for c in conns if c.is_attempt]
    assert conn.representative.flow.file_idx == 1
    assert [leg.flow.file_idx for leg in conn.legs if leg.role == "copy"] == [0]


def test_a_balancer_side_capture_alone_still_stands_for_the_attempt() -> None:
    conns = join_connections([_syn_seen_at(0)], seed_config())
    (conn,) = [c for c in conns if c.is_attempt]
    assert conn.representative.flow.file_idx == 0


def test_in_a_shell_glob_the_vms_own_file_is_the_callers_and_the_lb_side_a_copy() -> None:
    if not (MIXED / "lb-web01-eth0.pcap").exists():
        pytest.skip(f"{MIXED}: sample captures absent")
    files = [str(MIXED / n) for n in ("lb-web01-eth0.pcap", "web01-eth0.pcap")]
    result = analyze(files, load([str(MIXED / "lb.yaml")]))
    roles = {(Path(e.file).name, e.role) for f in result.findings for e in f.evidence}
    assert ("web01-eth0.pcap", "caller SYN out") in roles
    assert ("lb-web01-eth0.pcap", "caller (other capture) SYN out") in roles
    assert ("lb-web01-eth0.pcap", "caller SYN out") not in roles


# --- #7: without a config, the note explains the failures the verdict counts ------------------


def test_a_lone_syn_without_a_config_is_a_failure_the_note_accounts_for() -> None:
    if not LONE_SYN.exists():
        pytest.skip(f"{LONE_SYN}: public corpus absent")
    result = analyze([str(LONE_SYN)])
    assert result.verdict == "failures found"
    assert [f.label.value for f in result.findings] == ["unknown"]
    (note,) = result.notes
    assert "without frontend attempts" not in note
    assert "labelled 'unknown'" in note and "--lb" in note
    run = CliRunner().invoke(main, ["analyze", str(LONE_SYN)])
    assert run.exit_code == 3
    assert "FAILURES FOUND" in run.output and "labelled 'unknown'" in " ".join(run.output.split())


# --- #17: standard input named twice ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["-", "-"], ["-", "--lb", "-"], ["x.pcap", "--lb", "-", "--lb", "-"]],
    ids=["two-captures", "capture-and-config", "two-configs"],
)
def test_stdin_named_twice_is_refused_in_one_line(args: list[str]) -> None:
    run = CliRunner().invoke(main, ["analyze", *args], input=b"\xd4\xc3\xb2\xa1" + bytes(20))
    assert run.exit_code == 2
    assert run.output.strip().splitlines() == [
        "pcapflow: error: standard input can feed only one input"
    ]


# --- #10: explain --frame errors name the capture file -----------------------------------------

WEB01 = REPO / "sample_captures" / "hairpin-two-backends" / "web01-eth0.pcap"


def _explain_frame(frame: str) -> list[str]:
    if not WEB01.exists():
        pytest.skip(f"{WEB01}: sample captures absent")
    run = CliRunner().invoke(main, ["explain", str(WEB01), "--frame", frame])
    assert run.exit_code == 2
    return run.output.strip().splitlines()


def test_explain_a_frame_past_the_end_names_the_file_and_its_frame_count() -> None:
    import dpkt

    if not WEB01.exists():
        pytest.skip(f"{WEB01}: sample captures absent")
    with open(WEB01, "rb") as fh:
        frames = sum(1 for _ in dpkt.pcap.Reader(fh))
    assert _explain_frame("99999999") == [
        f"pcapflow: error: {WEB01} has no frame 99999999 (it holds {frames})"
    ]


def test_explain_a_frame_of_no_flow_names_the_file() -> None:
    # frame 1 of web01-eth0 is the probe source's ARP request (sample_captures/README.md)
    assert _explain_frame("1") == [
        f"pcapflow: error: frame 1 of {WEB01} belongs to no TCP/UDP flow"
    ]


# --- #16: analyze checks the -o folder before analysing ----------------------------------------


@pytest.mark.parametrize("blocked", ["missing", "a-file"])
def test_analyze_refuses_an_output_folder_before_reading_any_capture(
    blocked: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pcapflow.cli.analyze as analyze_cli

    def no_analysis(*args: object, **kwargs: object) -> None:
        raise AssertionError("the analysis ran before the -o folder was checked")

    monkeypatch.setattr(analyze_cli, "run_analysis", no_analysis)
    folder = tmp_path / blocked
    if blocked == "a-file":
        folder.write_text("x")
    out = folder / "report.html"
    run = CliRunner().invoke(main, ["analyze", str(WEB01), "-o", str(out)])
    assert run.exit_code == 2
    (line,) = run.output.strip().splitlines()
    assert line.startswith(f"pcapflow: error: {out}: ") and str(folder) in line
