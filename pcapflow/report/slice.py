"""Cut the packets of a finding's connections (every leg) out of the captures, into one pcap.

``pcapflow slice CAPTURE... --flow REF -o out.pcap``: REF is a finding id (``F1``), a flow id
(``0:C...``) or a bare uid.  The flows are expanded to all their legs (``paired_with``), their
frames located with the capture backend (5-tuple both ways, within the flow's frame range), and the
original frames copied byte for byte, with their original nanosecond timestamps, into a
nanosecond pcap (dpkt's writer) that Wireshark and tshark read.  Frames from several captures are
merged in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import dpkt
import numpy as np
import numpy.typing as npt

from pcapflow.capture import get_backend
from pcapflow.capture.stream import Source
from pcapflow.errors import CaptureError, InputError
from pcapflow.model.packet import PROTO_NAMES, PacketArray, addr_to_halves
from pcapflow.model.result import AnalysisResult, FlowResult

SNAPLEN = 262144


@dataclass(frozen=True, slots=True)
class Frame:
    ts_ns: int
    file_idx: int
    frame: int
    link_type: int
    data: bytes


def select_flows(result: AnalysisResult, ref: str) -> list[FlowResult]:
    """The flows ``ref`` names (finding id, flow id or uid) with every paired leg, in order."""
    flows = {f.id: f for f in result.flows}  # any flow, background ones included
    finding = next((f for f in result.findings if f.id == ref), None)
    if finding is not None:
        start = list(finding.flow_ids)
    else:
        start = [fid for fid, fr in flows.items() if ref in (fid, fr.flow.uid)]
    if not start:
        raise InputError(f"no finding or flow {ref!r} in this analysis (see --format csv for ids)")
    chosen = list(dict.fromkeys(start))
    for fid in chosen:  # grows while iterating: the closure over paired_with
        chosen += [p for p in flows[fid].paired_with if p in flows and p not in chosen]
    return sorted((flows[i] for i in chosen), key=lambda f: (f.flow.ts, f.id))


def _matches(rows: PacketArray, fr: FlowResult) -> npt.NDArray[np.bool_]:
    flow = fr.flow
    _, ohi, olo = addr_to_halves(flow.orig_h)
    _, rhi, rlo = addr_to_halves(flow.resp_h)
    proto = {v: k for k, v in PROTO_NAMES.items() if k != 58}.get(flow.proto, -1)
    src_o = (rows["src_hi"] == ohi) & (rows["src_lo"] == olo)
    dst_r = (rows["dst_hi"] == rhi) & (rows["dst_lo"] == rlo)
    src_r = (rows["src_hi"] == rhi) & (rows["src_lo"] == rlo)
    dst_o = (rows["dst_hi"] == ohi) & (rows["dst_lo"] == olo)
    frames = (rows["frame"] >= flow.first_frame) & (rows["frame"] <= flow.last_frame)
    if flow.proto == "icmp":
        same_proto = np.isin(rows["proto"], (1, 58))
        return frames & same_proto & ((src_o & dst_r) | (src_r & dst_o))  # type: ignore[no-any-return]
    forward = src_o & dst_r & (rows["sport"] == flow.orig_p) & (rows["dport"] == flow.resp_p)
    back = src_r & dst_o & (rows["sport"] == flow.resp_p) & (rows["dport"] == flow.orig_p)
    return frames & (rows["proto"] == proto) & (forward | back)  # type: ignore[no-any-return]


def locate(path: str, file_idx: int, flows: Sequence[FlowResult], engine: str) -> dict[int, int]:
    """frame number -> timestamp (ns) of every packet of ``flows`` in one capture file."""
    found: dict[int, int] = {}
    reader = get_backend(engine).open(path, file_idx)
    for rows in reader.batches():
        hit = np.zeros(len(rows), dtype=bool)
        for fr in flows:
            hit |= _matches(rows, fr)
        found.update(zip(rows["frame"][hit].tolist(), rows["ts_ns"][hit].tolist(), strict=True))
    return found


def _records(path: str) -> Iterator[tuple[int, int, bytes]]:
    """(frame number, link type, original bytes) of every packet record, via dpkt."""
    source = Source(path)
    try:
        head = source.read(4)
        stream = _Rewound(head, source)
        reader: dpkt.pcap.Reader | dpkt.pcapng.Reader
        is_ng = head == b"\x0a\x0d\x0d\x0a"
        reader = dpkt.pcapng.Reader(stream) if is_ng else dpkt.pcap.Reader(stream)
        link_type = int(reader.datalink())
        for number, (_, data) in enumerate(reader, start=1):
            yield number, link_type, bytes(data)
    except (ValueError, dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError) as exc:
        raise CaptureError(f"{path}: cannot copy frames: {exc}") from None
    finally:
        source.close()


class _Rewound:
    """``Source`` with its first bytes pushed back, as a file object for dpkt."""

    def __init__(self, head: bytes, source: Source) -> None:
        self._head, self._source = head, source
        self.name = source.label

    def read(self, size: int = -1) -> bytes:
        data, self._head = self._head[:size], self._head[size:]
        return data + self._source.read(size - len(data)) if size > len(data) else data


def cut(path: str, file_idx: int, wanted: dict[int, int]) -> list[Frame]:
    frames = [
        Frame(wanted[n], file_idx, n, link, data) for n, link, data in _records(path) if n in wanted
    ]
    if len(frames) != len(wanted):
        missing = sorted(set(wanted) - {f.frame for f in frames})[:5]
        raise CaptureError(f"{path}: frames {missing} not found when copying (pcapng SPB?)")
    return frames


def write_pcap(frames: Iterable[Frame], out: Path) -> int:
    """Write ``frames`` in time order to a nanosecond pcap; the number written."""
    ordered = sorted(frames, key=lambda f: (f.ts_ns, f.file_idx, f.frame))
    links = {f.link_type for f in ordered}
    if len(links) > 1:
        raise InputError(f"the frames have different link types {sorted(links)}; slice per capture")
    with out.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle, snaplen=SNAPLEN, linktype=links.pop() if links else 1,
                                  nano=True)  # fmt: skip
        for f in ordered:
            writer.writepkt_time(f.data, Decimal(f.ts_ns) / Decimal(1_000_000_000))
    return len(ordered)


def slice_flows(
    result: AnalysisResult, captures: Sequence[str], ref: str, out: Path, engine: str = "fast"
) -> tuple[list[FlowResult], int]:
    """Write every leg of ``ref`` to ``out``; the flows and the number of packets written."""
    flows = select_flows(result, ref)
    frames: list[Frame] = []
    for file_idx, path in enumerate(captures):
        mine = [f for f in flows if f.flow.file_idx == file_idx]
        if mine:
            frames += cut(path, file_idx, locate(path, file_idx, mine, engine))
    return flows, write_pcap(frames, out)
