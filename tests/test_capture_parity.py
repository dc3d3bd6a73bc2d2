"""The fast backend and the tshark (pyshark) backend give the same packet rows.

Runs the bundled sample captures (``sample_captures/*/*.pcap``; all of them, pcapng too, when
``PCAPFLOW_PARITY_ALL=1``) and a selection of public Zeek traces covering the link types and
layers the fast backend decodes.  Every ``PACKET_DTYPE`` column is compared on every frame;
the few corpus traces where Wireshark reads a field differently are listed below with the
reason and the columns left out (see docs/capture.md).
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from pcapflow.capture import get_backend
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import PACKET_DTYPE, PacketArray, empty_batch

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"

ZEEK_TRACES = [
    "zeek/Traces/http/get.pcap",  # Ethernet, TCP with options
    "zeek/Traces/wikipedia.pcap",  # IPv4/IPv6, UDP, ICMP
    "zeek/Traces/http-vlan-0.pcap",  # 802.1Q
    "zeek/Traces/q-in-q.pcap",  # QinQ
    "zeek/Traces/mpls-in-vlan.pcap",  # MPLS
    "zeek/Traces/pppoe.pcap",  # PPPoE
    "zeek/Traces/ipv6-fragmented-dns.pcap",  # IPv6 fragment headers
    "zeek/Traces/http/get-to-ssh-server.pcap",  # nanosecond pcap
    "zeek/Traces/pcapng-multi-interface.pcapng",  # several IDBs
    "zeek/Traces/tcp/retransmit-fast009.pcap",  # snaplen-truncated packets
    "zeek/Traces/tunnels/gre-sample.pcap",  # other IP protocols (payload length)
    "zeek/Traces/ldap/missing_krbtgt_ldap_request.pcapng",  # IPv4 length 0 (TSO)
    "zeek/Traces/radiotap.pcap",  # radiotap + 802.11 + LLC/SNAP
    "malformed/tcpdump/tests/tcp-handshake-nano.pcap",  # SLL
    "malformed/zeek/linux_dlt_sll2.pcap",  # SLL2
    "malformed/zeek/udp-multiple-source-ports.pcap",  # BSD NULL
    "malformed/tcpdump/tests/LINKTYPE_IPV6.pcap",  # raw IPv6
    "malformed/scapy/test/pcaps/pfcp.pcap",  # big-endian pcapng, obsolete packet blocks
    "malformed/zeek/ftp/ftp-many-port-expected.pcap.gz",  # gzip
    "malformed/zeek/ipv4/fragmented-3.pcap",  # IPv4 fragments
    "malformed/dpkt/examples/data/truncated_dns_2.pcap",  # file cut inside a record
]

# Corpus traces where the two engines read a field differently: file -> (columns, reason).
KNOWN_DIFFERENCES: dict[str, tuple[set[str], str]] = {
    "zeek/Traces/pppoe-over-qinq.pcap": (
        {"payload_len", "payload_hash", "pflags"},
        "IP total length exceeds the PPPoE length; Wireshark trusts PPPoE, fast trusts IP",
    ),
}


def _sample_captures() -> list[Path]:
    every = os.environ.get("PCAPFLOW_PARITY_ALL") == "1"
    patterns = ["*/*.pcap", "*/*.pcapng"] if every else ["*/*.pcap"]
    found = sorted(p for pattern in patterns for p in (REPO / "sample_captures").glob(pattern))
    if every:
        return found
    chosen = ("hairpin-two-backends", "ipv6-frontend", "udp-service", "probe-asymmetric")
    return [p for p in found if p.parent.name in chosen]


def _cases() -> list[tuple[str, Path]]:
    cases = [(f"sample:{p.parent.name}/{p.name}", p) for p in _sample_captures()]
    cases += [(f"corpus:{name}", CORPUS / name) for name in ZEEK_TRACES]
    return cases


def _rows(engine: str, path: Path) -> tuple[PacketArray, CaptureInfo]:
    reader = get_backend(engine).open(str(path))
    batches = list(reader.batches())
    return (np.concatenate(batches) if batches else empty_batch()), reader.info()


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


@needs_tshark
@pytest.mark.parametrize(("name", "path"), _cases(), ids=[c[0] for c in _cases()])
def test_fast_and_tshark_backends_give_the_same_rows(name: str, path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not present")
    fast_rows, fast_info = _rows("fast", path)
    ref_rows, ref_info = _rows("tshark", path)
    assert fast_info.frames == ref_info.frames
    assert fast_info.duplicates == ref_info.duplicates
    assert fast_info.sha256 == ref_info.sha256
    assert fast_info.interfaces == ref_info.interfaces
    assert list(fast_rows["frame"]) == list(ref_rows["frame"])
    skip_cols, _reason = KNOWN_DIFFERENCES.get(name.removeprefix("corpus:"), (set(), ""))
    for column in PACKET_DTYPE.names or ():
        if column in skip_cols:
            continue
        differ = np.flatnonzero(fast_rows[column] != ref_rows[column])
        frames = [int(fast_rows["frame"][i]) for i in differ[:5]]
        assert not len(differ), f"{column} differs in frames {frames}"


@needs_tshark
def test_known_difference_is_still_a_difference() -> None:
    """The documented exception is real (else it should be removed from the list)."""
    name = "zeek/Traces/pppoe-over-qinq.pcap"
    if not (CORPUS / name).exists():
        pytest.skip("corpus not present")
    fast_rows, _ = _rows("fast", CORPUS / name)
    ref_rows, _ = _rows("tshark", CORPUS / name)
    columns, _ = KNOWN_DIFFERENCES[name]
    assert any(np.any(fast_rows[c] != ref_rows[c]) for c in columns)


@needs_tshark
def test_tshark_backend_reports_unreadable_files_like_fast(tmp_path: Path) -> None:
    from pcapflow.errors import CaptureError

    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    for engine in ("fast", "tshark"):
        with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
            get_backend(engine).open(str(bad))


@needs_tshark
@pytest.mark.parametrize("layout", ["sll-any", "two-interfaces"])
def test_both_engines_drop_the_same_duplicates(tmp_path: Path, layout: str) -> None:
    from test_capture_formats import SYN_PKT, T0, epb, eth, idb, ipv4, pcap, shb, tcp

    other = ipv4("10.0.0.9", "10.0.0.8", tcp(9, 8))
    if layout == "sll-any":
        out = struct.pack("!HHH8sH", 4, 1, 6, b"\x02" * 8, 0x0800)
        inc = struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800)
        frames = [(T0 * 10**9, out + SYN_PKT), (T0 * 10**9 + 2000, inc + SYN_PKT)]
        content = pcap([*frames, (T0 * 10**9 + 9000, out + other)], link=113)
    else:
        content = (
            shb() + idb("<", 1, tsresol=9) + idb("<", 1, tsresol=9)
            + epb("<", 0, T0 * 10**9, eth(SYN_PKT))
            + epb("<", 1, T0 * 10**9 + 10_000, eth(SYN_PKT))
            + epb("<", 1, T0 * 10**9 + 20_000, eth(other))
        )  # fmt: skip
    path = tmp_path / "dups.cap"
    path.write_bytes(content)
    fast_rows, fast_info = _rows("fast", path)
    ref_rows, ref_info = _rows("tshark", path)
    assert fast_info.duplicates == ref_info.duplicates == 1
    assert np.array_equal(fast_rows, ref_rows)


@needs_tshark
def test_both_engines_read_openbsd_pflog(tmp_path: Path) -> None:
    from test_capture_formats import SYN_PKT, T0, pcap

    path = tmp_path / "pflog.pcap"
    path.write_bytes(pcap([(T0 * 10**9, bytes([61, 2]) + b"\0" * 62 + SYN_PKT)], link=117))
    fast_rows, _ = _rows("fast", path)
    ref_rows, _ = _rows("tshark", path)
    assert len(fast_rows) == 1 and np.array_equal(fast_rows, ref_rows)
