"""A plain capture is hashed on a thread of its own (beside analyze's first pass); a compressed
one by its reader (the hash is of the decompressed content).  The report's SHA-256 is the same."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

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
