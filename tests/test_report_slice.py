"""`slice`: every leg of a finding cut out of the capture, byte for byte, readable by tshark."""

from __future__ import annotations

import shutil
import socket
import subprocess
from decimal import Decimal
from pathlib import Path

import dpkt
import pytest

from pcapflow.errors import InputError
from pcapflow.model.packet import PacketRef
from pcapflow.report.example import hairpin_example
from pcapflow.report.slice import select_flows, slice_flows

MAC_A, MAC_B = b"\x00\x0d\x3a\x00\x00\x04", b"\x12\x34\x56\x78\x9a\xbc"


def frame_bytes(p: PacketRef) -> bytes:
    tcp = dpkt.tcp.TCP(
        sport=p.sport,
        dport=p.dport,
        seq=p.seq,
        ack=p.ack,
        flags=p.tcp_flags,
        data=b"x" * p.payload_len,
    )
    ip = dpkt.ip.IP(
        src=socket.inet_aton(p.src),
        dst=socket.inet_aton(p.dst),
        id=p.ip_id,
        ttl=p.ttl,
        p=dpkt.ip.IP_PROTO_TCP,
        data=tcp,
    )
    ip.len = len(bytes(ip))
    return bytes(dpkt.ethernet.Ethernet(src=MAC_A, dst=MAC_B, data=ip))


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, tuple[int, bytes]]]:
    """The example result's packets as a real nanosecond pcap: frame -> (ts_ns, bytes)."""
    packets = sorted({p.frame: p for f in hairpin_example().flows for p in f.flow.packets}.items())
    frames = {n: (p.ts_ns, frame_bytes(p)) for n, p in packets}
    assert list(frames) == list(range(1, len(frames) + 1))
    path = tmp_path_factory.mktemp("slice") / "web01-eth0.pcap"
    with path.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle, nano=True, snaplen=65535)
        for ts_ns, data in frames.values():
            writer.writepkt_time(data, Decimal(ts_ns) / 10**9)
    return path, frames


def read_back(path: Path) -> list[tuple[int, bytes]]:
    with path.open("rb") as handle:
        return [(int(ts * 10**9), bytes(buf)) for ts, buf in dpkt.pcap.Reader(handle)]


def test_a_finding_expands_to_every_leg() -> None:
    flows = select_flows(hairpin_example(), "F1")
    assert len(flows) == 6 and {f.role for f in flows} == {"outbound", "translated"}


def test_a_flow_id_or_uid_brings_its_paired_legs() -> None:
    result = hairpin_example()
    by_id = [f.id for f in select_flows(result, "0:Co02hairpinExamplx")]
    by_uid = [f.id for f in select_flows(result, "Ci02hairpinExamplx")]
    assert by_id == by_uid == ["0:Co02hairpinExamplx", "0:Ci02hairpinExamplx"]


def test_an_unknown_reference_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no finding or flow 'F9'"):
        select_flows(hairpin_example(), "F9")


def test_slice_copies_original_frames_and_timestamps(
    capture: tuple[Path, dict[int, tuple[int, bytes]]], tmp_path: Path
) -> None:
    path, frames = capture
    out = tmp_path / "f1.pcap"
    flows, written = slice_flows(hairpin_example(), [str(path)], "F1", out)
    wanted = sorted(n for f in flows for n in (p.frame for p in f.flow.packets))
    assert written == len(wanted) == 18
    assert read_back(out) == [frames[n] for n in wanted]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_slice(
    capture: tuple[Path, dict[int, tuple[int, bytes]]], tmp_path: Path
) -> None:
    path, _ = capture
    out = tmp_path / "one.pcap"
    slice_flows(hairpin_example(), [str(path)], "Co05hairpinExamplx", out)
    fields = ["-T", "fields", "-e", "ip.dst", "-e", "tcp.flags.syn", "-e", "frame.time_epoch"]
    lines = subprocess.run(
        ["tshark", "-r", str(out), *fields], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split("\n")
    rows = [line.split("\t") for line in lines if line]
    assert [r[0] for r in rows] == ["10.2.1.100", "10.2.1.4"] * 3
    assert rows[1][2].startswith("1764312357.500031")


SAMPLE = Path(__file__).resolve().parents[1] / "sample_captures" / "hairpin-two-backends"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"sample captures missing: {SAMPLE}")
def test_cli_slices_a_real_finding_with_both_legs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main
    from pcapflow.lbconfig import load
    from pcapflow.pipeline import analyze

    capture, lb = str(SAMPLE / "web01-eth0.pcap"), str(SAMPLE / "lb.yaml")
    out = tmp_path / "f1.pcap"
    run = CliRunner().invoke(main, ["slice", capture, "--lb", lb, "--flow", "F1", "-o", str(out)])
    assert run.exit_code == 0, run.output
    flows = select_flows(analyze([capture], load([lb])), "F1")
    assert {f.role for f in flows} == {"outbound", "translated"}
    frames = {p.frame for f in flows for p in f.flow.packets}
    with open(capture, "rb") as handle:
        original = [bytes(buf) for _, buf in dpkt.pcap.Reader(handle)]
    assert [data for _, data in read_back(out)] == [original[n - 1] for n in sorted(frames)]
    assert f"wrote {len(frames)} packet(s) of {len(flows)} flow(s)" in run.output


def test_cli_slice_of_an_unknown_flow_is_a_one_line_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main

    if not SAMPLE.is_dir():
        pytest.skip(f"sample captures missing: {SAMPLE}")
    args = ["slice", str(SAMPLE / "web01-eth0.pcap"), "--flow", "F99", "-o", str(tmp_path / "x")]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2 and "no finding or flow 'F99'" in run.output


def test_cli_slice_into_a_missing_folder_fails_before_analysing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pcapflow.cli import main

    out = tmp_path / "no" / "such" / "f1.pcap"
    run = CliRunner().invoke(main, ["slice", str(tmp_path / "absent.pcap"), "--flow", "F1",
                                    "-o", str(out)])  # fmt: skip
    assert run.exit_code == 2 and "does not exist" in run.output and "absent" not in run.output


LOCALHOST = (  # 6 of its 10 checksums left for offload: --validate-checksums splits its flow
    Path(__file__).resolve().parents[2]
    / "shared/corpus/zeek/Traces/chksums/localhost-bad-chksum.pcap"
)


@pytest.mark.skipif(not LOCALHOST.exists(), reason="Zeek corpus not available")
def test_cli_slice_finds_the_flows_of_the_checksum_policy_given(tmp_path: Path) -> None:
    """A flow that exists only under --validate-checksums is sliced with that option (the ids
    come from an analysis with the same policy) and unknown without it."""
    from click.testing import CliRunner

    from pcapflow.cli import main
    from pcapflow.pipeline import analyze

    capture = str(LOCALHOST)
    default = {f.id for f in analyze([capture]).flows}
    strict = analyze([capture], ignore_checksums=False).flows
    (only,) = [f for f in strict if f.id not in default]  # frames 2..10 once frame 1 is out
    out = tmp_path / "strict.pcap"
    args = ["slice", capture, "--flow", only.id, "-o", str(out)]
    run = CliRunner().invoke(main, [*args, "--validate-checksums"])
    assert run.exit_code == 0, run.output
    frames = range(only.flow.first_frame, only.flow.last_frame + 1)
    with open(capture, "rb") as handle:
        original = [bytes(buf) for _, buf in dpkt.pcap.Reader(handle)]
    assert [data for _, data in read_back(out)] == [original[n - 1] for n in frames]
    unknown = CliRunner().invoke(main, args)
    assert unknown.exit_code == 2 and f"no finding or flow {only.id!r}" in unknown.output
