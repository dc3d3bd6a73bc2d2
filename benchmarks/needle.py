"""A needle in a haystack: sample captures merged into the middle of a large background capture.

    python3 benchmarks/needle.py BACKGROUND.pcap OUT.pcap NEEDLE.pcap [--check LB.yaml]

The needle's records are shifted in time so that its first packet falls in the middle of the
background and merged with the background's records by timestamp; each capture keeps its own
frame order (a needle packet goes before the first background packet with a later timestamp).
:func:`merge` returns the frame map (needle frame -> frame in the merged file).

``--check`` analyses the needle alone and the merged file against the config and compares them
with :func:`signature` (labels of the needle's flows, findings, evidence with frames mapped):
they must be equal, and no flow of the background may carry a label.  The test suite runs the
same check at a small scale (``tests/test_needle_haystack.py``).
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from pcapflow.model.result import AnalysisResult, FlowKind, FlowResult, Label

HEADER = 24
RECORD = struct.Struct("<IIII")  # ts_sec, ts_usec, caplen, len (little-endian microsecond pcap)
MAGIC_LE_USEC = 0xA1B2C3D4


def _records(f: BinaryIO) -> Iterator[tuple[int, bytes, bytes]]:
    """(timestamp in µs, record header, record data) of a little-endian µs pcap."""
    while head := f.read(RECORD.size):
        sec, usec, caplen, _len = RECORD.unpack(head)
        yield sec * 1_000_000 + usec, head, f.read(caplen)


def _check_header(head: bytes, path: Path) -> None:
    magic, _major, _minor, _zone, _sigfigs, _snap, link = struct.unpack("<IHHiIII", head)
    if magic != MAGIC_LE_USEC or link != 1:
        raise SystemExit(f"{path}: only little-endian microsecond Ethernet pcap is supported")


def span_us(path: Path) -> tuple[int, int]:
    """First and last timestamp (µs) of a pcap."""
    with path.open("rb") as f:
        _check_header(f.read(HEADER), path)
        first = last = None
        for ts, _h, _d in _records(f):
            first = ts if first is None else first
            last = ts
    if first is None or last is None:
        raise SystemExit(f"{path}: no packets")
    return first, last


def middle_shift_us(background: Path, needle: Path) -> int:
    """Microseconds to add to the needle's times to centre it on the background."""
    bg_first, bg_last = span_us(background)
    nd_first, nd_last = span_us(needle)
    return (bg_first + bg_last) // 2 - (nd_first + nd_last) // 2


def merge(
    background: Path, needle: Path, out: Path, shift_us: int | None = None
) -> tuple[dict[int, int], float]:
    """Write ``out``; (needle frame -> merged frame, seconds added to the needle's times).
    ``shift_us`` (default: centre the needle) keeps several needles on one clock."""
    shift = middle_shift_us(background, needle) if shift_us is None else shift_us
    with needle.open("rb") as f:
        f.read(HEADER)
        pending = [(ts + shift, data) for ts, _h, data in _records(f)]
    frames: dict[int, int] = {}
    written = 0
    with background.open("rb") as bg, out.open("wb") as dst:
        head = bg.read(HEADER)
        _check_header(head, background)
        dst.write(head)
        nxt = 0

        def put(ts: int, data: bytes) -> None:
            nonlocal written
            dst.write(RECORD.pack(ts // 1_000_000, ts % 1_000_000, len(data), len(data)))
            dst.write(data)
            written += 1

        for ts, header, data in _records(bg):
            while nxt < len(pending) and pending[nxt][0] < ts:
                put(*pending[nxt])
                nxt += 1
                frames[nxt] = written
            dst.write(header)
            dst.write(data)
            written += 1
        while nxt < len(pending):
            put(*pending[nxt])
            nxt += 1
            frames[nxt] = written
    return frames, shift / 1e6


def _flow_key(fr: Any, back: Mapping[int, int] | None) -> tuple[object, ...]:
    """(file, 5-tuple, first frame in the needle; -1 for a background flow)."""
    f = fr.flow
    first = back.get(f.first_frame, -1) if back is not None else f.first_frame
    return (f.file_idx, f.orig_h, f.orig_p, f.resp_h, f.resp_p, f.proto, first)


BACKGROUND = -1  # the first frame of a flow that is not the needle's (see _flow_key)
QUIET_KINDS = (FlowKind.DIRECT_CALL, FlowKind.OTHER)


def _telling(fr: FlowResult, background: bool) -> bool:
    """Whether the flow says something to compare: a needle flow with a label or a partner; a
    background flow only when it is more than a healthy connection that worked on its own
    (every connection is judged, so a background flow is ``ok`` or unlabelled)."""
    if not background:
        return fr.label is not None or bool(fr.paired_with)
    healthy = fr.label in (None, Label.OK) and fr.kind in QUIET_KINDS
    return not healthy or bool(fr.paired_with)


def signature(
    result: AnalysisResult, frames: Sequence[Mapping[int, int] | None], shift_s: float = 0.0
) -> dict[str, Any]:
    """What must not change when the needle is analysed inside the haystack: the labels of
    its flows, the findings and their evidence.  ``frames``: per capture file, the map from the
    needle's frames to the analysed file's (None: the needle itself); flow ids become
    (file, 5-tuple, first frame) and times are given on the needle's own clock."""
    inverse = [None if m is None else {v: k for k, v in m.items()} for m in frames]
    keys = {fr.id: _flow_key(fr, inverse[fr.flow.file_idx]) for fr in result.flows}
    files = {c.info.path: c.info.file_idx for c in result.captures}

    def frame(file: str, n: int) -> int:
        back = inverse[files[file]]
        return n if back is None else back.get(n, -n)

    flows = {
        keys[fr.id]: (fr.label, fr.role, fr.reason, tuple(sorted(keys[p] for p in fr.paired_with)))
        for fr in result.flows
        if _telling(fr, keys[fr.id][-1] == BACKGROUND)
    }
    findings = [
        {
            "label": f.label,
            "title": f.title,
            "caller": f.caller,
            "frontend": f.frontend,
            "rule": f.rule,
            "flows": [keys[i] for i in f.flow_ids],
            "count": f.count,
            "attempts": f.attempts,
            "rates": (f.expected_rate, f.observed_rate, f.p_value),
            "confidence": (f.confidence, f.confidence_reason, f.ambiguity),
            "evidence": [
                (files[e.file], frame(e.file, e.frame), round(e.ts - shift_s, 6), e.summary, e.role)
                for e in f.evidence
            ],
            "remediations": [r.id for r in f.remediations],
        }
        for f in result.findings
    ]
    return {"flows": flows, "findings": findings, "legs": len(result.legs)}


def check(needles: Sequence[Path], merged: Sequence[Path], frames: Sequence[dict[int, int]],
          shift_s: float, lb: Path) -> list[str]:  # fmt: skip
    """Differences between the needles alone and the merged files (empty: the same)."""
    from pcapflow.lbconfig import load
    from pcapflow.pipeline import analyze

    cfg = load([str(lb)])
    alone = signature(analyze(list(needles), cfg), [None] * len(needles))
    big = signature(analyze(list(merged), cfg), list(frames), shift_s)
    problems = []
    if alone["flows"] != big["flows"]:
        a, b = alone["flows"], big["flows"]
        odd = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))[:3]
        problems += [f"flow {k}: alone {a.get(k)}, merged {b.get(k)}" for k in odd]
    for n, (a, b) in enumerate(zip(alone["findings"], big["findings"], strict=False)):
        odd = [name for name in a if a[name] != b[name]]
        if odd:
            problems.append(f"finding {n + 1} differs in {odd}: {[(a[k], b[k]) for k in odd]}")
    if len(alone["findings"]) != len(big["findings"]):
        problems.append(f"{len(alone['findings'])} findings alone, {len(big['findings'])} merged")
    if alone["legs"] != big["legs"]:
        problems.append(f"{alone['legs']} legs alone, {big['legs']} merged")
    strays = [k for k in big["flows"] if k[-1] == BACKGROUND]
    if strays:
        problems.append(f"background flows labelled other than ok, or paired: {strays[:5]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("background", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("needle", type=Path)
    parser.add_argument("--check", type=Path, metavar="LB", help="compare the analyses")
    args = parser.parse_args(argv)
    frames, shift = merge(args.background, args.needle, args.out)
    print(f"wrote {args.out}: {len(frames)} needle packets, shifted {shift:+.6f} s")
    if args.check:
        problems = check([args.needle], [args.out], [frames], shift, args.check)
        print("\n".join(problems) or "needle in the haystack: same labels, findings, evidence")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
