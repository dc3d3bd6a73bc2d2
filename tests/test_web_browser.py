"""End to end in the system's headless Chromium: log in, upload a capture and its config through
the page, and see the hairpin finding and its remediation on the report page.

Chromium is Debian's /usr/bin/chromium driven by Playwright (no browser download); the server
is a `pcapflow serve` subprocess on 127.0.0.1.  Set PCAPFLOW_WEB_SCREENSHOT=path to keep a
screenshot of the report page.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_web_support import HAIRPIN, Server, running

from pcapflow.report.browser import chromium_context, chromium_missing

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
    pytest.mark.skipif(
        not (HAIRPIN / "web01-eth0.pcap").exists(), reason="hairpin sample capture absent"
    ),
]
TOKEN = "browser-token-0c1d"
CAPTURE = HAIRPIN / "web01-eth0.pcap"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("web-browser") / "data", token=TOKEN) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_context(1200, 900) as context:
        yield context


def log_in(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/")
    assert "/login" in page.url
    page.fill("#token", TOKEN)
    page.click("#login")
    page.wait_for_url(f"{server.url}/")


@pytest.mark.timeout(90)
def test_upload_through_the_page_shows_the_hairpin_and_its_remediation(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page()
    log_in(page, server)
    page.set_input_files("#captures", str(CAPTURE))
    page.set_input_files("#lb", str(HAIRPIN / "lb.yaml"))
    page.select_option("#os", "linux")
    assert "web01-eth0.pcap" in page.inner_text("#chosen")
    page.click("#submit")
    page.wait_for_url(f"{server.url}/analyses/*")
    page.wait_for_selector("#findings", timeout=60_000)  # the page reloads when the job is done

    job_id = page.url.rsplit("/", 1)[1]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        job = api.get(f"/api/v1/analyses/{job_id}").json()
    hairpin = next(f for f in job["findings"] if f["label"] == "hairpin_self")
    remedy = hairpin["remediations"][0]["title"]

    findings = page.inner_text("#findings")
    assert "hairpin_self" in findings and hairpin["title"] in findings
    assert remedy in findings
    assert "hairpin failure" in page.inner_text(".verdict")

    report = page.frame_locator("iframe.report").locator("body")
    report.wait_for(timeout=20_000)
    shown = report.inner_text()  # rendered text only
    assert "hairpin_self" in shown and remedy in shown

    # full-page shots leave out-of-process (sandboxed) frames blank: scroll to the report
    page.locator("iframe.report").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shot = Path(os.environ.get("PCAPFLOW_WEB_SCREENSHOT", tmp_path / "report-page.png"))
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    page.goto(f"{server.url}/analyses")
    assert job_id in page.content() and "hairpin failure" in page.inner_text("table")
    page.close()


def test_captures_can_be_dropped_on_the_page(server: Server, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/")
    if "/login" in page.url:
        log_in(page, server)
    payload = base64.b64encode(CAPTURE.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "dropped-web01.pcap"));
            dt.items.add(new File([bytes], "dropped-again.pcap"));
            return dt;
        }""",
        payload,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    assert page.eval_on_selector("#captures", "el => el.files.length") == 2
    assert "dropped-again.pcap" in page.inner_text("#chosen")
    page.click("#submit")
    page.wait_for_url(f"{server.url}/analyses/*")
    page.wait_for_selector("#findings", timeout=60_000)
    assert "dropped-web01.pcap" in page.content()
    page.close()


def test_the_page_offers_the_servers_policy_and_sends_the_one_chosen(
    server: Server, browser: Any
) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/")
    if "/login" in page.url:
        log_in(page, server)
    assert page.eval_on_selector("#checksums", "el => el.value") == "offload-aware"
    page.set_input_files("#captures", str(CAPTURE))
    page.select_option("#checksums", "ignore")
    page.click("#submit")  # the script's upload (XMLHttpRequest with the form's data)
    page.wait_for_url(f"{server.url}/analyses/*")
    page.wait_for_selector("#findings", timeout=60_000)
    assert page.inner_text("#checksums") == "ignore"
    job_id = page.url.rsplit("/", 1)[1]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        assert api.get(f"/api/v1/analyses/{job_id}").json()["checksums"] == "ignore"
    page.close()
