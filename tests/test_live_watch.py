"""`pcapflow watch` on a growing file, and the counting rules of its sliding window."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.live.pcapstream import Record, StreamInterface, StreamParser
from pcapflow.live.present import LiveDisplay
from pcapflow.live.watch import WatchLimits, WatchSession, WatchState, attempt_key, renumber
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, Label
from pcapflow.report.example import hairpin_example

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
SCENARIO = SAMPLES / "hairpin-two-backends"


# ---- counting -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return hairpin_example()


def _end(result: AnalysisResult) -> float:
    return max(f.flow.last_ts for f in result.flows)


def test_each_attempt_is_counted_once_across_refreshes(result: AnalysisResult) -> None:
    state = WatchState()
    first = state.absorb(result, _end(result), final=True)
    again = state.absorb(result, _end(result), final=True)
    outbound = [f for f in result.flows if f.role == "outbound"]
    assert len(first) == len(outbound) and again == []
    (tally,) = state.tallies.values()
    labels = Counter(f.label.value for f in outbound if f.label)
    assert (tally.attempts, tally.failed) == (len(outbound), labels["hairpin_self"])
    assert tally.labels == labels
    assert tally.expected_rate == pytest.approx(0.5)
    assert state.newest is not None and state.newest.label is Label.HAIRPIN_SELF


def test_young_attempts_wait_until_they_settle(result: AnalysisResult) -> None:
    state = WatchState(WatchLimits(settle_s=3.0))
    first_ts = min(f.flow.ts for f in result.flows)
    assert state.absorb(result, first_ts + 1.0) == []
    settled = state.absorb(result, first_ts + 10.0)
    assert settled and all(f.flow.ts <= first_ts + 7.0 for f in settled)


def test_a_tcp_flow_without_its_syn_is_not_an_attempt(result: AnalysisResult) -> None:
    fr = next(f for f in result.flows if f.role == "outbound")
    assert attempt_key(fr) is not None
    headless = dataclasses.replace(fr, flow=dataclasses.replace(fr.flow, isn=None))
    assert attempt_key(headless) is None


def test_remembered_attempts_are_bounded(result: AnalysisResult) -> None:
    state = WatchState(WatchLimits(max_tracked=2))
    state.absorb(result, _end(result), final=True)
    assert len(state.counted) == 2


def test_evidence_frames_are_mapped_back_to_the_stream(result: AnalysisResult) -> None:
    finding = result.findings[0]
    frames = list(range(1001, 1001 + 200))
    mapped = renumber(finding, frames, "web01.pcap")
    for before, after in zip(finding.evidence, mapped.evidence, strict=True):
        assert (after.frame, after.file) == (before.frame + 1000, "web01.pcap")


# ---- a growing file -----------------------------------------------------------------------------
def _grow(source: Path, target: Path, chunk: int = 2048, pause_s: float = 0.02) -> None:
    data = source.read_bytes()
    with target.open("wb") as out:
        for pos in range(0, len(data), chunk):
            out.write(data[pos : pos + chunk])
            out.flush()
            time.sleep(pause_s)


@pytest.mark.skipif(not SCENARIO.is_dir(), reason="sample_captures/hairpin-two-backends is absent")
def test_watch_follows_a_growing_file_and_agrees_with_ground_truth(tmp_path: Path) -> None:
    growing, written = tmp_path / "growing.pcap", tmp_path / "seen.pcapng"
    source = SCENARIO / "web01-eth0.pcap"
    writer = threading.Thread(target=_grow, args=(source, growing))
    writer.start()
    args = [
        "watch",
        "--file",
        str(growing),
        "--lb",
        str(SCENARIO / "lb.yaml"),
        "--interval",
        "0.5",
        "--duration",
        "4",
        "--json",
        "--write",
        str(written),
    ]
    done = CliRunner().invoke(main, args)
    writer.join()
    truth = json.loads((SCENARIO / "ground_truth.json").read_text())
    mine = Counter(a["expected_label"] for a in truth["attempts"] if a["client"] == "10.2.1.4")
    report = json.loads(done.stdout)
    (tally,) = report["totals"]
    assert tally["frontend"] == "10.2.1.100:80"
    assert tally["labels"] == dict(mine)
    assert tally["failed"] == mine["hairpin_self"]
    assert done.exit_code == (3 if mine["hairpin_self"] else 0)
    frames = StreamParser().feed(source.read_bytes())
    assert len(StreamParser().feed(written.read_bytes())) == len(frames)


# ---- the view -----------------------------------------------------------------------------------
class _Screen(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _session(result: AnalysisResult) -> WatchSession:
    session = WatchSession(LbConfig(), lambda paths, lb: result, source_label="eth0")
    session.state.absorb(result, _end(result), final=True)
    return session


def test_a_terminal_is_redrawn_in_place(result: AnalysisResult) -> None:
    screen = _Screen(tty=True)
    display = LiveDisplay(colour=False, stream=screen)
    display.refresh(_session(result))
    first = screen.getvalue()
    display.refresh(_session(result))
    second = screen.getvalue()[len(first) :]
    assert "\x1b[" not in first and second.startswith(f"\x1b[{first.count(chr(10))}F\x1b[J")
    assert "10.2.1.100:80" in first and "hairpin_self 3" in first
    assert "newest finding F1 hairpin_self" in first
    display.clear()
    assert screen.getvalue().endswith(f"\x1b[{second.count(chr(10))}F\x1b[J")


def test_a_pipe_gets_one_line_per_change(result: AnalysisResult) -> None:
    screen = _Screen(tty=False)
    display = LiveDisplay(colour=True, stream=screen)
    session = _session(result)
    display.refresh(session)
    display.refresh(session)
    (line,) = screen.getvalue().splitlines()
    assert "packets=0 attempts=8 failed=3; 10.2.1.100:80 8 attempts 3 failed (38%)" in line
    assert "newest F1 hairpin_self" in line and "\x1b[" not in line


def test_a_quiet_link_still_lets_attempts_settle(result: AnalysisResult) -> None:
    wall = [100.0]
    session = WatchSession(LbConfig(), lambda paths, lb: result, clock=lambda: wall[0])
    parser = StreamParser()
    parser.interfaces.append(StreamInterface(1, "eth0"))
    session.ingest(0, parser, [Record(1, 5_000_000_000, 0, 60, b"x" * 60)])
    assert session.now() == pytest.approx(5.0)
    wall[0] = 104.0  # four seconds without a packet
    assert session.now() == pytest.approx(9.0)


def test_hours_of_attempts_keep_the_remembered_keys_bounded(result: AnalysisResult) -> None:
    """Two simulated hours, one attempt a second: memory follows the window, not the session."""
    template = next(f for f in result.flows if f.role == "outbound")
    limits = WatchLimits(window_s=60.0, settle_s=3.0)
    state = WatchState(limits)
    start = template.flow.ts
    peak = 0
    for second in range(2 * 3600):
        flow = dataclasses.replace(
            template.flow,
            ts=start + second,
            last_ts=start + second + 0.1,
            orig_p=1024 + second % 60000,
            isn=second,
        )
        window = dataclasses.replace(result, flows=(dataclasses.replace(template, flow=flow),))
        state.absorb(window, start + second + limits.settle_s)
        peak = max(peak, len(state.counted))
    (tally,) = state.tallies.values()
    assert tally.attempts == 2 * 3600
    assert peak <= limits.window_s + 30 + limits.settle_s + 1
