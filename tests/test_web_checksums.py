"""The checksum policy over real HTTP: `pcapflow serve --validate-checksums` reads uploads with
that policy unless the upload chooses another (form field ``checksums``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web_support import Server, running, wait_finished

TRACES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "zeek" / "Traces"
SYN_BAD = TRACES / "tcp" / "syn-bad.pcap"  # one SYN whose TCP checksum is wrong (not offload)
LOCALHOST = TRACES / "chksums" / "localhost-bad-chksum.pcap"  # 6 of 10 left for offload
pytestmark = pytest.mark.skipif(not SYN_BAD.exists(), reason="Zeek corpus not available")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("web-checksums") / "data"
    with running(data, workers=1, extra=("--validate-checksums",)) as srv:
        yield srv


def analysed(server: Server, capture: Path, **data: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Upload ``capture`` with the form ``data``; the finished job and its JSON report."""
    with server.client() as client:
        files = [("captures", (capture.name, capture.read_bytes(), "application/octet-stream"))]
        created = client.post("/api/v1/analyses", files=files, data=data)
        assert created.status_code == 202, created.text
        job = wait_finished(client, created.json()["id"])
        assert job["status"] == "done", job["error"]
        report: dict[str, Any] = client.get(job["links"]["results"]["json"]).json()
    return job, report


def test_the_servers_policy_reads_an_upload_that_chooses_none(server: Server) -> None:
    job, report = analysed(server, LOCALHOST)
    assert job["checksums"] == "verify"
    assert len(report["flows"]) == 2  # the offloaded checksums keep their packets out too
    assert report["notes"][0].startswith("checksum policy 'verify' (--validate-checksums)")


@pytest.mark.parametrize(
    ("capture", "policy", "histories"),
    [
        (LOCALHOST, "offload-aware", ["ShADadFf"]),
        (LOCALHOST, "ignore", ["ShADadFf"]),
        (SYN_BAD, "offload-aware", ["C"]),
        (SYN_BAD, "ignore", ["S"]),
        (SYN_BAD, "verify", ["C"]),
    ],
)
def test_an_upload_may_choose_its_policy(
    server: Server, capture: Path, policy: str, histories: list[str]
) -> None:
    job, report = analysed(server, capture, checksums=policy)
    assert job["checksums"] == policy
    assert [flow["history"] for flow in report["flows"]] == histories
    named = [n for n in report["notes"] if n.startswith("checksum policy")]
    assert len(named) == (policy != "offload-aware")


def test_a_hostile_policy_is_a_one_line_400_and_queues_nothing(server: Server) -> None:
    with server.client() as client:
        before = client.get("/api/v1/analyses").json()["total"]
        files = [("captures", (SYN_BAD.name, SYN_BAD.read_bytes(), "application/octet-stream"))]
        for value in ("sometimes", "ignore\nverify", "\x1b[31mred", "x" * 5000):
            answer = client.post("/api/v1/analyses", files=files, data={"checksums": value})
            assert answer.status_code == 400, (value, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "bad_request" and error["message"].isprintable()
        assert client.get("/api/v1/analyses").json()["total"] == before
