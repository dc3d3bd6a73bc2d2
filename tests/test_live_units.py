"""The live commands' decisions, without a network: targets, tools, filters, streams, windows."""

from __future__ import annotations

import errno
import io
import random
import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.errors import CaptureError, InputError
from pcapflow.lbconfig import load
from pcapflow.live.attempts import MAX_COUNT, PORT_RANGE, SPARE_PORTS, _outcome, port_block
from pcapflow.live.capture import (
    CaptureTool,
    LiveCaptureError,
    capture_command,
    config_filter,
    explain_failure,
    find_capture_tool,
    probe_filter,
)
from pcapflow.live.hostos import host_os, parse_os_release
from pcapflow.live.pcapstream import Record, StreamInterface, StreamParser, write_pcapng
from pcapflow.live.target import Target, parse_target
from pcapflow.live.watch import PacketWindow

EXAMPLE_LB = Path(__file__).resolve().parents[1] / "pcapflow" / "lbconfig" / "example.yaml"


# ---- targets and host ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "address", "port"),
    [("10.2.1.100:80", "10.2.1.100", 80), ("[fd00::0100]:443", "fd00::100", 443)],
)
def test_a_frontend_is_vip_colon_port(text: str, address: str, port: int) -> None:
    target = parse_target(text, "udp")
    assert (target.address, target.port, target.proto) == (address, port, "udp")
    assert parse_target(str(target), "udp") == target


@pytest.mark.parametrize(
    "text", ["10.2.1.100", "web:80", "10.2.1.100:0", "10.2.1.100:99999", ":80"]
)
def test_a_bad_frontend_is_bad_input(text: str) -> None:
    with pytest.raises(InputError, match="frontend"):
        parse_target(text)


def test_the_host_os_comes_from_os_release() -> None:
    text = 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n# x=y\n'
    assert parse_os_release(text)["VERSION_ID"] == "22.04"
    found = host_os("Linux", text)
    assert (found.family, found.distro, found.version) == ("linux", "ubuntu", "22.04")
    assert found.label == "Ubuntu 22.04.4 LTS"
    assert host_os("Windows").family == "windows"


# ---- capture tools and filters ----------------------------------------------------------------
def _which(*present: str):  # type: ignore[no-untyped-def]
    return lambda name: f"/usr/bin/{name}" if name in present else None


def test_dumpcap_is_preferred_then_tcpdump() -> None:
    assert find_capture_tool(_which("dumpcap", "tcpdump")).name == "dumpcap"
    assert find_capture_tool(_which("tcpdump")).name == "tcpdump"
    assert find_capture_tool(_which("dumpcap", "tcpdump"), prefer="tcpdump").name == "tcpdump"


def test_no_capture_tool_is_one_clear_line() -> None:
    with pytest.raises(LiveCaptureError, match=r"install dumpcap .* or tcpdump") as info:
        find_capture_tool(_which())
    assert "\n" not in str(info.value)


def test_the_probe_filter_covers_our_ports_and_the_frontend_only() -> None:
    bpf = probe_filter(Target("10.2.1.100", 80), range(41000, 41028))
    assert "host 10.2.1.100 and port 80" in bpf
    assert "tcp portrange 41000-41027" in bpf
    assert "icmp" in bpf


def test_the_config_filter_names_frontends_members_and_probes() -> None:
    bpf = config_filter(load([str(EXAMPLE_LB)]))
    for term in (
        "host 10.2.1.100 and port 80",
        "host 10.2.1.4 and port 80",
        "host 10.2.1.6 and port 80",
        "host 168.63.129.16",
    ):
        assert term in bpf


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump to compile BPF")
@pytest.mark.parametrize(
    "bpf",
    [
        probe_filter(Target("10.2.1.100", 80), range(41000, 41028)),
        probe_filter(Target("fd00::100", 53, "udp"), range(50000, 50010)),
        config_filter(load([str(EXAMPLE_LB)])),
    ],
)
def test_the_filters_compile(bpf: str) -> None:
    done = subprocess.run(["tcpdump", "-d", "-y", "EN10MB", bpf], capture_output=True, timeout=20)
    if b"permission" in done.stderr.lower() or b"no suitable device" in done.stderr.lower():
        pytest.skip("tcpdump cannot compile filters here")
    assert done.returncode == 0, done.stderr


def test_command_lines_for_each_tool() -> None:
    dumpcap = capture_command(CaptureTool("dumpcap", "/d"), ["eth0", "lo"], "tcp", "-", 10)
    assert dumpcap[:1] == ["/d"] and dumpcap[-2:] == ["-w", "-"]
    assert dumpcap.index("-f") < dumpcap.index("-i")  # filter before -i: applies to all
    assert "duration:10" in dumpcap
    tcpdump = capture_command(CaptureTool("tcpdump", "/t"), ["eth0"], "tcp", "/x.pcap")
    assert tcpdump[-1] == "tcp" and "-U" in tcpdump and tcpdump[2:4] == ["-i", "eth0"]
    with pytest.raises(LiveCaptureError):
        capture_command(CaptureTool("tcpdump", "/t"), ["eth0", "lo"], "tcp", "-")


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("tcpdump: eth9: You don't have permission to capture on that device", "run as root"),
        ('dumpcap: There is no device named "eth9".', "no such interface"),
        ("tcpdump: eth9: No such device exists", "no such interface"),
        ("tcpdump: can't parse filter expression: syntax error", "bad capture filter"),
        ("something odd", "failed: something odd"),
    ],
)
def test_tool_errors_become_one_actionable_line(stderr: str, expected: str) -> None:
    line = explain_failure("tcpdump", stderr)
    assert expected in line and "\n" not in line


# ---- attempts ---------------------------------------------------------------------------------
def test_a_port_block_has_room_and_stays_in_range() -> None:
    block = port_block(12, random.Random(7))
    assert len(block) == 12 + SPARE_PORTS
    assert PORT_RANGE[0] <= block.start and block.stop <= PORT_RANGE[1]
    for bad in (0, MAX_COUNT + 1):
        with pytest.raises(InputError, match="--count"):
            port_block(bad)


def test_socket_errors_become_outcomes() -> None:
    assert _outcome(TimeoutError()) == "timeout"
    assert _outcome(ConnectionRefusedError(errno.ECONNREFUSED, "refused")) == "refused"
    assert _outcome(OSError(errno.EHOSTUNREACH, "x")) == "unreachable"
    assert _outcome(OSError(errno.EPERM, "x")) == "error"
    assert isinstance(TimeoutError(), TimeoutError)


# ---- streams ----------------------------------------------------------------------------------
FRAMES = [bytes([i % 256]) * (40 + 7 * i) for i in range(12)]


def _pcap(nano: bool) -> bytes:
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, nano=nano)
    for i, frame in enumerate(FRAMES):
        writer.writepkt(frame, ts=1_700_000_000 + i * 0.25)
    return buf.getvalue()


def _pcapng() -> bytes:
    buf = io.BytesIO()
    writer = dpkt.pcapng.Writer(buf)
    for i, frame in enumerate(FRAMES):
        writer.writepkt(frame, ts=1_700_000_000 + i * 0.25)
    return buf.getvalue()


def _feed(data: bytes, cuts: list[int]) -> tuple[StreamParser, list[Record]]:
    parser, records, pos = StreamParser(), [], 0
    for cut in sorted(set(cuts)):
        records += parser.feed(data[pos:cut])
        pos = cut
    records += parser.feed(data[pos:])
    return parser, records


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["pcap", "pcap-ns", "pcapng"]), st.lists(st.integers(0, 2000), max_size=30))
def test_any_split_of_the_stream_gives_the_same_records(kind: str, cuts: list[int]) -> None:
    data = {"pcap": _pcap(False), "pcap-ns": _pcap(True), "pcapng": _pcapng()}[kind]
    parser, records = _feed(data, [c % (len(data) + 1) for c in cuts])
    assert [r.data for r in records] == FRAMES
    assert [r.frame for r in records] == list(range(1, len(FRAMES) + 1))
    assert records[1].ts_ns - records[0].ts_ns == 250_000_000
    assert parser.pending == 0


def test_an_unfinished_record_waits_for_its_bytes() -> None:
    data = _pcap(False)
    parser = StreamParser()
    assert len(parser.feed(data[:-5])) == len(FRAMES) - 1
    assert parser.pending > 0
    assert len(parser.feed(data[-5:])) == 1


def test_a_stream_that_is_no_capture_is_refused() -> None:
    with pytest.raises(CaptureError, match="not a pcap"):
        StreamParser().feed(b"GET / HTTP/1.1\r\n\r\n")


def test_the_window_file_round_trips_with_nanoseconds() -> None:
    interfaces = [StreamInterface(1, "eth0"), StreamInterface(113, "any")]
    records = [
        Record(i + 1, 1_700_000_000_123_456_789 + i, i % 2, 60, b"x" * (20 + i)) for i in range(5)
    ]
    buf = io.BytesIO()
    assert write_pcapng(buf, interfaces, records) == 5
    parser = StreamParser()
    again = parser.feed(buf.getvalue())
    assert [(r.ts_ns, r.iface, r.data, r.orig_len) for r in again] == [
        (r.ts_ns, r.iface, r.data, r.orig_len) for r in records
    ]
    assert [(i.link_type, i.name) for i in parser.interfaces] == [(1, "eth0"), (113, "any")]


# ---- the watch window -------------------------------------------------------------------------
def test_the_window_is_bounded_by_count_age_and_bytes() -> None:
    window = PacketWindow(max_packets=100, max_age_ns=10_000_000_000, keep_bytes=64)
    for i in range(1000):
        window.add(Record(i + 1, i * 50_000_000, 0, 1500, b"y" * 1500))  # 20 packets per second
        assert len(window.records) <= 100
    assert window.total == 1000
    assert all(len(r.data) == 64 for r in window.records)
    window = PacketWindow(max_packets=10_000, max_age_ns=1_000_000_000, keep_bytes=0)
    for i in range(100):
        window.add(Record(i + 1, i * 100_000_000, 0, 60, b"z"))
    assert window.latest_ns - window.oldest_ns <= 1_000_000_000
    assert [r.frame for r in window.snapshot()] == sorted(r.frame for r in window.records)
