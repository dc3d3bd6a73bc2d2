"""The story of one connection in plain words, leg by leg across the load balancer, with frames.

``story(result, flow_id)`` is what ``pcapflow explain`` prints and what reports may embed: the same
lines everywhere.  It only reads the :class:`~pcapflow.model.result.AnalysisResult` (no I/O) and
is deterministic: times are given relative to the connection's first packet, plus one absolute
UTC time.  Wording lives in the tables below (knowledge as data), not in branches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import PurePath

from pcapflow.errors import InputError
from pcapflow.model.flow import Flow
from pcapflow.model.packet import ACK, FIN, PROTO_TCP, PROTO_UDP, RST, SYN, PacketRef
from pcapflow.model.result import AnalysisResult, Finding, FlowKind, FlowResult, Label, Leg

MAX_FRAMES_PER_LEG = 24  # frames listed per leg; the rest are counted

LEG_ROLES = {
    "outbound": "caller to frontend",
    "translated": "load balancer to member",
    "probe": "health probe",
    "direct": "direct, not through a load balancer",
    "": "connection",
}

KIND_NAMES = {
    FlowKind.FRONTEND_CALL: "call to a load-balancer frontend",
    FlowKind.MEMBER_LEG: "member leg (a connection to a member's backend port)",
    FlowKind.HEALTH_PROBE: "health probe from the load balancer",
    FlowKind.DIRECT_CALL: "direct call to a member's own address",
    FlowKind.OTHER: "connection that involves no frontend, member or probe",
}

LABEL_MEANINGS = {
    Label.OK: "the connection worked.",
    Label.HAIRPIN_OTHER_BACKEND: (
        "the caller is a member of the pool it called, and this time the load balancer chose "
        "another member, so the connection worked (the next attempt may land on the caller itself)."
    ),
    Label.HAIRPIN_SELF: (
        "the load balancer sent the caller's own connection back to the caller, changing only the "
        "destination (DNAT, no SNAT).  The packet arrives from the host's own address; the guest "
        "does not match it to the connection it opened (Linux drops it as a martian source), so "
        "no answer is ever sent and the attempt times out."
    ),
    Label.FLOATING_IP_GUEST_UNCONFIGURED: (
        "the rule uses floating IP, so the packet still carries the frontend address, but the "
        "guest does not own that address and drops it."
    ),
    Label.REFUSED: "the member answered with a reset: nothing listens on that port.",
    Label.FILTERED: "packets went out and nothing at all came back: something drops them.",
    Label.PROBE_ASYMMETRIC_ROUTE: (
        "the health probe's reply left through another interface than the probe came in on, so "
        "the load balancer never sees it and marks the member down."
    ),
    Label.IDLE_TIMEOUT: (
        "the connection stayed idle longer than the rule's idle timeout; the load balancer "
        "forgot it, and the next packet was reset or dropped."
    ),
    Label.SERVED_LOCALLY_REFUSED: (
        "the caller holds the frontend address itself, so the call never reached the load "
        "balancer; its own machine answered with a reset: nothing listens there."
    ),
    Label.UNKNOWN: "pcapflow could not tell why this connection failed.",
}

# (flag bits that must be set, bits that must be clear, words) in order of precedence
TCP_EVENTS: tuple[tuple[int, int, str], ...] = (
    (SYN | ACK, 0, "a SYN-ACK"),
    (SYN, ACK, "a SYN"),
    (RST, 0, "a reset (RST)"),
    (FIN, 0, "a FIN"),
)
PROTO_EVENTS = {PROTO_UDP: "a datagram"}


# ---- finding the connection -------------------------------------------------------------------
def find_flow(result: AnalysisResult, ident: str) -> FlowResult:
    """The flow with id ``ident`` (``<file_idx>:<uid>``), or whose uid is ``ident``."""
    for fr in result.flows:
        if ident in (fr.id, fr.flow.uid):
            return fr
    raise InputError(f"no flow {ident!r} in the capture (ids look like 0:{_sample_uid(result)})")


def find_flow_at_frame(result: AnalysisResult, frame: int, file_idx: int = 0) -> FlowResult:
    """The flow that frame ``frame`` of capture ``file_idx`` belongs to."""
    in_file = [fr for fr in result.flows if fr.flow.file_idx == file_idx]
    for fr in in_file:
        if any(p.frame == frame for p in fr.flow.packets):
            return fr
    spans = [
        fr
        for fr in in_file
        if fr.flow.packets_truncated and fr.flow.first_frame <= frame <= fr.flow.last_frame
    ]
    if spans:
        return spans[0]
    raise InputError(_no_flow_at_frame(result, frame, file_idx))


def _no_flow_at_frame(result: AnalysisResult, frame: int, file_idx: int) -> str:
    """Why no flow holds ``frame``, naming the capture file: out of range, or not TCP/UDP."""
    info = next((c.info for c in result.captures if c.info.file_idx == file_idx), None)
    if info is None:
        return f"frame {frame} of capture {file_idx} belongs to no TCP/UDP flow"
    name = "<stdin>" if info.path == "-" else info.path
    if not 1 <= frame <= info.frames:
        return f"{name} has no frame {frame} (it holds {info.frames})"
    return f"frame {frame} of {name} belongs to no TCP/UDP flow"


def _sample_uid(result: AnalysisResult) -> str:
    return result.flows[0].flow.uid if result.flows else "C..."


def connection(result: AnalysisResult, fr: FlowResult) -> list[FlowResult]:
    """Every leg of ``fr``'s connection: the caller's leg first, then the others by time."""
    ids = {fr.id, *fr.paired_with}
    for leg in result.legs:
        if fr.id == leg.outbound_flow or fr.id in leg.inbound_flows:
            ids |= {leg.outbound_flow, *leg.inbound_flows}
    members = [f for f in result.flows if f.id in ids]
    return sorted(members, key=lambda f: (f.role != "outbound", f.flow.ts, f.id))


def _leg_for(result: AnalysisResult, ids: Iterable[str]) -> Leg | None:
    wanted = set(ids)
    return next((leg for leg in result.legs if leg.outbound_flow in wanted), None)


def _finding_for(result: AnalysisResult, flow_ids: Iterable[str]) -> Finding | None:
    wanted = set(flow_ids)
    return next((f for f in result.findings if wanted & set(f.flow_ids)), None)


# ---- the story --------------------------------------------------------------------------------
def story(result: AnalysisResult, flow_id: str) -> list[str]:
    """Plain-words lines telling what happened to connection ``flow_id``, leg by leg."""
    fr = find_flow(result, flow_id)
    legs = connection(result, fr)
    offset = _clock_offsets(result)
    t0 = min(leg.flow.ts + offset.get(leg.flow.file_idx, 0.0) for leg in legs)
    lines = list(_headline(fr, legs, t0))
    for number, leg_fr in enumerate(legs, 1):
        lines.append("")
        # each leg's times are on the first capture's clock (the analysis' offset estimate)
        base = t0 - offset.get(leg_fr.flow.file_idx, 0.0)
        lines += _leg_lines(number, len(legs), leg_fr, base)
        if number == 1 and len(legs) > 1:
            lines.append("")
            lines += _nat_lines(legs[0], legs[1:], _leg_for(result, [leg_fr.id]))
    lines.append("")
    lines += _verdict(fr, legs, _finding_for(result, (f.id for f in legs)))
    return lines


def _clock_offsets(result: AnalysisResult) -> dict[int, float]:
    return {c.info.file_idx: c.clock_offset_s for c in result.captures}


def _headline(fr: FlowResult, legs: Sequence[FlowResult], t0: float) -> Iterator[str]:
    first = legs[0]
    flow = first.flow
    when = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    yield (
        f"Connection {fr.id}: {_ep(flow.orig_h, flow.orig_p)} -> {_ep(flow.resp_h, flow.resp_p)}"
        f" ({flow.proto}), first packet at {when}."
    )
    if first.frontend:
        rule = f" (rule {first.rule})" if first.rule else " (no declared rule)"
        yield f"It is an attempt on load-balancer frontend {first.frontend}{rule}."
    elif first.kind is not FlowKind.FRONTEND_CALL:
        yield f"It is a {KIND_NAMES[first.kind]}." + (f" Note: {first.note}." if first.note else "")
    legs_text = "one leg" if len(legs) == 1 else f"{len(legs)} legs"
    yield f"The capture shows {legs_text} of this connection."


def _leg_lines(number: int, total: int, fr: FlowResult, t0: float) -> list[str]:
    flow = fr.flow
    role = LEG_ROLES.get(fr.role, fr.role)
    if fr.kind is FlowKind.MEMBER_LEG:
        role = "to a member's backend port (maybe through the load balancer)"
    lines = [
        f"Leg {number} of {total}, {role}: {_ep(flow.orig_h, flow.orig_p)} -> "
        f"{_ep(flow.resp_h, flow.resp_p)}, seen in {_file(fr.capture)} "
        f"(flow {fr.id}, +{flow.ts - t0:.6f} s)."
    ]
    lines += [f"  {sentence}" for sentence in _events(flow, t0)]
    if flow.resp_pkts == 0:
        lines.append(f"  Nothing came back from {_ep(flow.resp_h, flow.resp_p)} in this capture.")
    lines.append(f"  Zeek terms: conn_state {flow.conn_state}, history {flow.history or '-'}.")
    lines += _frame_lines(fr, t0)
    return lines


def _events(flow: Flow, t0: float) -> Iterator[str]:
    """Runs of the same packet kind from the same side, as sentences."""
    run: list[PacketRef] = []
    for packet in flow.packets:
        if run and _event_key(flow, packet) != _event_key(flow, run[0]):
            yield _event_sentence(run, t0)
            run = []
        run.append(packet)
    if run:
        yield _event_sentence(run, t0)


def _event_key(flow: Flow, p: PacketRef) -> tuple[bool, str]:
    return ((p.src, p.sport) == (flow.orig_h, flow.orig_p), _packet_kind(p))


def _packet_kind(p: PacketRef) -> str:
    if p.proto != PROTO_TCP:
        words = PROTO_EVENTS.get(p.proto, "an ICMP message")
        return f"{words} ({p.payload_len} bytes)" if p.payload_len else words
    for must, clear, words in TCP_EVENTS:
        if p.tcp_flags & must == must and not p.tcp_flags & clear:
            return words
    return "data" if p.payload_len else "an ACK"


def _event_sentence(run: Sequence[PacketRef], t0: float) -> str:
    head, kind = run[0], _packet_kind(run[0])
    who = f"{_ep(head.src, head.sport)} sent {kind} to {_ep(head.dst, head.dport)}"
    frames = ", ".join(str(p.frame) for p in run)
    times = ", ".join(f"+{p.ts - t0:.6f}" for p in run)
    if kind == "data":
        size, count = sum(p.payload_len for p in run), len(run)
        noun = "frames" if count > 1 else "frame"
        return f"{who}: {count} packet{'s' * (count > 1)}, {size} bytes ({noun} {frames})."
    if len(run) == 1:
        return f"{who} (frame {frames}, +{head.ts - t0:.6f} s)."
    return f"{who} {len(run)} times (frames {frames}; at {times} s)."


def _frame_lines(fr: FlowResult, t0: float) -> list[str]:
    packets = fr.flow.packets
    lines = ["  Frames:"]
    lines += [
        f"    frame {p.frame:<7} {_offset(p.ts - t0):>13}  {p.summary()}"
        for p in packets[:MAX_FRAMES_PER_LEG]
    ]
    hidden = fr.flow.orig_pkts + fr.flow.resp_pkts - min(len(packets), MAX_FRAMES_PER_LEG)
    if hidden > 0:
        lines.append(f"    ... and {hidden} more packets (frames up to {fr.flow.last_frame}).")
    return lines


def _nat_lines(caller: FlowResult, others: Sequence[FlowResult], leg: Leg | None) -> list[str]:
    """What the load balancer changed between the caller's leg and the translated legs."""
    out = caller.flow
    lines: list[str] = []
    for fr in others:
        new = fr.flow
        dst_kept = (new.resp_h, new.resp_p) == (out.resp_h, out.resp_p)
        src_kept = (new.orig_h, new.orig_p) == (out.orig_h, out.orig_p)
        dest = (
            f"kept the destination {_ep(out.resp_h, out.resp_p)} (floating IP)"
            if dst_kept
            else f"rewrote the destination {_ep(out.resp_h, out.resp_p)} -> "
            f"{_ep(new.resp_h, new.resp_p)} (DNAT)"
        )
        source = (
            "kept the source (no SNAT)"
            if src_kept
            else f"rewrote the source to {_ep(new.orig_h, new.orig_p)} (SNAT)"
        )
        lines.append(f"Across the load balancer: it {dest} and {source}.")
        if new.resp_h == out.orig_h and src_kept:
            lines.append(
                f"The chosen member {new.resp_h} is the caller itself: the packet now goes "
                f"from {new.orig_h} to {new.resp_h}, from the host to itself."
            )
    if leg is not None:
        rule = leg.rule or "no declared rule"
        matched = ", ".join(leg.matched_on) or "timing only"
        member = f"member {leg.member}, " if leg.member else ""
        lines.append(
            f"  Matched as one connection on {matched}; {member}{rule}; the translated leg "
            f"appears {leg.delta_s * 1e6:.0f} µs after the caller's."
        )
    return lines


def _verdict(fr: FlowResult, legs: Sequence[FlowResult], finding: Finding | None) -> list[str]:
    label = next((f.label for f in legs if f.label is not None), None)
    if label is None:
        why = next((f.reason for f in legs if f.reason), "not a connection attempt")
        return [f"Verdict: no label ({why})."]
    reason = next((f.reason for f in legs if f.reason), "")
    lines = [f"Verdict: {label.value}: {LABEL_MEANINGS.get(label, '')}"]
    if reason:
        lines.append(f"  Why pcapflow says so: {reason}.".replace("..", "."))
    if finding is not None:
        of = finding.attempts or finding.count
        lines.append(f"  Part of finding {finding.id} ({finding.count} of {of}): {finding.title}.")
        if finding.remediations:
            fix = min(finding.remediations, key=lambda r: r.rank)
            lines.append(f"  First fix to consider: {fix.title}.")
    return lines


def _offset(seconds: float) -> str:
    return f"+{seconds:.6f} s"


def _ep(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _file(path: str) -> str:
    return PurePath(path).name or path
