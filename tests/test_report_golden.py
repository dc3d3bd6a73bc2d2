"""Golden files: every format, byte for byte, for the example and for real lab captures.

After an intended change, regenerate with ``python -m pcapflow.report.golden`` and review the diff.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from pcapflow.model.result import AnalysisResult
from pcapflow.report.example import hairpin_example
from pcapflow.report.golden import CASES, EXAMPLE, REPO, case_result, outputs
from pcapflow.report.json_ import schema

NAMES = [EXAMPLE, *(c.name for c in CASES)]


def _missing(name: str) -> str | None:
    case = next((c for c in CASES if c.name == name), None)
    absent = [p for p in (case.captures + case.lb if case else ()) if not (REPO / p).exists()]
    return f"sample captures missing: {absent}" if absent else None


@pytest.fixture(scope="module")
def results() -> dict[str, AnalysisResult]:
    """Each case analysed once, from the repository root (paths in the output are relative)."""
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO)
    try:
        found = {EXAMPLE: hairpin_example()}
        for case in CASES:
            if _missing(case.name) is None:
                found[case.name] = case_result(case)
        return found
    finally:
        mp.undo()


@pytest.mark.parametrize("name", NAMES)
def test_reports_match_the_golden_files(name: str, results: dict[str, AnalysisResult]) -> None:
    if name not in results:
        pytest.skip(str(_missing(name)))
    for path, content in outputs(name, results[name]).items():
        golden = REPO / path
        assert golden.exists(), f"{path} missing: run python -m pcapflow.report.golden"
        assert golden.read_text(encoding="utf-8") == content, f"{path} differs"


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_analysing_again_gives_identical_bytes(
    name: str, results: dict[str, AnalysisResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    if name not in results:
        pytest.skip(str(_missing(name)))
    monkeypatch.chdir(REPO)
    again = case_result(next(c for c in CASES if c.name == name))
    assert outputs(name, again) == outputs(name, results[name])


@pytest.mark.parametrize("name", NAMES)
def test_golden_json_validates_against_the_schema(name: str) -> None:
    path = REPO / "tests" / "golden" / name / "report.json"
    if not path.exists():
        pytest.skip(f"{path} not generated")
    jsonschema.validate(json.loads(path.read_text()), schema(), cls=jsonschema.Draft202012Validator)


def test_real_hairpin_capture_report_says_what_the_lab_recorded() -> None:
    truth = json.loads(
        (REPO / "sample_captures/hairpin-two-backends/ground_truth.json").read_text()
    )
    expected: dict[str, int] = {}
    for attempt in truth["attempts"]:
        if attempt["client"] == "10.2.1.4":
            expected[attempt["expected_label"]] = expected.get(attempt["expected_label"], 0) + 1
    report = json.loads((REPO / "tests/golden/hairpin-two-backends-web01/report.json").read_text())
    assert report["summary"]["by_kind"]["frontend_call"] == expected
    assert report["summary"]["verdict"] == "hairpin failure"


def test_real_capture_judges_probes_and_member_legs_as_the_lab_recorded() -> None:
    """web01's capture alone: the client's calls that the balancer sent to web01 are member legs
    (the client was not captured), labelled as the lab recorded the client's attempt."""
    truth = json.loads(
        (REPO / "sample_captures/hairpin-two-backends/ground_truth.json").read_text()
    )
    attempts = {(a["client"], a["client_port"]): a["expected_label"] for a in truth["attempts"]}
    probes = {p["member"]: p["expected_label"] for p in truth["probes"]}
    report = json.loads((REPO / "tests/golden/hairpin-two-backends-web01/report.json").read_text())
    legs = [f for f in report["flows"] if f["kind"] == "member_leg"]
    assert legs and all(f["role"] == "direct" and f["rule"] for f in legs)
    for leg in legs:
        assert leg["label"] == attempts[(leg["orig_h"], leg["orig_p"])]
        assert "not captured" in leg["note"] and leg["rule"] in leg["note"]
    checks = [f for f in report["flows"] if f["kind"] == "health_probe"]
    assert checks and all(f["label"] == probes[f["resp_h"]] for f in checks)
    assert all(f["label"] is not None for f in report["flows"] if f["proto"] != "icmp")


def test_golden_html_of_a_real_capture_is_self_contained() -> None:
    html = (REPO / "tests/golden/hairpin-two-backends-web01/report.html").read_text()
    assert "<link" not in html and " src=" not in html and " href=" not in html
    assert html.count('<svg class="ladder"') >= 2


def test_no_golden_file_holds_a_machine_specific_path() -> None:
    for path in (REPO / "tests" / "golden").rglob("report.*"):
        text = path.read_text(encoding="utf-8")
        assert str(REPO) not in text and "/tmp/" not in text, path
