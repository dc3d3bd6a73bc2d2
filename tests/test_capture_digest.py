"""A plain capture is hashed on a thread of its own (beside analyze's first pass); a compressed
one by its reader (the hash is of the decompressed content).  The report's SHA-256 is the same."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.capture.digest import hashable_apart, sha256_later
from pcapflow.pipeline import analyze

SAMPLE = Path(__file__).resolve().parent.parent / "sample_captures" / "hairpin-two-backends"
PCAP = SAMPLE / "web01-eth0.pcap"

needs_sample = pytest.mark.skipif(not PCAP.exists(), reason="sample capture missing")


@needs_sample
def test_plain_file_is_hashed_apart_and_gzip_is_not(tmp_path: Path) -> None:
    packed = tmp_path / "web01-eth0.pcap.gz"
    packed.write_bytes(gzip.compress(PCAP.read_bytes()))
    assert hashable_apart(str(PCAP))
    assert not hashable_apart(str(packed))
    assert not hashable_apart("-") and not hashable_apart(str(tmp_path))  # stdin, a folder
    assert sha256_later(str(PCAP)).result() == hashlib.sha256(PCAP.read_bytes()).hexdigest()


@needs_sample
def test_the_report_hash_is_the_content_hash_either_way(tmp_path: Path) -> None:
    packed = tmp_path / "web01-eth0.pcap.gz"
    packed.write_bytes(gzip.compress(PCAP.read_bytes()))
    content = hashlib.sha256(PCAP.read_bytes()).hexdigest()
    plain = analyze([str(PCAP)], None).captures[0].info
    compressed = analyze([str(packed)], None).captures[0].info
    assert plain.sha256 == compressed.sha256 == content


def test_capture_magics_are_the_readers() -> None:
    from pcapflow.capture.digest import CAPTURE_MAGICS
    from pcapflow.capture.formats import PCAP_MAGICS, PCAPNG_MAGIC

    assert set(PCAP_MAGICS) | {PCAPNG_MAGIC} == CAPTURE_MAGICS


@needs_sample
def test_the_cli_hash_started_early_is_handed_over_once(tmp_path: Path) -> None:
    from pcapflow.capture import digest

    config = SAMPLE / "lb.yaml"
    digest.hash_early(["--lb", str(config), str(PCAP), "-o", str(tmp_path / "r.html")])
    ((identity, early),) = [(k, v) for k, v in digest._early.items() if k[0] == str(PCAP.resolve())]
    assert digest.sha256_of(str(PCAP)) is early  # handed over ...
    assert identity not in digest._early  # ... once
    assert digest.sha256_of(str(PCAP)) is not early  # a second use hashes again
    assert early.result() == hashlib.sha256(PCAP.read_bytes()).hexdigest()
    assert not any(k[0] == str(config.resolve()) for k in digest._early)  # not a capture


@needs_sample
def test_analyze_cli_reports_the_content_hash(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from pcapflow.cli import main

    result = CliRunner().invoke(main, ["analyze", str(PCAP), "--format", "json", "-q"])
    assert result.exit_code in (0, 3), result.output
    (capture,) = json.loads(result.stdout)["captures"]
    assert capture["sha256"] == hashlib.sha256(PCAP.read_bytes()).hexdigest()


@needs_sample
def test_no_early_hash_for_another_engine() -> None:
    from pcapflow.capture import digest

    digest._early.clear()
    digest.hash_early(["--engine", "tshark", str(PCAP)])
    digest.hash_early(["--engine=tshark", str(PCAP)])
    assert digest._early == {}
    assert digest.engine_of(["x.pcap"]) == "fast"


def test_a_read_error_of_the_hash_is_one_line_naming_the_file(tmp_path: Path) -> None:
    from pcapflow.errors import CaptureError

    folder = tmp_path / "a-folder.pcap"  # opening a folder for reading fails
    folder.mkdir()
    with pytest.raises(CaptureError, match=rf"^{folder}: read error: "):
        sha256_later(str(folder)).result()


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=20_000), st.integers(1, 3))
def test_the_mapped_hash_is_hashlibs(data: bytes, pages: int) -> None:
    """Mapped and hashed in pieces (a last piece shorter, empty files too), as hashlib reads
    it."""
    import mmap
    import tempfile

    from pcapflow.capture import digest

    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        piece = pages * mmap.ALLOCATIONGRANULARITY
        old, digest.MAPPED_PIECE = digest.MAPPED_PIECE, piece
        mapped, plain = [], digest._hash_mapped

        def counted(*args: Any) -> None:
            mapped.append(args[3])
            plain(*args)

        digest._hash_mapped = counted
        try:
            assert digest.file_sha256(f.name) == hashlib.sha256(data).hexdigest()
        finally:
            digest.MAPPED_PIECE, digest._hash_mapped = old, plain
        assert mapped == [min(piece, len(data) - at) for at in range(0, len(data), piece)]


def test_a_file_that_cannot_be_mapped_is_read(tmp_path: Path) -> None:
    """A named pipe cannot be mapped: it is read as before."""
    import os
    import threading

    from pcapflow.capture.digest import file_sha256

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = b"pcap bytes " * 1000

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    assert file_sha256(str(fifo)) == hashlib.sha256(data).hexdigest()
    writer.join()
