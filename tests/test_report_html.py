"""The HTML report: self-contained, deterministic, and showing what a reader needs."""

from __future__ import annotations

import re
from dataclasses import replace

from pcapflow.model.result import FlowKind, Label
from pcapflow.report import render
from pcapflow.report.example import hairpin_example, healthy_example
from pcapflow.report.ladder import CALLER, LB, MEMBER, ladder, pick_failing, pick_healthy


def test_page_references_nothing_outside_itself() -> None:
    html = render(hairpin_example(), "html")
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\b(src|href)\s*=", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # and the browser is told to refuse any fetch


def test_summary_names_verdict_balancer_rule_and_rates() -> None:
    html = render(hairpin_example(), "html")
    assert '<div class="big">hairpin failure</div>' in html
    assert "ilb-web" in html and ">http<" in html
    assert "38%" in html and "(3 of 8)" in html and "50%" in html and "(1 in 2)" in html


def test_healthy_result_has_a_green_verdict_and_no_finding() -> None:
    html = render(healthy_example(), "html")
    assert 'class="verdict healthy"' in html and 'class="finding"' not in html


def test_failing_ladder_crosses_the_balancer_twice_and_back_to_the_caller() -> None:
    result = hairpin_example()
    head = pick_failing(result, result.findings[0].flow_ids)
    assert head is not None and head.role == "outbound"
    drawn = ladder(result, head, "t")
    assert drawn.columns == (
        "caller 10.2.1.4",
        "load balancer 10.2.1.100:80",
        "member 10.2.1.4 = the caller",
    )
    assert [(a.src, a.dst, a.frame) for a in drawn.arrows[:2]] == [
        (CALLER, LB, 9),
        (LB, MEMBER, 10),
    ]
    assert [a.text for a in drawn.arrows] == ["SYN seq=2004242 ack=0"] * 6
    assert drawn.arrows[1].t == 31e-6


def test_healthy_contrast_is_a_connection_to_the_same_frontend_with_replies() -> None:
    result = hairpin_example()
    head = pick_healthy(result, "10.2.1.100:80")
    assert head is not None and head.label is Label.HAIRPIN_OTHER_BACKEND
    drawn = ladder(result, head, "t")
    assert (LB, CALLER) in {(a.src, a.dst) for a in drawn.arrows}
    assert drawn.arrows[1].text == "SYN, ACK seq=7000099 ack=1004243"


def test_each_finding_has_ladders_timeline_evidence_and_copyable_fixes() -> None:
    html = render(hairpin_example(), "html")
    assert html.count('<svg class="ladder"') == 2 and html.count('<svg class="timeline"') == 1
    assert html.count('class="mark label-') == 8
    assert '<td class="num">10</td>' in html  # evidence frame
    assert html.count('<button class="copy"') == 4
    assert "upstream ilb_web_http {" in html  # generated nginx config
    assert html.index("Enable Floating IP") < html.index("Put an NGINX proxy")


def test_flow_table_lists_every_flow_for_sorting_and_filtering() -> None:
    html = render(hairpin_example(), "html")
    assert html.count('<tr data-label="') == len(hairpin_example().flows)
    assert 'id="flow-filter"' in html and 'class="sortable"' in html


def test_text_from_the_capture_is_escaped() -> None:
    result = hairpin_example()
    evil = replace(result.findings[0], title="<script>alert(1)</script>")
    html = render(replace(result, findings=(evil,)), "html")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_html_is_byte_identical_across_runs() -> None:
    assert render(hairpin_example(), "html") == render(hairpin_example(), "html")


def test_flow_table_is_capped_keeping_labelled_flows() -> None:
    from pcapflow.report.html import shown_flows

    result = hairpin_example()
    unlabelled = tuple(  # flows that are not connection attempts (ICMP, ...): no label
        replace(f, label=None, kind=FlowKind.OTHER, id=f"9:{n}") for n, f in enumerate(result.flows)
    )
    big = replace(result, flows=unlabelled + result.flows)
    rows = shown_flows(big, limit=len(result.flows) + 2)
    assert len(rows) == len(result.flows) + 2
    assert {f.id for f in result.flows} <= {f.id for f in rows}


def test_flow_table_keeps_failures_behind_many_healthy_connections() -> None:
    """Every connection has a label: thousands of healthy ones before a failure do not push the
    failure (or the calls to a frontend) out of the capped table."""
    from pcapflow.report.html import shown_flows

    result = hairpin_example()
    healthy = tuple(
        replace(f, label=Label.OK, kind=FlowKind.OTHER, id=f"9:{n}")
        for n, f in enumerate(result.flows * 3)
    )
    big = replace(result, flows=healthy + result.flows)
    rows = shown_flows(big, limit=len(result.flows))
    wanted = {f.id for f in result.flows if f.kind is FlowKind.FRONTEND_CALL}
    wanted |= {f.id for f in result.flows if f.label is not None and f.label.is_failure}
    assert wanted and wanted <= {f.id for f in rows}
