"""Open the HTML report in real headless Chromium (Debian's, via Playwright; no download)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pcapflow.report import render
from pcapflow.report.browser import chromium_context, chromium_missing
from pcapflow.report.example import hairpin_example

expect = pytest.importorskip("playwright.sync_api", reason="playwright not installed").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


REAL = Path(__file__).resolve().parent / "golden" / "hairpin-two-backends-web01" / "report.html"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render(hairpin_example(), "html"), encoding="utf-8")
    return path


@pytest.mark.skipif(not REAL.exists(), reason=f"golden report missing: {REAL}")
def test_report_of_a_real_capture_renders_offline_and_prints(browser: Any, tmp_path: Path) -> None:
    page_file = tmp_path / "real.html"
    page_file.write_bytes(REAL.read_bytes())
    page, requests = load(browser, page_file)
    assert requests == [page_file.as_uri()]
    assert page.locator(".verdict .big").inner_text().lower() == "hairpin failure"
    assert page.locator("#F1 svg.ladder g.arrow").count() >= 2
    assert "sudo ip addr add 10.2.1.100/32 dev lo" in page.locator("#F1").inner_text()
    page.emulate_media(media="print")
    assert not page.locator("button.copy").first.is_visible()
    assert page.locator("#F1 svg.ladder").first.is_visible()
    assert page.pdf()[:4] == b"%PDF"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium (fresh temporary profile) for the whole module."""
    with chromium_context() as context:
        yield context


def load(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """A new page showing ``path``, and every URL it requested."""
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("networkidle")
    return page, requests


@pytest.fixture(scope="module")
def opened(browser: Any, report: Path) -> tuple[Any, list[str]]:
    """The example report, loaded once."""
    return load(browser, report)


def test_page_requests_nothing_but_itself(opened: tuple[Any, list[str]], report: Path) -> None:
    _, requests = opened
    assert requests == [report.as_uri()]


def test_summary_ladder_and_fixes_are_rendered(opened: tuple[Any, list[str]]) -> None:
    page, _ = opened
    assert page.locator(".verdict .big").inner_text().lower() == "hairpin failure"
    ladder = page.locator("#F1 svg.ladder").first
    assert ladder.is_visible()
    assert ladder.locator("g.arrow").count() == 6
    box = ladder.bounding_box()
    assert box is not None and box["height"] > 200
    commands = page.locator("#F1 pre.commands").all_inner_texts()
    assert any("sudo ip addr add 10.2.1.100/32 dev lo" in c for c in commands)


def test_flow_table_filters_and_sorts(opened: tuple[Any, list[str]]) -> None:
    page, _ = opened
    page.select_option("#flow-label", "hairpin_self")
    assert page.locator("#flows tbody tr:visible").count() == 6
    assert page.locator("#flow-count").inner_text() == "6"
    page.select_option("#flow-label", "")
    page.fill("#flow-filter", "40007")
    assert page.locator("#flows tbody tr:visible").count() == 1
    page.fill("#flow-filter", "")
    page.locator("#flows th", has_text="frames").click()
    page.locator("#flows th", has_text="frames").click()  # descending
    first = page.locator("#flows tbody tr").first.locator("td").nth(11).inner_text()
    assert first == "51-58"


def test_copy_button_copies_the_commands(opened: tuple[Any, list[str]]) -> None:
    page, _ = opened
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    button = page.locator("#F1 button.copy").first
    button.click()
    expect(button).to_have_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("az network lb rule update")


def test_batch_index_loads_offline_and_filters_by_verdict(browser: Any, tmp_path: Path) -> None:
    from pcapflow.batch import Outcome, write_index

    write_index(tmp_path, [
        Outcome("a", ("a.pcap",), "hairpin failure", {"hairpin_self": 3}, 1, ("a.html",)),
        Outcome("b", ("b.pcap",), "healthy", {"ok": 4}, 0, ("b.html",)),
        Outcome("c", ("c.pcap",), None, error="c.pcap: not a capture file"),
    ])  # fmt: skip
    index = tmp_path / "index.html"
    page, requests = load(browser, index)
    assert requests == [index.as_uri()]
    assert page.locator("a[href='a.html']").count() == 1
    page.select_option("#flow-label", "error")
    assert page.locator("#flows tbody tr:visible").inner_text().count("not a capture file") == 1
