"""Receive an analysis request: a multipart body streamed to disk, part by part, chunk by chunk.

The body is never held in memory: each chunk goes through python-multipart's streaming parser
straight into a file with a generated name in a private staging directory.  The size limit is
checked against ``Content-Length`` before anything is read, and again on every chunk (for chunked
bodies), so an oversized upload is refused with 413 as soon as it crosses the limit.  Captures
are recognised by their magic bytes while they stream in.

Form fields (the same for the page form and the API):

- ``captures``   one or more capture files (pcap, pcapng, gzip of either)
- ``lb``         optional load-balancer config file (any format pcapflow.lbconfig reads)
- ``lb_text``    optional config pasted as text (instead of ``lb``)
- ``lb_format``  optional config format name; empty or ``auto`` = detect
- ``os``         ``linux``, ``windows`` or ``auto`` (default)
- ``checksums``  the checksum policy, ``offload-aware``, ``ignore`` or ``verify``
                 (:mod:`pcapflow.model.checksums`); empty or ``default`` = the server's
                 (``pcapflow serve -C`` / ``--validate-checksums``)
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import (
    MultipartParser,
    MultipartState,
    parse_options_header,
)
from starlette.requests import ClientDisconnect

from pcapflow.model.checksums import CHECKSUM_POLICIES
from pcapflow.web.errors import WebError
from pcapflow.web.settings import format_size
from pcapflow.web.sniff import CaptureSniffer, NotACapture
from pcapflow.web.store import UploadedCapture

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_CAPTURES = 32
MAX_CONFIG = 1 << 20  # a load-balancer config is text that is parsed in memory anyway
CHOICE_FIELDS = {"lb_format": 64, "os": 16, "checksums": 32}  # a name: longer is a bad request
TEXT_FIELD_LIMITS = {"lb_text": MAX_CONFIG, **CHOICE_FIELDS}
FILE_FIELDS = ("captures", "lb")
OS_CHOICES = {"linux": "linux", "windows": "windows", "auto": None, "": None}
WRITE_BATCH = 256 * 1024  # bytes handed to the parser thread at a time


@dataclass(frozen=True, slots=True)
class Submission:
    """A fully received request: captures on disk in ``staging``, the rest as values."""

    staging: Path
    captures: tuple[UploadedCapture, ...]
    os: str | None
    lb_text: str | None = None
    lb_name: str | None = None  # the config's file name(s), "<pasted>", or None
    lb_format: str | None = None
    # several config files read together (one platform's CLI outputs): (name, text) each;
    # empty when the config is one file or pasted text (``lb_text``)
    lb_files: tuple[tuple[str, str], ...] = ()
    checksums: str | None = None  # a checksum policy's name; None = the server's default


def display_name(raw: bytes) -> str:
    """A file name as sent, made safe to show: last path component, no control characters."""
    text = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    text = re.sub(r"[\x00-\x1f\x7f]", "", text).strip()
    return text[:200] or "unnamed"


@dataclass
class _Part:
    form_field: str
    filename: bytes | None
    size: int = 0
    sink: BinaryIO | None = None  # open file for a capture
    path: Path | None = None
    sniffer: CaptureSniffer | None = None
    data: bytearray = field(default_factory=bytearray)  # small fields and the config


class FormReceiver:
    """python-multipart callbacks: each part to a generated file (captures) or a small buffer."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.captures: list[UploadedCapture] = []
        self.fields: dict[str, str] = {}
        self.configs: list[tuple[str, bytes]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._part: _Part | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def close(self) -> None:
        if self._part is not None and self._part.sink is not None:
            self._part.sink.close()

    # ---- callbacks -------------------------------------------------------------------------
    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        filename = options.get(b"filename")
        if name not in FILE_FIELDS and name not in TEXT_FIELD_LIMITS:
            known = ", ".join((*FILE_FIELDS, *TEXT_FIELD_LIMITS))
            raise WebError(400, "bad_request", f"unknown form field {name!r} (known: {known})")
        if name in FILE_FIELDS and filename is None:
            raise WebError(400, "bad_request", f"form field {name!r} must be a file upload")
        self._part = _Part(name, filename)
        if name == "captures":
            self._open_capture(self._part)

    def _open_capture(self, part: _Part) -> None:
        if len(self.captures) >= MAX_CAPTURES:
            raise WebError(400, "bad_request", f"too many captures (at most {MAX_CAPTURES})")
        part.path = self.staging / f"upload-{len(self.captures) + 1}"
        part.sink = part.path.open("xb")
        part.sniffer = CaptureSniffer()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        chunk = data[start:end]
        part.size += len(chunk)
        if part.sink is None:
            self._buffer(part, chunk)
            return
        assert part.sniffer is not None
        try:
            part.sniffer.feed(chunk)
        except NotACapture as exc:
            raise _not_a_capture(part, exc) from None
        part.sink.write(chunk)

    def _buffer(self, part: _Part, chunk: bytes) -> None:
        limit = TEXT_FIELD_LIMITS.get(part.form_field, MAX_CONFIG)
        if part.size > limit and part.form_field in CHOICE_FIELDS:
            message = f"form field {part.form_field!r} is longer than any of its values"
            raise WebError(400, "bad_request", f"{message} ({limit} bytes at most)")
        if part.size > limit:
            raise WebError(
                413,
                "payload_too_large",
                f"form field {part.form_field!r} is larger than {limit} bytes",
            )
        part.data += chunk

    def _part_end(self) -> None:
        part, self._part = self._part, None
        assert part is not None
        if part.sink is not None:
            part.sink.close()
            self._finish_capture(part)
        elif part.form_field == "lb":
            if part.size or part.filename:
                self.configs.append((display_name(part.filename or b""), bytes(part.data)))
        else:
            self.fields[part.form_field] = part.data.decode("utf-8", errors="replace")

    def _finish_capture(self, part: _Part) -> None:
        assert part.path is not None and part.sniffer is not None
        if part.size == 0 and not part.filename:
            part.path.unlink()  # a browser's empty file input
            return
        try:
            kind = part.sniffer.finish()
        except NotACapture as exc:
            raise _not_a_capture(part, exc) from None
        index = len(self.captures) + 1
        generated = f"capture-{index}.{kind.extension}"
        part.path.rename(self.staging / generated)
        name = display_name(part.filename or b"")
        self.captures.append(UploadedCapture(generated, name, part.size, kind.format))


def _not_a_capture(part: _Part, exc: NotACapture) -> WebError:
    name = display_name(part.filename or b"")
    return WebError(415, "not_a_capture", f"{name!r} is not a packet capture: {exc}")


def too_large(limit: int) -> WebError:
    return WebError(
        413,
        "payload_too_large",
        f"upload larger than the limit of {format_size(limit)} (pcapflow serve --max-upload-size)",
    )


def boundary_of(content_type: str) -> bytes:
    ctype, options = parse_options_header(content_type.encode("latin-1", errors="replace"))
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise WebError(
            415,
            "unsupported_media_type",
            "send the analysis as multipart/form-data (fields: captures, lb, lb_text, os, "
            "checksums)",
        )
    return boundary


async def receive(
    content_type: str,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
    staging_root: Path,
    max_upload: int,
) -> Submission:
    """Stream a multipart body into a new staging directory and return what it held.

    On any error the staging directory is removed and a :class:`WebError` raised.
    """
    if content_length is not None and content_length.isdigit() and int(content_length) > max_upload:
        raise too_large(max_upload)
    boundary = boundary_of(content_type)
    staging = staging_root / uuid.uuid4().hex
    staging.mkdir(parents=True)
    receiver = FormReceiver(staging)
    try:
        await _parse(chunks, MultipartParser(boundary, receiver.callbacks()), max_upload)
        return _submission(receiver)
    except BaseException:
        receiver.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise


async def _parse(chunks: AsyncIterator[bytes], parser: MultipartParser, max_upload: int) -> None:
    received = 0
    pending = bytearray()
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > max_upload:
                raise too_large(max_upload)
            pending += chunk
            if len(pending) >= WRITE_BATCH:
                await anyio.to_thread.run_sync(parser.write, bytes(pending))
                pending.clear()
        await anyio.to_thread.run_sync(parser.write, bytes(pending))
    except MultipartParseError as exc:
        raise WebError(400, "bad_request", f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise WebError(400, "bad_request", "the client went away during the upload") from None
    if parser.state not in (MultipartState.END, MultipartState.BOUNDARY_PADDING):
        raise WebError(400, "bad_request", "the multipart body ends before its closing boundary")


def _submission(receiver: FormReceiver) -> Submission:
    if not receiver.captures:
        raise WebError(400, "bad_request", "no capture uploaded: send one or more 'captures' files")
    fields = receiver.fields
    os_choice = fields.get("os", "").strip().lower()
    if os_choice not in OS_CHOICES:
        raise WebError(400, "bad_request", f"os must be linux, windows or auto, not {os_choice!r}")
    lb_text = fields.get("lb_text", "").strip() or None
    if receiver.configs and lb_text is not None:
        raise WebError(400, "bad_request", "give the config as a file (lb) or as text, not both")
    lb_format = fields.get("lb_format", "").strip().lower()
    lb_name: str | None = "<pasted>" if lb_text is not None else None
    files = tuple((name, _config_text(name, raw)) for name, raw in receiver.configs)
    if len(files) == 1:
        (lb_name, lb_text), files = files[0], ()
    elif files:
        lb_name = ", ".join(name for name, _ in files)
    return Submission(
        staging=receiver.staging,
        captures=tuple(receiver.captures),
        os=OS_CHOICES[os_choice],
        lb_text=lb_text,
        lb_name=lb_name,
        lb_format=None if lb_format in ("", "auto") else lb_format,
        lb_files=files,
        checksums=_checksums(fields.get("checksums", "")),
    )


def _checksums(value: str) -> str | None:
    """The checksum policy a form chose; None (the server's) when it chose none."""
    choice = value.strip().lower()
    if choice in ("", "default"):
        return None
    if choice not in CHECKSUM_POLICIES:
        known = ", ".join(CHECKSUM_POLICIES)
        raise WebError(400, "bad_request", f"checksums must be {known} or default, not {choice!r}")
    return choice


def _config_text(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WebError(400, "bad_config", f"config {name!r} is not UTF-8 text") from None
