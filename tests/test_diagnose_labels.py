"""Each label decision, as a pure function of the facts, and the order they are asked in."""

from __future__ import annotations

import pytest

from pcapflow.diagnose import decide
from pcapflow.diagnose.facts import ATTEMPT, DIRECT_KIND, PROBE_KIND, Facts
from pcapflow.diagnose.registry import DETECTORS
from pcapflow.model.result import Confidence, Label


def attempt(**kw: object) -> Facts:
    base: dict[str, object] = dict(
        kind=ATTEMPT, proto="tcp", caller="10.2.1.4", pool_size=2, requests=3, waited_s=2.0
    )
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_self_mapped_and_unanswered_is_hairpin_self() -> None:
    v = decide(attempt(self_mapped=True, translated_seen=True, caller_in_pool=True))
    assert v.label is Label.HAIRPIN_SELF and v.confidence is Confidence.HIGH
    assert "martian" in v.reason


def test_ipv6_hairpin_answered_on_lo_is_still_hairpin_self() -> None:
    v = decide(attempt(self_mapped=True, member_answered=True, member_refused=True))
    assert v.label is Label.HAIRPIN_SELF and "reverse NAT" in v.reason


def test_self_mapped_but_answered_is_not_a_failure() -> None:
    v = decide(attempt(self_mapped=True, caller_answered=True))
    assert v.label is Label.OK


def test_floating_ip_copy_back_to_self_is_guest_unconfigured() -> None:
    v = decide(attempt(self_mapped=True, floating_ip=True))
    assert v.label is Label.FLOATING_IP_GUEST_UNCONFIGURED


def test_floating_ip_syn_reaching_a_member_unanswered_is_guest_unconfigured() -> None:
    v = decide(attempt(floating_ip=True, translated_seen=True))
    assert v.label is Label.FLOATING_IP_GUEST_UNCONFIGURED


def test_reset_is_refused() -> None:
    assert decide(attempt(caller_refused=True)).label is Label.REFUSED
    assert decide(attempt(member_refused=True, translated_seen=True)).label is Label.REFUSED


def test_udp_answered_by_icmp_port_unreachable_is_refused_not_filtered() -> None:
    v = decide(attempt(proto="udp", caller_refused=True))
    assert v.label is Label.REFUSED and "ICMP port unreachable" in v.reason
    assert decide(attempt(proto="udp")).label is Label.FILTERED


def test_member_caller_that_got_an_answer_is_hairpin_other_backend() -> None:
    v = decide(attempt(caller_answered=True, caller_in_pool=True, translated_seen=True))
    assert v.label is Label.HAIRPIN_OTHER_BACKEND and v.confidence is Confidence.HIGH
    assert decide(attempt(caller_answered=True, caller_in_pool=True)).confidence is (
        Confidence.MEDIUM
    )


def test_lucky_hairpin_without_a_declared_pool_claims_no_one_in_n() -> None:
    v = decide(attempt(caller_answered=True, caller_in_pool=True, pool_size=1, pool_known=False))
    assert v.label is Label.HAIRPIN_OTHER_BACKEND
    assert "1/1" not in v.reason and "not declared" in v.reason


def test_member_call_served_on_its_own_loopback_is_ok_not_a_lucky_hairpin() -> None:
    v = decide(attempt(caller_answered=True, caller_in_pool=True, served_locally=True))
    assert v.label is Label.OK and "loopback" in v.reason and "not load-balanced" in v.reason


def test_a_loopback_capture_that_went_unanswered_is_not_served_locally() -> None:
    v = decide(attempt(caller_in_pool=True, served_locally=True))
    assert v.label is not Label.OK


def test_outside_caller_that_got_an_answer_is_ok() -> None:
    assert decide(attempt(caller_answered=True)).label is Label.OK


def test_silence_without_a_translated_copy_is_filtered_and_says_what_would_settle_it() -> None:
    v = decide(attempt())
    assert v.label is Label.FILTERED and v.confidence is Confidence.MEDIUM
    assert v.ambiguity and "the pool members would settle it" in v.ambiguity


def test_silence_with_members_captured_is_filtered_with_confidence() -> None:
    v = decide(attempt(members_captured=True))
    assert v.label is Label.FILTERED and v.confidence is Confidence.HIGH and not v.ambiguity


def test_translated_syn_reaching_a_member_unanswered_is_filtered_at_the_member() -> None:
    v = decide(attempt(translated_seen=True))
    assert v.label is Label.FILTERED and "reached the member" in v.reason


def test_too_short_a_capture_is_unknown_and_says_why() -> None:
    v = decide(attempt(requests=1, waited_s=0.2))
    assert v.label is Label.UNKNOWN and "too soon" in v.reason


def test_attempt_without_its_syn_is_unknown() -> None:
    v = decide(attempt(syn_seen=False, requests=0))
    assert v.label is Label.UNKNOWN and "mid-connection" in v.reason


def test_idle_death_after_the_timeout_is_idle_timeout() -> None:
    facts = attempt(caller_answered=True, idle_gap_s=300.0, dies_after_gap=True)
    assert decide(facts).label is Label.IDLE_TIMEOUT
    short = attempt(caller_answered=True, idle_gap_s=100.0, dies_after_gap=True)
    assert decide(short).label is Label.OK
    survived = attempt(caller_answered=True, idle_gap_s=300.0, dies_after_gap=False)
    assert decide(survived).label is Label.OK


def probe(**kw: object) -> Facts:
    base: dict[str, object] = dict(kind=PROBE_KIND, proto="tcp", caller="168.63.129.16", requests=2)
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_probe_reply_leaving_by_another_interface_is_asymmetric() -> None:
    v = decide(probe(caller_answered=True, reply_unacked=True, reply_iface_differs=True))
    assert v.label is Label.PROBE_ASYMMETRIC_ROUTE and v.confidence is Confidence.HIGH


def test_probe_replies_without_the_syn_are_asymmetric_with_less_confidence() -> None:
    v = decide(probe(caller_answered=True, reply_unacked=True, reply_without_request=True))
    assert v.label is Label.PROBE_ASYMMETRIC_ROUTE and v.confidence is Confidence.MEDIUM


def test_probe_syns_alone_look_filtered_and_say_so() -> None:
    v = decide(probe(waited_s=5.0))
    assert v.label is Label.FILTERED and v.ambiguity and "other interfaces" in v.ambiguity


def test_healthy_probe_and_direct_flows_are_ok() -> None:
    v = decide(probe(caller_answered=True))
    assert v.label is Label.OK and "health probe" in v.reason
    direct = Facts(kind=DIRECT_KIND, proto="tcp", caller="10.2.1.4", caller_answered=True)
    assert decide(direct).label is Label.OK
    udp = Facts(kind=DIRECT_KIND, proto="udp", caller="10.2.1.4", caller_answered=True)
    assert decide(udp).label is Label.OK


def test_a_direct_flow_without_its_opening_is_not_judged() -> None:
    answered = Facts(kind=DIRECT_KIND, proto="tcp", caller="10.2.1.4", caller_answered=True,
                     syn_seen=False)  # fmt: skip
    silent = Facts(kind=DIRECT_KIND, proto="tcp", caller="10.2.1.4", syn_seen=False)
    for facts in (answered, silent):
        v = decide(facts)
        assert v.label is None and "not captured" in v.reason


def test_an_attempt_without_its_opening_is_still_judged() -> None:
    assert decide(attempt(caller_answered=True, syn_seen=False)).label is Label.OK
    assert decide(attempt(syn_seen=False, requests=0)).label is Label.UNKNOWN


def test_icmp_is_not_a_connection_attempt() -> None:
    for answered in (True, False):
        icmp = Facts(kind=DIRECT_KIND, proto="icmp", caller="10.2.1.4", caller_answered=answered)
        v = decide(icmp)
        assert v.label is None and "ICMP" in v.reason


def test_failed_probes_and_direct_calls_keep_their_failure_labels() -> None:
    refused = Facts(kind=DIRECT_KIND, proto="udp", caller="10.2.1.4", caller_refused=True)
    assert decide(refused).label is Label.REFUSED
    assert decide(probe(requests=3, waited_s=9.0)).label is Label.FILTERED


def test_one_way_udp_outside_a_frontend_gets_no_label() -> None:
    udp = Facts(kind=DIRECT_KIND, proto="udp", caller="10.2.1.4", requests=3, waited_s=9.0)
    v = decide(udp)
    assert v.label is None and "one-way UDP" in v.reason


def test_direct_tcp_silence_is_filtered() -> None:
    tcp = Facts(kind=DIRECT_KIND, proto="tcp", caller="10.2.1.4", requests=3, waited_s=9.0)
    assert decide(tcp).label is Label.FILTERED


@pytest.mark.parametrize("label", [lab.value for lab in Label])
def test_every_label_has_a_detector(label: str) -> None:
    assert label in {name for name, _ in DETECTORS}


def test_hairpin_copy_is_asked_before_filtered() -> None:
    names = [name for name, _ in DETECTORS]
    assert names.index("hairpin_self") < names.index("filtered") < names.index("unknown")
    assert names[-1] == "unknown"


def test_ambiguity_names_the_members_to_capture() -> None:
    v = decide(attempt(other_members=("web02 (10.2.1.6)",)))
    assert v.ambiguity and "web02 (10.2.1.6)" in v.ambiguity
