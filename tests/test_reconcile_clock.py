"""Clock offsets between capture points, on real captures whose clocks were shifted on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import dpkt
import pytest

from pcapflow.lbconfig import load
from pcapflow.pipeline import analyze

SAMPLE = Path(__file__).resolve().parents[1] / "sample_captures" / "hairpin-two-backends"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample captures not generated")


def shifted(src: Path, dst: Path, seconds: float) -> Path:
    """A copy of a pcap whose every timestamp is ``seconds`` later (a clock running ahead)."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        reader = dpkt.pcap.Reader(fin)
        writer = dpkt.pcap.Writer(fout, linktype=reader.datalink())
        for ts, buf in reader:
            writer.writepkt(buf, ts + seconds)
    return dst


def labels_by_attempt(result: object) -> dict[tuple[str, int], str]:
    return {
        (r.flow.orig_h, r.flow.orig_p): str(r.label)
        for r in result.flows  # type: ignore[attr-defined]
        if r.role == "outbound"
    }


@needs_sample
@pytest.mark.parametrize("skew", [3.7, -42.0])
def test_a_skewed_member_clock_is_estimated_and_the_legs_still_join(
    tmp_path: Path, skew: float
) -> None:
    web02 = shifted(SAMPLE / "web02-eth0.pcap", tmp_path / "web02-eth0.pcap", skew)
    lb = load([str(SAMPLE / "lb.yaml")])
    result = analyze([str(SAMPLE / "web01-eth0.pcap"), str(web02)], lb)
    offset = result.captures[1]
    assert offset.clock_offset_basis >= 8
    assert offset.clock_offset_s == pytest.approx(-skew, abs=0.01)
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    expected = {
        (a["client"], a["client_port"]): a["expected_label"]
        for a in truth["attempts"]
        if a["client"] == "10.2.1.4"
    }
    assert labels_by_attempt(result) == expected
    joined = [leg for leg in result.legs if leg.member == "10.2.1.6"]
    assert joined and all(abs(leg.delta_s) < 0.01 for leg in joined)


@needs_sample
def test_file_order_does_not_change_the_labels() -> None:
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    files = [str(SAMPLE / c["file"]) for c in truth["captures"]]
    lb = load([str(SAMPLE / "lb.yaml")])
    forward = labels_by_attempt(analyze(files, lb))
    backward = labels_by_attempt(analyze(files[::-1], lb))
    assert forward == backward and len(forward) == len(truth["attempts"])
