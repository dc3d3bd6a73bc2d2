"""story(): the plain-words account of one connection, leg by leg, with its frames."""

from __future__ import annotations

import pytest

from pcapflow.errors import InputError
from pcapflow.model.result import AnalysisResult, FlowResult, Label
from pcapflow.report.example import hairpin_example, healthy_example
from pcapflow.report.story import (
    LABEL_MEANINGS,
    connection,
    find_flow,
    find_flow_at_frame,
    story,
)


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return hairpin_example()


def _attempt(result: AnalysisResult, label: Label) -> FlowResult:
    return next(f for f in result.flows if f.role == "outbound" and f.label is label)


def test_a_hairpin_to_self_is_told_across_both_legs(result: AnalysisResult) -> None:
    fr = _attempt(result, Label.HAIRPIN_SELF)
    lines = story(result, fr.id)
    text = "\n".join(lines)
    back = next(f for f in result.flows if f.id in fr.paired_with)
    assert "Leg 1 of 2, caller to frontend" in text
    assert "Leg 2 of 2, load balancer to member" in text
    assert f"-> {back.flow.resp_h}:{back.flow.resp_p} (DNAT)" in text
    assert "kept the source (no SNAT)" in text
    assert "is the caller itself" in text
    assert lines[-4].startswith("Verdict: hairpin_self")


def test_every_frame_of_every_leg_is_listed(result: AnalysisResult) -> None:
    fr = _attempt(result, Label.HAIRPIN_SELF)
    text = "\n".join(story(result, fr.id))
    for leg in connection(result, fr):
        for packet in leg.flow.packets:
            assert f"frame {packet.frame} " in text
            assert packet.summary() in text


def test_either_leg_tells_the_same_story(result: AnalysisResult) -> None:
    fr = _attempt(result, Label.HAIRPIN_SELF)
    (back_id,) = fr.paired_with
    assert story(result, fr.id)[1:] == story(result, back_id)[1:]
    assert story(result, fr.id) == story(result, fr.flow.uid)


def test_a_working_connection_reads_as_a_handshake(result: AnalysisResult) -> None:
    fr = _attempt(result, Label.HAIRPIN_OTHER_BACKEND)
    text = "\n".join(story(result, fr.id))
    assert "sent a SYN-ACK to" in text
    assert "Nothing came back" not in text
    assert "The capture shows one leg" in text
    assert "Verdict: hairpin_other_backend" in text


def test_syn_retransmissions_are_counted_not_repeated(result: AnalysisResult) -> None:
    fr = _attempt(result, Label.HAIRPIN_SELF)
    syns = len(fr.flow.packets)
    assert f"sent a SYN to 10.2.1.100:80 {syns} times" in "\n".join(story(result, fr.id))


def test_the_story_is_deterministic() -> None:
    first, second = hairpin_example(), hairpin_example()
    ids = [f.id for f in first.flows]
    assert [story(first, i) for i in ids] == [story(second, i) for i in ids]


def test_a_healthy_capture_has_stories_too() -> None:
    result = healthy_example()
    for fr in result.flows:
        assert story(result, fr.id)[0].startswith(f"Connection {fr.id}:")


def test_unknown_flow_is_bad_input(result: AnalysisResult) -> None:
    with pytest.raises(InputError, match="no flow"):
        find_flow(result, "0:Cnope")


def test_a_frame_leads_to_its_flow(result: AnalysisResult) -> None:
    fr = _attempt(result, Label.HAIRPIN_SELF)
    for packet in fr.flow.packets:
        assert find_flow_at_frame(result, packet.frame).id == fr.id
    with pytest.raises(InputError, match="frame 999999"):
        find_flow_at_frame(result, 999_999)


def test_every_label_has_plain_words() -> None:
    assert set(LABEL_MEANINGS) == set(Label)


def test_a_member_leg_says_what_it_is_and_that_its_caller_was_not_captured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pcapflow.model.result import FlowKind
    from pcapflow.report.golden import CASES, REPO, case_result

    monkeypatch.chdir(REPO)
    real = case_result(next(c for c in CASES if c.name == "udp-service-web01"))
    leg = next(f for f in real.flows if f.kind is FlowKind.MEMBER_LEG)
    text = "\n".join(story(real, leg.id))
    assert "It is a member leg" in text and leg.note in text
    assert "not through a load balancer" not in text
    probe = next(f for f in real.flows if f.kind is FlowKind.HEALTH_PROBE)
    assert "It is a health probe" in "\n".join(story(real, probe.id))
