"""Every file of the malformed corpus is read as far as it is valid or refused in one line.

The corpus (``../shared/corpus/malformed``, outside the repository) lists each file in
``manifest.csv``; this test iterates the whole manifest with both error paths checked: a
:class:`CaptureError` whose message names the file, or a completed read whose counts are sane,
within a time bound.  A few files have a known outcome that is checked precisely.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from pcapflow.capture import get_backend
from pcapflow.errors import CaptureError
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import PF_TRUNCATED, PacketArray, empty_batch

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MANIFEST = CORPUS / "malformed" / "manifest.csv"

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason=f"corpus not found at {CORPUS}")


def _rows() -> list[dict[str, str]]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _read(path: Path) -> tuple[PacketArray, CaptureInfo]:
    reader = get_backend("fast").open(str(path))
    batches = list(reader.batches())
    return (np.concatenate(batches) if batches else empty_batch()), reader.info()


@pytest.mark.parametrize("entry", _rows(), ids=lambda e: e["file"].removeprefix("malformed/"))
def test_read_as_far_as_valid_or_refused_in_one_line(entry: dict[str, str]) -> None:
    path = CORPUS / entry["file"]
    try:
        rows, info = _read(path)
    except CaptureError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message
        return
    assert info.decoded - info.duplicates == len(rows) <= info.frames
    assert len(info.sha256) == 64
    assert all("\n" not in w for w in info.warnings)
    if len(rows):
        assert np.all(np.diff(rows["frame"].astype(np.int64)) > 0)
        assert rows["frame"].min() >= 1 and rows["frame"].max() <= info.frames
    if "truncated-file" in entry["category"]:
        assert any("stopped reading" in w for w in info.warnings)


def test_fragment_without_magic_is_refused() -> None:
    path = CORPUS / "malformed/pcap-parser/assets/err-eof.bin"
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        _read(path)


def test_file_ending_inside_a_record_keeps_the_packets_before() -> None:
    rows, info = _read(CORPUS / "malformed/dpkt/examples/data/truncated_dns_2.pcap")
    assert info.frames == 1 and len(rows) == 1
    assert int(rows[0]["pflags"]) & PF_TRUNCATED  # the packet itself was cut by snaplen
    assert info.warnings == (
        "file ends inside a record at byte 240 (7 bytes): stopped reading there",
    )


def test_timestamps_past_2106_are_exact() -> None:
    _, info = _read(CORPUS / "malformed/tcpdump/tests/time_2106.pcap")
    assert info.first_ts_ns == 4_291_747_200 * 10**9
    _, info = _read(CORPUS / "malformed/tcpdump/tests/time_2106_overflow.pcapng")
    assert info.first_ts_ns is not None and info.first_ts_ns >= 2**32 * 10**9


def test_pcapng_with_mixed_endian_sections() -> None:
    _, info = _read(CORPUS / "malformed/pcapng-test-generator/output_le/difficult/test202.pcapng")
    assert len(info.interfaces) == 5
    assert info.frames == 11  # Wireshark's count: 8 packets and 3 custom blocks
    assert not info.warnings


def test_unsupported_link_type_is_counted_not_decoded() -> None:
    rows, info = _read(CORPUS / "malformed/tcpdump/tests/unsupported-link-type-160.pcap")
    assert (len(rows), info.frames) == (0, 1)
    assert info.warnings and "link type 160" in info.warnings[0]
