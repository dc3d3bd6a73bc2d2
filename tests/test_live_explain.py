"""`pcapflow explain` on the lab's sample captures: the story agrees with the ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.lbconfig import load
from pcapflow.model.result import AnalysisResult
from pcapflow.report.story import story

SCENARIO = Path(__file__).resolve().parents[1] / "sample_captures" / "hairpin-two-backends"
CAPTURE = SCENARIO / "web01-eth0.pcap"

pytestmark = pytest.mark.skipif(not SCENARIO.is_dir(), reason="sample captures are absent")


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    from pcapflow.pipeline import analyze

    return analyze([CAPTURE], load([str(SCENARIO / "lb.yaml")]))


@pytest.fixture(scope="module")
def truth() -> list[dict[str, Any]]:
    attempts = json.loads((SCENARIO / "ground_truth.json").read_text())["attempts"]
    return [a for a in attempts if a["client"] == "10.2.1.4"]


def _explain(*args: str) -> tuple[int, dict[str, Any]]:
    done = CliRunner().invoke(
        main, ["explain", str(CAPTURE), "--lb", str(SCENARIO / "lb.yaml"), "--json", *args]
    )
    assert done.exit_code in (0, 3), done.output
    return done.exit_code, json.loads(done.stdout)


def test_each_attempt_is_explained_with_the_label_ground_truth_expects(
    result: AnalysisResult, truth: list[dict[str, Any]]
) -> None:
    by_port = {f.flow.orig_p: f for f in result.flows if f.role == "outbound"}
    for attempt in truth:
        fr = by_port[attempt["client_port"]]
        lines = story(result, fr.id)
        assert f"Verdict: {attempt['expected_label']}:" in "\n".join(lines)
        hairpin = attempt["expected_label"] == "hairpin_self"
        assert ("is the caller itself" in "\n".join(lines)) == hairpin


def test_explain_by_frame_and_by_flow_agree(
    result: AnalysisResult, truth: list[dict[str, Any]]
) -> None:
    attempt = next(a for a in truth if a["expected_label"] == "hairpin_self")
    fr = next(
        f
        for f in result.flows
        if f.flow.orig_p == attempt["client_port"] and f.role == "translated"
    )
    code, by_flow = _explain("--flow", fr.id)
    _, by_frame = _explain("--frame", str(fr.flow.packets[-1].frame))
    assert code == 3
    assert by_flow == by_frame
    assert by_flow["label"] == "hairpin_self" and len(by_flow["legs"]) == 2
    assert any(f"frame {p.frame} " in line for p in fr.flow.packets for line in by_flow["story"])


def test_a_working_attempt_exits_0(truth: list[dict[str, Any]], result: AnalysisResult) -> None:
    attempt = next(a for a in truth if a["expected_label"] == "hairpin_other_backend")
    fr = next(f for f in result.flows if f.flow.orig_p == attempt["client_port"])
    code, payload = _explain("--flow", fr.flow.uid)
    assert (code, payload["label"]) == (0, "hairpin_other_backend")


def test_legs_in_two_captures_share_one_clock(truth: list[dict[str, Any]]) -> None:
    from pcapflow.pipeline import analyze

    both = analyze([CAPTURE, SCENARIO / "web02-eth0.pcap"], load([str(SCENARIO / "lb.yaml")]))
    attempt = next(a for a in truth if a["expected_label"] == "hairpin_other_backend")
    out = next(
        f for f in both.flows if f.flow.orig_p == attempt["client_port"] and f.role == "outbound"
    )
    leg = next(leg for leg in both.legs if leg.outbound_flow == out.id)
    lines = story(both, out.id)
    second = next(line for line in lines if line.startswith("Leg 2 of 2"))
    assert "seen in web02-eth0.pcap" in second
    start = float(second.rsplit("+", 1)[1].split(" s)")[0])
    assert start == pytest.approx(leg.delta_s, abs=2e-6)
