"""Upload plumbing in-process: magic bytes, the streaming multipart receiver, guards, error shapes.

The app runs without its lifespan here (no worker processes): these tests check what happens
between the socket and the job row.  Real-HTTP tests with workers are in test_web_api.py.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from test_web_support import gzipped, hairpin_pcap

from pcapflow.model.checksums import CHECKSUM_POLICIES
from pcapflow.web.app import create_app
from pcapflow.web.errors import WebError
from pcapflow.web.settings import ServeSettings, parse_size
from pcapflow.web.sniff import CAPTURE_MAGICS, CaptureSniffer, NotACapture, kind_of
from pcapflow.web.store import JobStore, Status
from pcapflow.web.upload import Submission, display_name, receive

PCAPNG_HEAD = b"\x0a\x0d\x0d\x0a" + b"\x1c\x00\x00\x00" + b"\x4d\x3c\x2b\x1a"

# ---- magic bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "fmt", "ext"),
    [
        (b"\xd4\xc3\xb2\xa1\x02\x00", "pcap", "pcap"),
        (b"\xa1\xb2\xc3\xd4\x00\x02", "pcap", "pcap"),
        (b"\x4d\x3c\xb2\xa1\x02\x00", "pcap-ns", "pcap"),
        (b"\xa1\xb2\x3c\x4d\x00\x02", "pcap-ns", "pcap"),
        (PCAPNG_HEAD, "pcapng", "pcapng"),
        (gzipped(b"\xd4\xc3\xb2\xa1" + bytes(20)), "gzip+pcap", "pcap.gz"),
        (gzipped(PCAPNG_HEAD), "gzip+pcapng", "pcapng.gz"),
    ],
)
def test_captures_are_recognised_by_their_first_bytes(head: bytes, fmt: str, ext: str) -> None:
    kind = kind_of(head)
    assert kind is not None and (kind.format, kind.extension) == (fmt, ext)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"version: 1\nload_balancers: []\n", "starts with 76 65 72 73"),
        (b"%PDF-1.7 ...", "starts with 25 50 44 46"),
        (gzipped(b"just some text"), "gzip file whose content is not a capture"),
        (b"\x1f\x8b\x08\x00garbage-garbage-garbage", "cannot be decompressed"),
    ],
)
def test_other_content_is_refused_whatever_its_name(data: bytes, says: str) -> None:
    with pytest.raises(NotACapture, match=says):
        CaptureSniffer().feed(data)


def test_a_too_short_file_is_refused_at_its_end() -> None:
    sniffer = CaptureSniffer()
    assert sniffer.feed(b"\xd4\xc3") is None
    with pytest.raises(NotACapture, match="only 2 bytes"):
        sniffer.finish()


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=8))
def test_sniffing_never_crashes_and_does_not_depend_on_chunking(data: bytes, step: int) -> None:
    def verdict(chunks: list[bytes]) -> str:
        sniffer = CaptureSniffer()
        try:
            for chunk in chunks:
                if sniffer.feed(chunk) is not None:
                    break
            return sniffer.finish().format
        except NotACapture:
            return "refused"

    whole = verdict([data])
    assert verdict([data[i : i + step] for i in range(0, len(data), step)]) == whole
    assert (whole != "refused") == (data[:4] in CAPTURE_MAGICS)


@given(st.sampled_from(sorted(CAPTURE_MAGICS)), st.binary(max_size=200))
def test_gzip_of_any_capture_is_recognised(magic: bytes, rest: bytes) -> None:
    kind = kind_of(gzip.compress(magic + rest))
    assert kind is not None and kind.format == "gzip+" + CAPTURE_MAGICS[magic][0]


def test_sizes_parse_with_binary_units() -> None:
    assert [parse_size(s) for s in ("100", "2K", "1.5M", "1G", "512 MiB")] == [
        100,
        2048,
        1572864,
        1 << 30,
        512 << 20,
    ]
    with pytest.raises(Exception, match="invalid size"):
        parse_size("lots")


# ---- the streaming receiver ------------------------------------------------------------------


def multipart(files: list[tuple[str, Any]], data: dict[str, str] | None = None) -> httpx.Request:
    return httpx.Request("POST", "http://x/", files=files, data=data or {})


async def chunks_of(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def receive_request(
    request: httpx.Request, staging: Path, *, max_upload: int = 1 << 20, chunk: int = 97
) -> Submission:
    body = request.read()
    length = request.headers.get("content-length")

    async def go() -> Submission:
        return await receive(
            request.headers["content-type"], length, chunks_of(body, chunk), staging, max_upload
        )

    return anyio.run(go)


def test_captures_stream_to_generated_names_whatever_they_are_called(tmp_path: Path) -> None:
    pcap = hairpin_pcap()
    request = multipart(
        [
            ("captures", ("../../etc/passwd", pcap, "text/plain")),
            ("captures", ("C:\\evil\\web02.pcapng.gz", gzipped(PCAPNG_HEAD), "x/y")),
            ("lb", ("lb.yaml", b"version: 1\n", "application/yaml")),
        ],
        {"os": "Linux"},
    )
    got = receive_request(request, tmp_path)
    assert got.staging.parent == tmp_path
    on_disk = sorted(p.name for p in got.staging.iterdir())
    assert on_disk == ["capture-1.pcap", "capture-2.pcapng.gz"]
    assert (got.staging / "capture-1.pcap").read_bytes() == pcap
    assert [(c.name, c.file, c.format, c.size) for c in got.captures] == [
        ("passwd", "capture-1.pcap", "pcap", len(pcap)),
        ("web02.pcapng.gz", "capture-2.pcapng.gz", "gzip+pcapng", len(gzipped(PCAPNG_HEAD))),
    ]
    assert (got.lb_name, got.lb_text, got.os) == ("lb.yaml", "version: 1\n", "linux")


def test_pasted_config_and_os_auto(tmp_path: Path) -> None:
    request = multipart(
        [("captures", ("a.pcap", hairpin_pcap(), "x/y"))],
        {"lb_text": "  version: 1  ", "os": "auto", "lb_format": "auto"},
    )
    got = receive_request(request, tmp_path)
    assert (got.lb_name, got.lb_text, got.os, got.lb_format) == (
        "<pasted>",
        "version: 1",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("files", "data", "status", "code"),
    [
        ([("captures", ("notes.pcap", b"hello, world", "x/y"))], {}, 415, "not_a_capture"),
        ([("captures", ("a.pcap", hairpin_pcap(), "x/y"))], {"what": "x"}, 400, "bad_request"),
        ([("captures", ("a.pcap", hairpin_pcap(), "x/y"))], {"os": "beos"}, 400, "bad_request"),
        ([("captures", ("a.pcap", hairpin_pcap(), "x/y"))], {"os": "x" * 99}, 400, "bad_request"),
        (
            [("captures", ("a.pcap", hairpin_pcap(), "x/y"))],
            {"checksums": "sometimes"},
            400,
            "bad_request",
        ),
        (
            [("captures", ("a.pcap", hairpin_pcap(), "x/y"))],
            {"checksums": "ignore" * 100},
            400,
            "bad_request",
        ),
        ([("lb", ("lb.yaml", b"version: 1", "x/y"))], {}, 400, "bad_request"),
        (
            [("captures", ("a.pcap", hairpin_pcap(), "x/y")), ("lb", ("l", b"v: 1", "x/y"))],
            {"lb_text": "v: 1"},
            400,
            "bad_request",
        ),
        ([("captures", ("big.pcap", hairpin_pcap() * 40, "x/y"))], {}, 413, "payload_too_large"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing_on_disk(
    tmp_path: Path, files: list[tuple[str, Any]], data: dict[str, str], status: int, code: str
) -> None:
    request = multipart(files, data)
    with pytest.raises(WebError) as refused:
        receive_request(request, tmp_path, max_upload=4096)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert list(tmp_path.iterdir()) == []


def test_the_size_limit_holds_without_content_length(tmp_path: Path) -> None:
    """A chunked body is cut off as soon as it crosses the limit, not after it ends."""
    request = multipart([("captures", ("big.pcap", hairpin_pcap() * 1000, "x/y"))])
    body = request.read()
    consumed = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal consumed
        async for chunk in chunks_of(body, 1024):
            consumed += len(chunk)
            yield chunk

    async def go() -> Submission:
        return await receive(request.headers["content-type"], None, counted(), tmp_path, 8192)

    with pytest.raises(WebError) as refused:
        anyio.run(go)
    assert refused.value.status == 413
    assert consumed <= 8192 + 1024 < len(body)
    assert list(tmp_path.iterdir()) == []


def request_type(body: bytes) -> str:
    boundary = body.split(b"\r\n", 1)[0].removeprefix(b"--").decode()
    return f"multipart/form-data; boundary={boundary}"


def test_a_truncated_body_is_refused(tmp_path: Path) -> None:
    body = multipart([("captures", ("a.pcap", hairpin_pcap(), "x/y"))]).read()
    request = httpx.Request(
        "POST",
        "http://x/",
        content=body[:-30],
        headers={"content-type": request_type(body)},
    )
    with pytest.raises(WebError):
        receive_request(request, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_display_names_keep_only_the_last_component() -> None:
    assert display_name(b"../../x/y.pcap") == "y.pcap"
    assert display_name("caf\u00e9\x07.pcap".encode()) == "caf\u00e9.pcap"
    assert display_name(b"") == "unnamed"


# ---- the app in-process (no workers) ---------------------------------------------------------


class InProcessClient:
    """A synchronous client for the ASGI app in this process (no lifespan: no workers)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1:8000", cookies=self.cookies
            ) as client:
                answer = await client.request(method, url, **kw)
                self.cookies.update(client.cookies)
                return answer

        return anyio.run(go)

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)


def app_client(tmp_path: Path, **kw: Any) -> InProcessClient:
    settings = ServeSettings(data_dir=tmp_path / "data", workers=0, **kw)
    return InProcessClient(create_app(settings))


def test_an_accepted_upload_is_a_queued_job_before_the_answer(tmp_path: Path) -> None:
    client = app_client(tmp_path)
    answer = client.post(
        "/api/v1/analyses", files=[("captures", ("web01-eth0.pcap", hairpin_pcap(), "x/y"))]
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == f"/api/v1/analyses/{job['id']}"
    assert (job["status"], job["queue_position"], job["captures"][0]["name"]) == (
        "queued",
        1,
        "web01-eth0.pcap",
    )
    stored = JobStore(tmp_path / "data" / "pcapflow.sqlite3").get(job["id"])
    assert stored is not None and stored.status is Status.QUEUED
    listing = client.get("/api/v1/analyses").json()
    assert [a["id"] for a in listing["analyses"]] == [job["id"]] and listing["total"] == 1


def test_a_bad_config_is_refused_at_upload_with_the_loaders_message(tmp_path: Path) -> None:
    client = app_client(tmp_path)
    answer = client.post(
        "/api/v1/analyses",
        files=[("captures", ("a.pcap", hairpin_pcap(), "x/y"))],
        data={"lb_text": "version: 1\nload_balancers: [{name: x, frontends: 7}]\n"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_config"
    assert answer.json()["error"]["message"]
    assert list((tmp_path / "data" / "jobs").iterdir()) == []


def test_api_errors_are_json_and_page_errors_are_pages(tmp_path: Path) -> None:
    client = app_client(tmp_path)
    api = client.get("/api/v1/analyses/0123456789abcdef")
    assert api.status_code == 404
    assert api.json() == {
        "error": {"code": "not_found", "message": "no analysis '0123456789abcdef'"}
    }
    assert client.get("/api/v1/nothing-here").json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/analyses?limit=0").json()["error"]["code"] == "validation_error"
    page = client.get("/analyses/0123456789abcdef")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no analysis" in page.text and "<h1>" in page.text


def test_the_upload_page_form_posts_without_javascript(tmp_path: Path) -> None:
    client = app_client(tmp_path)
    assert 'enctype="multipart/form-data"' in client.get("/").text
    answer = client.post(
        "/analyses",
        files=[("captures", ("a.pcap", hairpin_pcap(), "x/y"))],
        data={"os": "windows"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "queued" in page.text and "a.pcap" in page.text
    refused = client.post("/analyses", files=[("captures", ("a.txt", b"text!", "x/y"))])
    assert refused.status_code == 415 and "is not a packet capture" in refused.text
    assert refused.headers["content-type"].startswith("text/html")


def test_an_oversized_form_post_gets_a_readable_page(tmp_path: Path) -> None:
    client = app_client(tmp_path, max_upload=4096)
    big = hairpin_pcap() * 100
    answer = client.post("/analyses", files=[("captures", ("big.pcap", big, "x/y"))])
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "larger than the limit of 4 KiB" in answer.text


def test_a_token_guards_api_and_pages_and_login_sets_a_cookie(tmp_path: Path) -> None:
    client = app_client(tmp_path, token="s3cret")
    refused = client.get("/api/v1/analyses")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/openapi.json").status_code == 401
    wrong = client.get("/api/v1/analyses", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    good = client.get("/api/v1/analyses", headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200
    page = client.get("/analyses", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/analyses"
    assert client.post("/login", data={"token": "nope"}).status_code == 401
    login = client.post(
        "/login", data={"token": "s3cret", "next": "/analyses"}, follow_redirects=False
    )
    assert login.status_code == 303 and login.headers["location"] == "/analyses"
    assert "s3cret" not in login.headers["set-cookie"]
    assert "httponly" in login.headers["set-cookie"].lower()
    assert client.get("/analyses").status_code == 200  # the cookie now does


def test_cross_site_posts_are_refused(tmp_path: Path) -> None:
    client = app_client(tmp_path)
    answer = client.post(
        "/api/v1/analyses",
        files=[("captures", ("a.pcap", hairpin_pcap(), "x/y"))],
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_the_openapi_document_describes_the_upload(tmp_path: Path) -> None:
    doc = app_client(tmp_path).get("/api/v1/openapi.json").json()
    body = doc["paths"]["/api/v1/analyses"]["post"]["requestBody"]
    assert "captures" in body["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"/api/v1/analyses/{job_id}", "/api/v1/analyses/{job_id}/result/{fmt}"} <= set(
        doc["paths"]
    )


# ---- the checksum policy -------------------------------------------------------------------


def one_capture() -> list[tuple[str, Any]]:
    return [("captures", ("a.pcap", hairpin_pcap(), "x/y"))]


@pytest.mark.parametrize(
    ("sent", "policy"),
    [
        (None, None),
        ("", None),
        ("default", None),
        (" IGNORE ", "ignore"),
        ("verify", "verify"),
        ("offload-aware", "offload-aware"),
    ],
)
def test_the_upload_may_choose_a_checksum_policy(
    tmp_path: Path, sent: str | None, policy: str | None
) -> None:
    data = {} if sent is None else {"checksums": sent}
    assert receive_request(multipart(one_capture(), data), tmp_path).checksums == policy


@given(st.text(max_size=40))
def test_any_other_checksums_value_is_a_one_line_400(value: str) -> None:
    if value.strip().lower() in ("", "default", *CHECKSUM_POLICIES):
        return
    import tempfile

    with tempfile.TemporaryDirectory() as staging:
        with pytest.raises(WebError) as refused:
            receive_request(multipart(one_capture(), {"checksums": value}), Path(staging))
        assert list(Path(staging).iterdir()) == []
    assert (refused.value.status, refused.value.code) == (400, "bad_request")
    message = refused.value.message
    assert message.startswith(("checksums must be", "form field 'checksums' is longer"))
    assert message.isprintable()  # one line: no newline, no terminal escape


def test_the_servers_policy_is_the_default_and_an_upload_may_choose_another(
    tmp_path: Path,
) -> None:
    client = app_client(tmp_path, checksums="verify")
    form = client.get("/").text
    assert '<select id="checksums" name="checksums">' in form
    assert '<option value="verify" selected>' in form and "(server default)" in form
    chosen = {}
    for sent in (None, "ignore", "offload-aware"):
        data = {} if sent is None else {"checksums": sent}
        answer = client.post("/api/v1/analyses", files=one_capture(), data=data)
        assert answer.status_code == 202, answer.text
        chosen[sent] = answer.json()["checksums"]
        stored = JobStore(tmp_path / "data" / "pcapflow.sqlite3").get(answer.json()["id"])
        assert stored is not None and stored.checksums == chosen[sent]
    assert chosen == {None: "verify", "ignore": "ignore", "offload-aware": "offload-aware"}
    hostile = client.post(
        "/api/v1/analyses", files=one_capture(), data={"checksums": "ignore\r\nX-Evil: 1"}
    )
    assert hostile.status_code == 400
    message = hostile.json()["error"]["message"]
    assert message == "checksums must be offload-aware, ignore, verify or default, not " + repr(
        "ignore\r\nx-evil: 1"
    )
    assert JobStore(tmp_path / "data" / "pcapflow.sqlite3").count() == 3


def test_the_form_posts_a_policy_without_javascript_and_the_job_page_shows_it(
    tmp_path: Path,
) -> None:
    client = app_client(tmp_path)
    assert '<option value="offload-aware" selected>' in client.get("/").text
    answer = client.post(
        "/analyses", files=one_capture(), data={"checksums": "ignore"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert '<td id="checksums">ignore</td>' in client.get(answer.headers["location"]).text
    refused = client.post("/analyses", files=one_capture(), data={"checksums": "on"})
    assert refused.status_code == 400 and "checksums must be" in refused.text


def test_the_form_offers_every_policy() -> None:
    from pcapflow.web.pages import CHECKSUM_CHOICES

    assert [value for value, _ in CHECKSUM_CHOICES] == list(CHECKSUM_POLICIES)


def test_the_openapi_document_lists_the_policies(tmp_path: Path) -> None:
    doc = app_client(tmp_path).get("/api/v1/openapi.json").json()
    body = doc["paths"]["/api/v1/analyses"]["post"]["requestBody"]
    field = body["content"]["multipart/form-data"]["schema"]["properties"]["checksums"]
    assert field["enum"] == [*CHECKSUM_POLICIES, "default"]
