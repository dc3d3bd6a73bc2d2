"""A needle in a haystack: the hairpin sample captures merged into the middle of tens of
thousands of background packets give the same labels, findings and evidence as alone (frames
mapped), and the background gets no label (the same check as ``benchmarks/needle.py`` on the
2M-packet background)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_capture  # noqa: E402
import needle  # noqa: E402

SAMPLE = ROOT / "sample_captures" / "hairpin-two-backends"
POINTS = ("web01-eth0.pcap", "client-eth0.pcap", "web02-eth0.pcap")
BACKGROUND_FLOWS = 1_500  # about 30k packets per capture


@pytest.fixture(scope="module")
def haystack(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[Path], list[dict[int, int]], float]:
    folder = tmp_path_factory.mktemp("haystack")
    merged: list[Path] = []
    frames: list[dict[int, int]] = []
    shift: int | None = None
    for seed, point in enumerate(POINTS, start=11):
        background = folder / f"bg-{point}"
        gen_capture.generate(background, BACKGROUND_FLOWS, seed, healthy=True)
        if shift is None:
            shift = needle.middle_shift_us(background, SAMPLE / point)
        out = folder / "big" / point  # the same name: it names the capture point
        out.parent.mkdir(exist_ok=True)
        mapping, _shift_s = needle.merge(background, SAMPLE / point, out, shift)
        merged.append(out)
        frames.append(mapping)
    assert shift is not None
    return merged, frames, shift / 1e6


def test_the_needle_is_analysed_the_same_inside_the_haystack(
    haystack: tuple[list[Path], list[dict[int, int]], float],
) -> None:
    merged, frames, shift_s = haystack
    assert all(len(m) > 0 for m in frames)
    problems = needle.check(
        [SAMPLE / p for p in POINTS], merged, frames, shift_s, SAMPLE / "lb.yaml"
    )
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_changed_label(
    haystack: tuple[list[Path], list[dict[int, int]], float],
) -> None:
    """The comparison is not blind: a wrong frame map is a difference."""
    merged, frames, shift_s = haystack
    shifted = [{k: v + 1 for k, v in m.items()} for m in frames]
    problems = needle.check(
        [SAMPLE / p for p in POINTS], merged, shifted, shift_s, SAMPLE / "lb.yaml"
    )
    assert problems
