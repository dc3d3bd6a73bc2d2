"""Ladder (sequence) diagrams of one connection across the load balancer.

:func:`ladder` decides *what* to draw (columns caller / VIP / member, one arrow per packet of
every leg, in time order); :func:`ladder_svg` decides *how* (inline SVG, no ids, no fonts to
fetch).  Outbound legs (caller -> VIP) run between the first two columns, translated legs
(caller -> member) between the last two, replies the other way.

A packet that two given captures saw (a VM's NIC and the balancer's side of it) is one arrow,
labelled with both frames (:func:`merge_observations`); the clock offset between the two capture
points is stated once per diagram (:attr:`Ladder.clocks`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import PurePath

from pcapflow.model.packet import PROTO_TCP, PacketRef, flags_text
from pcapflow.model.result import AnalysisResult, CaptureSummary, FlowResult, Label
from pcapflow.reconcile.invariants import DEFAULT_WINDOW, is_copy
from pcapflow.report.facts import flow_index

CALLER, LB, MEMBER = 0, 1, 2
MAX_ARROWS = 24


@dataclass(frozen=True, slots=True)
class Arrow:
    src: int  # column index
    dst: int
    t: float  # seconds since the first packet drawn
    file: str
    frame: int
    text: str  # "SYN, ACK seq=.. ack=.. len=.." (the whole line)
    label: str  # "SYN, ACK len=36": drawn above the arrow
    detail: str  # "seq=.. ack=..": drawn under it
    leg: str  # "outbound" | "translated"
    addresses: str  # "10.2.1.4:40002 -> 10.2.1.4:80"
    also: tuple[tuple[str, int], ...] = ()  # the same packet at other capture points: file, frame

    @property
    def frames(self) -> tuple[tuple[str, int], ...]:
        """Every (file, frame) that saw this packet, in the order the captures were given
        (``t`` is the earliest of their corrected times)."""
        return ((self.file, self.frame), *self.also)


@dataclass(frozen=True, slots=True)
class Ladder:
    title: str
    columns: tuple[str, str, str]
    arrows: tuple[Arrow, ...]
    start_ts: float
    omitted: int  # packets not drawn (beyond MAX_ARROWS)
    outcome: str  # one line under the diagram
    clocks: tuple[str, ...] = ()  # per pair of captures that saw the same packets: their offset


Seen = tuple[FlowResult, PacketRef, bool]  # a leg, one packet it holds, drawn as outbound?


def _legs(result: AnalysisResult, head: FlowResult) -> list[FlowResult]:
    flows = flow_index(result)
    ids = [head.id, *head.paired_with]
    for fid in list(ids):
        ids += [p for p in (flows[fid].paired_with if fid in flows else ()) if p not in ids]
    return [flows[i] for i in dict.fromkeys(ids) if i in flows]


def _is_outbound(fr: FlowResult, vip: str | None) -> bool:
    if fr.role in ("outbound", "translated"):
        return fr.role == "outbound"
    return fr.frontend is not None or fr.flow.resp_h == vip


def _arrow(fr: FlowResult, pkt: PacketRef, outbound: bool, t0_ns: int, files: dict[int, str],
           offsets: dict[int, int], also: Sequence[PacketRef] = ()) -> Arrow:  # fmt: skip
    from_orig = (pkt.src, pkt.sport) == (fr.flow.orig_h, fr.flow.orig_p)
    near, far = (CALLER, LB) if outbound else (LB, MEMBER)
    src, dst = (near, far) if from_orig else (far, near)
    label, detail = _packet_text(pkt)
    text = f"{flags_text(pkt.tcp_flags)} {detail}" if detail else label
    if detail and pkt.payload_len:
        text += f" len={pkt.payload_len}"
    first, *others = sorted((pkt, *also), key=lambda p: p.file_idx)  # in capture order
    return Arrow(
        src=src,
        dst=dst,
        t=(pkt.ts_ns + offsets.get(pkt.file_idx, 0) - t0_ns) / 1e9,
        file=files.get(first.file_idx, str(first.file_idx)),
        frame=first.frame,
        text=text,
        label=label,
        detail=detail,
        leg="outbound" if outbound else "translated",
        addresses=f"{pkt.src}:{pkt.sport} -> {pkt.dst}:{pkt.dport}",
        also=tuple((files.get(p.file_idx, str(p.file_idx)), p.frame) for p in others),
    )


def merge_observations(
    packets: Sequence[Seen],
    offsets: Mapping[int, int],
    window_s: float = DEFAULT_WINDOW.cross_capture_s,
) -> list[tuple[Seen, tuple[PacketRef, ...]]]:
    """Each packet once, with its observations at other capture points.

    ``packets`` in drawing (time) order; ``offsets``: nanoseconds to add to each file's times.
    A packet joins an earlier one when it was captured in another file (not yet in the group),
    is drawn on the same leg, has the same addresses, ports, flags, seq and ack and a
    discriminating invariant (IP ID, TSval or payload, :func:`is_copy`), within ``window_s`` after
    clock correction.  Two packets of one capture are never merged (a retransmission, or the
    caller's SYN and its DNAT'd copy, are packets of their own)."""
    groups: list[tuple[Seen, list[PacketRef]]] = []
    limit_ns = window_s * 1e9
    for seen in packets:
        _fr, pkt, outbound = seen
        at = pkt.ts_ns + offsets.get(pkt.file_idx, 0)
        for (_f, first, out), others in groups:
            files = {first.file_idx, *(p.file_idx for p in others)}
            if pkt.file_idx in files or out != outbound:
                continue
            if abs(at - first.ts_ns - offsets.get(first.file_idx, 0)) > limit_ns:
                continue
            if _same_packet(first, pkt):
                others.append(pkt)
                break
        else:
            groups.append((seen, []))
    return [(seen, tuple(others)) for seen, others in groups]


def _same_packet(a: PacketRef, b: PacketRef) -> bool:
    return (a.dst, a.dport, a.ack, a.tcp_flags, a.payload_len) == (
        b.dst,
        b.dport,
        b.ack,
        b.tcp_flags,
        b.payload_len,
    ) and is_copy(a, b)


def clock_notes(captures: Sequence[CaptureSummary], arrows: Sequence[Arrow]) -> tuple[str, ...]:
    """One line per pair of captures that saw the same packets: the clock offset between them,
    as the analysis estimated it (``clock_offset_s`` of each file, relative to the first)."""
    by_path = {c.info.path: c for c in captures}

    def order(path: str) -> int:
        return by_path[path].info.file_idx if path in by_path else -1

    pairs = sorted(
        {
            (min(a.file, other, key=order), max(a.file, other, key=order))
            for a in arrows
            for other, _frame in a.also
        },
        key=lambda pair: (order(pair[0]), order(pair[1])),
    )
    notes: list[str] = []
    for first, second in pairs:
        one, two = by_path.get(first), by_path.get(second)
        if one is None or two is None:
            continue
        delta = two.clock_offset_s - one.clock_offset_s
        basis = max(one.clock_offset_basis, two.clock_offset_basis)
        how = f"estimated from {basis} matched packets" if basis else "not estimated"
        notes.append(
            f"{PurePath(first).name} and {PurePath(second).name} saw the same packets, drawn "
            f"once with both frames; clock offset between the two points: "
            f"{PurePath(second).name} times {delta * 1e6:+.1f} µs to match "
            f"{PurePath(first).name} ({how})"
        )
    return tuple(notes)


def _packet_text(pkt: PacketRef) -> tuple[str, str]:
    """(flags and length, sequence numbers) of one packet."""
    if pkt.proto != PROTO_TCP:
        return f"{'UDP' if pkt.proto == 17 else 'ICMP'} len={pkt.payload_len}", ""
    size = f" len={pkt.payload_len}" if pkt.payload_len else ""
    return f"{flags_text(pkt.tcp_flags)}{size}", f"seq={pkt.seq} ack={pkt.ack}"


def ladder(result: AnalysisResult, head: FlowResult, title: str) -> Ladder:
    """The ladder of the connection ``head`` belongs to (every leg found in ``result``)."""
    vip = head.frontend.rsplit(":", 1)[0].strip("[]") if head.frontend else None
    legs = _legs(result, head)
    files = {c.info.file_idx: c.info.path for c in result.captures}
    offsets = {c.info.file_idx: round(c.clock_offset_s * 1e9) for c in result.captures}
    packets = [(fr, p, _is_outbound(fr, vip)) for fr in legs for p in fr.flow.packets]
    packets.sort(key=lambda x: (x[1].ts_ns + offsets.get(x[1].file_idx, 0), x[1].file_idx,
                                x[1].frame))  # fmt: skip
    first = packets[0][1] if packets else None
    t0_ns = first.ts_ns + offsets.get(first.file_idx, 0) if first else round(head.flow.ts * 1e9)
    merged = merge_observations(packets, offsets)
    arrows = tuple(
        _arrow(fr, p, out, t0_ns, files, offsets, also)
        for (fr, p, out), also in merged[:MAX_ARROWS]
    )
    return Ladder(
        title=title,
        columns=_columns(result, legs, head, vip),
        arrows=arrows,
        start_ts=t0_ns / 1e9,
        omitted=max(0, len(merged) - MAX_ARROWS),
        outcome=_outcome(legs),
        clocks=clock_notes(result.captures, arrows),
    )


def _columns(result: AnalysisResult, legs: Sequence[FlowResult], head: FlowResult,
             vip: str | None) -> tuple[str, str, str]:  # fmt: skip
    caller = head.flow.orig_h
    translated = [fr for fr in legs if not _is_outbound(fr, vip)]
    member = translated[0].flow.resp_h if translated else _leg_member(result, head)
    member_text = f"member {member}" if member else "member (not in capture)"
    if member and member == caller:
        member_text += " = the caller"
    frontend = head.frontend or (f"{vip}" if vip else "VIP")
    return (f"caller {caller}", f"load balancer {frontend}", member_text)


def _leg_member(result: AnalysisResult, head: FlowResult) -> str | None:
    ids = {head.id, *head.paired_with}
    for leg in result.legs:
        if leg.outbound_flow in ids or ids & set(leg.inbound_flows):
            return leg.member
    return None


def _outcome(legs: Sequence[FlowResult]) -> str:
    states = ", ".join(f"{fr.flow.conn_state} ({fr.role or 'flow'})" for fr in legs)
    reasons = sorted({fr.reason for fr in legs if fr.reason})
    why = " ".join(r[:1].upper() + r[1:].rstrip(".") + "." for r in reasons)
    return f"Zeek state: {states}." + (f" Why: {why}" if why else "")


def pick_failing(result: AnalysisResult, flow_ids: Sequence[str]) -> FlowResult | None:
    """The representative failing connection: the first attempt leg of the finding."""
    flows = flow_index(result)
    chosen = [flows[i] for i in flow_ids if i in flows]
    attempts = [f for f in chosen if f.frontend is not None] or chosen
    return min(attempts, key=lambda f: (f.flow.ts, f.id), default=None)


def pick_healthy(result: AnalysisResult, frontend: str | None) -> FlowResult | None:
    """A connection to the same frontend that worked, for contrast (``ok`` first)."""
    for label in (Label.OK, Label.HAIRPIN_OTHER_BACKEND):
        same = [f for f in result.flows if f.label is label and f.frontend == frontend]
        if same:
            return same[0]
    return None


# ---- SVG ------------------------------------------------------------------------------------
WIDTH, TOP, ROW, LEFT, BOX = 900, 64, 34, 220, 220
FRAME_LINE = 11  # line height of the frame column when a packet was seen at several points
COLUMN_X = (LEFT + 112, LEFT + 345, LEFT + 568)
LEG_CLASS = {"outbound": "leg-out", "translated": "leg-in"}


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg_arrow(arrow: Arrow, y: float, many_files: bool) -> list[str]:
    x1, x2 = COLUMN_X[arrow.src], COLUMN_X[arrow.dst]
    tip = -8 if x2 > x1 else 8
    mid = (x1 + x2) / 2
    cls = LEG_CLASS.get(arrow.leg, "leg-out")
    if "RST" in arrow.text:
        cls += " rst"
    seen = " = ".join(f"{file} frame {frame}" for file, frame in arrow.frames)
    title = escape(f"{seen}: {arrow.addresses} [{arrow.text}]")
    return [
        f'<g class="arrow {cls}"><title>{title}</title>',
        f'<line x1="{_fmt(x1)}" y1="{_fmt(y)}" x2="{_fmt(x2 + tip)}" y2="{_fmt(y)}"/>',
        f'<polygon points="{_fmt(x2)},{_fmt(y)} {_fmt(x2 + tip)},{_fmt(y - 4)} '
        f'{_fmt(x2 + tip)},{_fmt(y + 4)}"/>',
        f'<text class="pkt" x="{_fmt(mid)}" y="{_fmt(y - 5)}">{escape(arrow.label)}</text>',
        f'<text class="pkt detail" x="{_fmt(mid)}" y="{_fmt(y + 12)}">'
        f"{escape(arrow.detail)}</text>",
        f'<text class="when" x="8" y="{_fmt(y + 4)}">+{arrow.t:.6f} s</text>',
        _svg_frames(arrow, y, many_files),
        "</g>",
    ]


def _svg_frames(arrow: Arrow, y: float, many_files: bool) -> str:
    """``#12``, ``web01-eth0 #12``, or one line per capture that saw the packet."""
    frames = arrow.frames
    if len(frames) == 1:
        where = escape(f"{PurePath(arrow.file).stem} ") if many_files else ""
        return f'<text class="frame" x="{LEFT - 12}" y="{_fmt(y + 4)}">{where}#{arrow.frame}</text>'
    top = y + 4 - FRAME_LINE * (len(frames) - 1) / 2
    lines = "".join(
        f'<tspan x="{LEFT - 12}" y="{_fmt(top + n * FRAME_LINE)}">'
        f"{escape(PurePath(file).stem)} #{frame}</tspan>"
        for n, (file, frame) in enumerate(frames)
    )
    return f'<text class="frame">{lines}</text>'


def ladder_svg(diagram: Ladder) -> str:
    """Inline SVG of ``diagram``: column heads, lifelines, one labelled arrow per packet."""
    rows = max(1, len(diagram.arrows))
    height = TOP + rows * ROW + 16
    out = [
        f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(diagram.title)}">',
        f"<title>{escape(diagram.title)}</title>",
        '<text class="colhead" x="8" y="20">time</text>',
        f'<text class="colhead" x="{LEFT - 12}" y="20" text-anchor="end">frame</text>',
    ]
    for x, name in zip(COLUMN_X, diagram.columns, strict=True):
        out.append(
            f'<rect class="node" x="{x - BOX // 2}" y="6" width="{BOX}" height="28" rx="4"/>'
        )
        out.append(f'<text class="nodename" x="{x}" y="25">{escape(name)}</text>')
        out.append(f'<line class="life" x1="{x}" y1="34" x2="{x}" y2="{height - 6}"/>')
    many_files = len({a.file for a in diagram.arrows}) > 1
    for n, arrow in enumerate(diagram.arrows):
        out.extend(_svg_arrow(arrow, TOP + n * ROW + ROW / 2, many_files))
    if not diagram.arrows:
        out.append(f'<text class="pkt" x="{COLUMN_X[1]}" y="{TOP + 20}">no packets kept</text>')
    out.append("</svg>")
    return "\n".join(out)
