"""Renderers: registry, terminal text, versioned JSON checked against the shipped JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from pcapflow.errors import InputError
from pcapflow.model.result import AnalysisResult, FlowKind, Label
from pcapflow.report import RENDERERS, render, to_dict
from pcapflow.report.example import hairpin_example, healthy_example
from pcapflow.report.facts import label_counts, summarize
from pcapflow.report.json_ import schema


def test_every_contract_format_is_registered() -> None:
    assert {"text", "json"} <= set(RENDERERS)
    for name, spec in RENDERERS.items():
        assert spec.name == name and spec.extension and spec.media_type and spec.description


def test_unknown_format_is_an_input_error_naming_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown report format 'pdf'.*json"):
        render(hairpin_example(), "pdf")


def test_legs_of_one_connection_count_once() -> None:
    counts = dict(label_counts(hairpin_example().flows))
    assert counts == {Label.HAIRPIN_OTHER_BACKEND: 5, Label.HAIRPIN_SELF: 3}


def test_text_states_verdict_rates_evidence_and_ranked_fixes() -> None:
    text = render(hairpin_example(), "text")
    assert text.startswith("Verdict: HAIRPIN FAILURE\n")
    assert "3 of 8 attempts failed (38%); expected about 50% (1 in 2); p = 0.73" in text
    assert "load balancer ilb-web, rule http" in text
    assert "web01-eth0.pcap frame 10: 10.2.1.4:40002 -> 10.2.1.4:80 [SYN]" in text
    first, second = text.index("1. Enable Floating IP"), text.index("2. Call a member")
    assert first < second
    assert "$ sudo ip addr add 10.2.1.100/32 dev lo label lo:ilb" in text


def test_text_has_colour_only_when_asked() -> None:
    assert "\x1b[" not in render(hairpin_example(), "text")
    assert "\x1b[31m" in render(hairpin_example(), "text", color=True)


def test_text_of_a_healthy_result_says_so() -> None:
    text = render(healthy_example(), "text")
    assert text.startswith("Verdict: HEALTHY\n") and "[F" not in text


def test_remediations_are_listed_by_rank_not_by_input_order() -> None:
    result = hairpin_example()
    finding = result.findings[0]
    reversed_fixes = tuple(reversed(finding.remediations))
    result = replace(result, findings=(replace(finding, remediations=reversed_fixes),))
    text = render(result, "text")
    assert text.index("1. Enable Floating IP") < text.index("3. Put an NGINX proxy")


@pytest.mark.parametrize("build", [hairpin_example, healthy_example])
def test_json_output_validates_against_the_shipped_schema(build: object) -> None:
    assert callable(build)
    data = json.loads(render(build(), "json"))
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(data, schema(), cls=jsonschema.Draft202012Validator)


def test_schema_rejects_an_undocumented_field() -> None:
    data = to_dict(hairpin_example())
    data["flows"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema(), cls=jsonschema.Draft202012Validator)


def test_json_finding_carries_evidence_frames_rates_and_nginx_file() -> None:
    finding = to_dict(hairpin_example())["findings"][0]
    assert finding["label"] == "hairpin_self" and finding["expected_rate"] == 0.5
    assert [e["frame"] for e in finding["evidence"]] == [9, 10, 13]
    nginx = finding["remediations"][2]["files"][0]
    assert nginx["name"] == "pcapflow-nginx.conf" and "upstream" in nginx["content"]


def test_json_is_strict_even_with_a_nan_p_value() -> None:
    result = hairpin_example()
    finding = replace(result.findings[0], p_value=float("nan"))
    text = render(replace(result, findings=(finding,)), "json")
    assert json.loads(text)["findings"][0]["p_value"] is None


def test_json_flow_pairs_name_each_other() -> None:
    flows = {f["id"]: f for f in to_dict(hairpin_example())["flows"]}
    paired = [f for f in flows.values() if f["paired_with"]]
    assert len(paired) == 6
    for flow in paired:
        assert all(flow["id"] in flows[other]["paired_with"] for other in flow["paired_with"])


def test_rendering_is_deterministic() -> None:
    for fmt in RENDERERS:
        assert render(hairpin_example(), fmt) == render(hairpin_example(), fmt)


def _read_in_part() -> AnalysisResult:
    """A capture that stopped at a damaged record and held no flow."""
    result = healthy_example()
    info = replace(
        result.captures[0].info, warnings=("record at byte 24 has an impossible length",)
    )
    return replace(result, flows=(), captures=(replace(result.captures[0], info=info),))


@pytest.mark.parametrize(
    ("fmt", "verdict"),
    [
        ("text", "Verdict: NO TRAFFIC\n"),
        ("markdown", "# pcapflow: no traffic\n"),
        ("html", '<div class="verdict neutral">\n  <div class="big">no traffic</div>'),
    ],
)
def test_a_capture_read_only_in_part_says_so_and_no_traffic_is_not_healthy(
    fmt: str, verdict: str
) -> None:
    out = render(_read_in_part(), fmt)
    assert "web01-eth0.pcap: record at byte 24 has an impossible length" in out
    assert verdict in out


def test_json_verdict_of_an_empty_result_is_no_traffic() -> None:
    data = json.loads(render(_read_in_part(), "json"))
    assert data["summary"]["verdict"] == "no traffic"
    assert data["captures"][0]["warnings"] == ["record at byte 24 has an impossible length"]
    jsonschema.validate(data, schema(), cls=jsonschema.Draft202012Validator)


def test_a_finding_of_connections_that_worked_does_not_read_as_failures() -> None:
    result = hairpin_example()
    worked = replace(result.findings[0], id="F2", label=Label.HAIRPIN_OTHER_BACKEND, count=5)
    text = render(replace(result, findings=(*result.findings, worked)), "text")
    section = text[text.index("[F2]") :]
    assert "5 of 8 attempts worked (balancer chose another member) (62%)" in section
    assert "failed" not in section.splitlines()[2]


def _with_probes(result: AnalysisResult, kind: FlowKind, label: Label) -> AnalysisResult:
    """The example plus two flows of another kind (copies of its first flow, re-labelled)."""
    first = result.flows[0]
    extra = tuple(
        replace(first, id=f"9:x{n}", paired_with=(), frontend=None, kind=kind, label=label)
        for n in range(2)
    )
    return replace(result, flows=result.flows + extra)


def test_summaries_count_by_kind_with_frontend_calls_first() -> None:
    result = _with_probes(hairpin_example(), FlowKind.HEALTH_PROBE, Label.OK)
    summary = summarize(result)
    assert [k.kind for k in summary.by_kind] == [FlowKind.FRONTEND_CALL, FlowKind.HEALTH_PROBE]
    assert summary.of_kind(FlowKind.HEALTH_PROBE).counts == ((Label.OK, 2),)
    assert summary.connections == 10 and summary.failed == 3
    text = render(result, "text")
    assert text.index("calls to a load-balancer frontend: 8, 3 failed") < text.index(
        "health probes: 2"
    )
    data = to_dict(result)["summary"]
    assert data["by_kind"] == {
        "frontend_call": {"hairpin_other_backend": 5, "hairpin_self": 3},
        "health_probe": {"ok": 2},
    }
    html = render(result, "html")
    assert html.index('aria-label="calls to a load-balancer frontend by label"') < html.index(
        'aria-label="health probes by label"'
    )
    assert "All 8 connection(s) seen to load-balancer frontends worked" not in html


def test_a_healthy_result_headline_counts_only_frontend_calls() -> None:
    from pcapflow.report.html import headline

    result = _with_probes(healthy_example(), FlowKind.DIRECT_CALL, Label.OK)
    summary = summarize(result)
    calls = summary.of_kind(FlowKind.FRONTEND_CALL).connections
    assert headline(summary, result) == (
        f"All {calls} connection(s) seen to load-balancer frontends worked "
        "(and 2 other connection(s))."
    )


def test_a_report_is_written_under_its_name_only_once_complete(tmp_path: Path) -> None:
    from pcapflow.report.registry import write_chunks

    def failing() -> Iterator[str]:
        yield "half of it"
        raise RuntimeError("renderer broke")

    target = tmp_path / "r.json"
    with pytest.raises(RuntimeError):
        write_chunks(target, failing())
    assert list(tmp_path.iterdir()) == []  # neither the report nor a partial file is left
    write_chunks(target, iter(["a", "b"]))
    assert target.read_text() == "ab" and list(tmp_path.iterdir()) == [target]
