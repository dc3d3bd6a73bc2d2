"""Ladder (sequence) diagrams of one connection across the load balancer.

:func:`ladder` decides *what* to draw (columns caller / VIP / member, one arrow per packet of
every leg, in time order); :func:`ladder_svg` decides *how* (inline SVG, no ids, no fonts to
fetch).  Outbound legs (caller -> VIP) run between the first two columns, translated legs
(caller -> member) between the last two, replies the other way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import PurePath

from pcapflow.model.packet import PROTO_TCP, PacketRef, flags_text
from pcapflow.model.result import AnalysisResult, FlowResult, Label
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


@dataclass(frozen=True, slots=True)
class Ladder:
    title: str
    columns: tuple[str, str, str]
    arrows: tuple[Arrow, ...]
    start_ts: float
    omitted: int  # packets not drawn (beyond MAX_ARROWS)
    outcome: str  # one line under the diagram


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
           offsets: dict[int, int]) -> Arrow:  # fmt: skip
    from_orig = (pkt.src, pkt.sport) == (fr.flow.orig_h, fr.flow.orig_p)
    near, far = (CALLER, LB) if outbound else (LB, MEMBER)
    src, dst = (near, far) if from_orig else (far, near)
    label, detail = _packet_text(pkt)
    text = f"{flags_text(pkt.tcp_flags)} {detail}" if detail else label
    if detail and pkt.payload_len:
        text += f" len={pkt.payload_len}"
    return Arrow(
        src=src,
        dst=dst,
        t=(pkt.ts_ns + offsets.get(pkt.file_idx, 0) - t0_ns) / 1e9,
        file=files.get(pkt.file_idx, str(pkt.file_idx)),
        frame=pkt.frame,
        text=text,
        label=label,
        detail=detail,
        leg="outbound" if outbound else "translated",
        addresses=f"{pkt.src}:{pkt.sport} -> {pkt.dst}:{pkt.dport}",
    )


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
    arrows = tuple(_arrow(fr, p, out, t0_ns, files, offsets) for fr, p, out in packets[:MAX_ARROWS])
    return Ladder(
        title=title,
        columns=_columns(result, legs, head, vip),
        arrows=arrows,
        start_ts=t0_ns / 1e9,
        omitted=max(0, len(packets) - MAX_ARROWS),
        outcome=_outcome(legs),
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
    title = escape(f"{arrow.file} frame {arrow.frame}: {arrow.addresses} [{arrow.text}]")
    where = escape(f"{PurePath(arrow.file).stem} ") if many_files else ""
    return [
        f'<g class="arrow {cls}"><title>{title}</title>',
        f'<line x1="{_fmt(x1)}" y1="{_fmt(y)}" x2="{_fmt(x2 + tip)}" y2="{_fmt(y)}"/>',
        f'<polygon points="{_fmt(x2)},{_fmt(y)} {_fmt(x2 + tip)},{_fmt(y - 4)} '
        f'{_fmt(x2 + tip)},{_fmt(y + 4)}"/>',
        f'<text class="pkt" x="{_fmt(mid)}" y="{_fmt(y - 5)}">{escape(arrow.label)}</text>',
        f'<text class="pkt detail" x="{_fmt(mid)}" y="{_fmt(y + 12)}">'
        f"{escape(arrow.detail)}</text>",
        f'<text class="when" x="8" y="{_fmt(y + 4)}">+{arrow.t:.6f} s</text>',
        f'<text class="frame" x="{LEFT - 12}" y="{_fmt(y + 4)}">{where}#{arrow.frame}</text>',
        "</g>",
    ]


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
