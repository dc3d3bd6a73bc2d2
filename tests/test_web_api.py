"""The JSON API over real HTTP: a `pcapflow serve` subprocess on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_web_support import HAIRPIN, Server, hairpin_files, running, wait_finished

TOKEN = "test-token-7f3a"
LIMIT = 1 << 20  # --max-upload-size 1M


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (HAIRPIN / "web01-eth0.pcap").exists():
        pytest.skip("sample_captures/hairpin-two-backends is missing")
    data = tmp_path_factory.mktemp("web-api") / "data"
    with running(data, token=TOKEN, workers=1, extra=("--max-upload-size", "1M")) as srv:
        yield srv


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_create_poll_fetch_every_format_list_and_delete(client: httpx.Client) -> None:
    created = client.post("/api/v1/analyses", files=hairpin_files(), data={"os": "linux"})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    assert created.json()["status"] in ("queued", "running")

    job = wait_finished(client, job_id)
    assert job["status"] == "done", job["error"]
    assert job["verdict"] == "hairpin failure"
    hairpin = [f for f in job["findings"] if f["label"] == "hairpin_self"]
    assert hairpin and hairpin[0]["remediations"], job["findings"]
    assert job["captures"] == [
        {"name": "web01-eth0.pcap", "file": "capture-1.pcap", "size": 15228, "format": "pcap"}
    ]
    assert job["lb"] == {"name": "lb.yaml", "format": None}

    formats = job["links"]["results"]
    assert {"html", "json", "markdown", "csv"} <= set(formats)
    pages = {fmt: client.get(url) for fmt, url in formats.items()}
    for fmt, answer in pages.items():
        assert answer.status_code == 200, (fmt, answer.text[:200])
    result = pages["json"].json()
    assert "hairpin_self" in json.dumps(result)
    assert pages["json"].headers["content-type"].startswith("application/json")
    assert pages["html"].headers["content-type"].startswith("text/html")
    assert "sandbox" in pages["html"].headers["content-security-policy"]
    assert "<html" in pages["html"].text.lower() and "hairpin_self" in pages["html"].text
    assert "hairpin_self" in pages["markdown"].text
    rows = list(csv.reader(io.StringIO(pages["csv"].text)))
    assert len(rows) > 1 and any("hairpin_self" in row for row in rows)

    download = client.get(formats["csv"], params={"download": 1})
    assert download.headers["content-disposition"].startswith("attachment")
    assert f"pcapflow-{job_id}.csv" in download.headers["content-disposition"]

    listed = client.get("/api/v1/analyses").json()
    assert job_id in [a["id"] for a in listed["analyses"]]

    assert client.delete(f"/api/v1/analyses/{job_id}").status_code == 204
    gone = client.get(f"/api/v1/analyses/{job_id}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert client.get(formats["json"]).status_code == 404
    assert client.delete(f"/api/v1/analyses/{job_id}").status_code == 404


def test_the_config_may_be_pasted_and_the_name_of_a_capture_does_not_matter(
    client: httpx.Client,
) -> None:
    capture = (HAIRPIN / "web01-eth0.pcap").read_bytes()
    created = client.post(
        "/api/v1/analyses",
        files=[("captures", ("notes.txt", capture, "text/plain"))],
        data={"lb_text": (HAIRPIN / "lb.yaml").read_text(), "lb_format": "yaml"},
    )
    assert created.status_code == 202, created.text
    job = wait_finished(client, created.json()["id"])
    assert job["status"] == "done" and "hairpin_self" in {f["label"] for f in job["findings"]}
    assert job["lb"] == {"name": "<pasted>", "format": "yaml"}


def test_several_captures_make_one_analysis(client: httpx.Client) -> None:
    names = ("web01-eth0.pcap", "web02-eth0.pcapng", "lb-web01-eth0.pcap")
    files = [("captures", (n, (HAIRPIN / n).read_bytes(), "x/y")) for n in names]
    files.append(("lb", ("lb.yaml", (HAIRPIN / "lb.yaml").read_bytes(), "x/y")))
    created = client.post("/api/v1/analyses", files=files)
    assert created.status_code == 202, created.text
    job = wait_finished(client, created.json()["id"])
    assert job["status"] == "done", job["error"]
    assert [(c["name"], c["file"]) for c in job["captures"]] == [
        ("web01-eth0.pcap", "capture-1.pcap"),
        ("web02-eth0.pcapng", "capture-2.pcapng"),
        ("lb-web01-eth0.pcap", "capture-3.pcap"),
    ]
    result = client.get(job["links"]["results"]["json"]).json()
    assert len(result["captures"]) == 3
    assert "hairpin_self" in {f["label"] for f in job["findings"]}


def test_every_endpoint_requires_the_token(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        for method, path in [
            ("GET", "/api/v1/analyses"),
            ("GET", "/api/v1/health"),
            ("GET", "/api/v1/openapi.json"),
            ("GET", "/api/v1/analyses/0123456789abcdef/result/json"),
            ("DELETE", "/api/v1/analyses/0123456789abcdef"),
            ("POST", "/api/v1/analyses"),
        ]:
            answer = anonymous.request(method, path)
            assert answer.status_code == 401, (method, path)
            assert answer.json()["error"]["code"] == "unauthorized"
        for path in ("/", "/analyses", "/analyses/0123456789abcdef"):
            page = anonymous.get(path)
            assert page.status_code == 303 and page.headers["location"].startswith("/login")
        wrong = anonymous.get("/api/v1/analyses", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401


def test_an_oversized_upload_is_refused_with_413(client: httpx.Client) -> None:
    big = b"\xd4\xc3\xb2\xa1" + bytes(LIMIT + 1000)
    answer = client.post("/api/v1/analyses", files=[("captures", ("big.pcap", big, "x/y"))])
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "payload_too_large" and "1 MiB" in error["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        boundary = b"b0undary"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="captures"; '
        yield b'filename="big.pcap"\r\n\r\n\xd4\xc3\xb2\xa1'
        for _ in range(48):
            yield bytes(64 * 1024)
        yield b"\r\n--" + boundary + b"--\r\n"

    streamed = client.post(
        "/api/v1/analyses",
        content=chunked(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"


def test_413_comes_before_the_body_is_read(server: Server) -> None:
    """Announce 100 MB, send 1 KB: the answer arrives without the rest ever being sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = (
            "POST /api/v1/analyses HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {TOKEN}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {100 << 20}\r\n\r\n"
        )
        sock.sendall(head.encode() + bytes(1024))
        reply = ""
        while "}}" not in reply:  # headers and body may come in separate segments
            segment = sock.recv(65536).decode("latin-1")
            assert segment, f"connection closed after {reply!r}"
            reply += segment
    assert reply.startswith("HTTP/1.1 413")
    assert '"payload_too_large"' in reply


def test_a_file_that_is_not_a_capture_is_refused_by_its_content(client: httpx.Client) -> None:
    answer = client.post(
        "/api/v1/analyses",
        files=[("captures", ("trace.pcap", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "x/y"))],
    )
    assert answer.status_code == 415
    error = answer.json()["error"]
    assert (
        error["code"] == "not_a_capture"
        and "'trace.pcap' is not a packet capture" in error["message"]
    )


def test_a_corrupt_capture_fails_its_job_and_the_service_keeps_serving(
    client: httpx.Client, tmp_path: Path
) -> None:
    corrupt = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00"  # pcap magic, then the header stops
    created = client.post("/api/v1/analyses", files=[("captures", ("broken.pcap", corrupt, "x/y"))])
    assert created.status_code == 202
    job = wait_finished(client, created.json()["id"])
    assert job["status"] == "failed"
    assert job["error"].startswith("capture-1.pcap (broken.pcap): ")
    assert "\n" not in job["error"]
    answer = client.get(f"/api/v1/analyses/{job['id']}/result/json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "analysis_failed"

    page = client.get(f"/analyses/{job['id']}")
    assert page.status_code == 200 and "The analysis failed" in page.text

    after = client.post("/api/v1/analyses", files=hairpin_files())
    assert wait_finished(client, after.json()["id"])["status"] == "done"
    assert client.get("/api/v1/health").json()["workers"] == 1


def test_the_openapi_document_is_served(client: httpx.Client) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/api/v1/analyses"]
    assert "delete" in doc["paths"]["/api/v1/analyses/{job_id}"]
    job = doc["components"]["schemas"]["JobOut"]
    assert {"id", "status", "verdict", "findings", "error", "links"} <= set(job["properties"])
    listing = doc["paths"]["/api/v1/analyses"]["get"]["responses"]
    assert "HTTPValidationError" not in json.dumps(listing)  # errors keep one shape
