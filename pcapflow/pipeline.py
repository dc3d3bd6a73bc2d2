"""analyze(): the one place that runs the stages in order.

read captures -> flows -> clock offsets -> (config-less: discover translations) -> local
addresses -> connections and legs -> labels and findings -> remediations -> AnalysisResult.
"""

from __future__ import annotations

import gc
import ipaddress
import os as _os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

from pcapflow.diagnose import diagnose
from pcapflow.diagnose.ok import NO_OPENING, OK_ANSWERED
from pcapflow.errors import InputError
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.checksums import policy_note
from pcapflow.model.flow import Flow
from pcapflow.model.lb import LbConfig
from pcapflow.model.packet import PROTO_TCP
from pcapflow.model.result import (
    SCHEMA_VERSION,
    AnalysisResult,
    CaptureSummary,
    Finding,
    FlowKind,
    FlowResult,
    Label,
)
from pcapflow.reconcile import (
    DEFAULT_WINDOW,
    DIRECT,
    CaptureView,
    ClockOffset,
    Connection,
    PairingWindow,
    discover_translations,
    estimate_offsets,
    join_connections,
    local_addresses,
    suggest_config,
    to_leg,
)
from pcapflow.reconcile.hosts import (
    Senders,
    loopback_interfaces,
    sending_addresses,
    ttl_senders,
)
from pcapflow.reconcile.icmp import port_unreachables
from pcapflow.reconcile.lbindex import LbIndex
from pcapflow.remediation import remediations_for

if TYPE_CHECKING:  # the readers (numba) are imported when a capture is read
    from pcapflow.flows.evidence import LeanCapture
    from pcapflow.flows.spill import SpilledTable
    from pcapflow.flows.table import Background, FlowTable

    Rest: TypeAlias = FlowTable | SpilledTable  # background flows: in memory or in a temporary file

OS_CHOICES = ("linux", "windows", "auto")


def analyze(
    captures: Sequence[str | Path],
    lb: LbConfig | None = None,
    *,
    os: str | None = None,
    engine: str = "fast",
    capture_points: Sequence[str | None] | None = None,
    window: PairingWindow = DEFAULT_WINDOW,
    ignore_checksums: bool | None = None,
) -> AnalysisResult:
    """Analyse capture files (from one or several capture points) against a declared config.

    ``os`` is the guest OS of the members ("linux", "windows"; None or "auto" infers it);
    ``capture_points`` names each capture's point (e.g. "web01 eth0"), default: the file name;
    ``ignore_checksums`` as in :class:`pcapflow.flows.Params` (the checksum policy,
    :mod:`pcapflow.model.checksums`; one other than the default is named in the first note).
    """
    paths = [str(p) for p in captures]
    points = _points(paths, capture_points)
    if os not in (None, *OS_CHOICES):
        raise InputError(f"unknown --os {os!r} (choose linux, windows or auto)")
    declared = lb if lb is not None and not lb.empty else None
    with _spooled(paths) as files:
        lean = [_read(path, i, engine, declared, ignore_checksums) for i, path in enumerate(files)]
        lean = [replace(c, info=replace(c.info, path=paths[i])) for i, c in enumerate(lean)]
        # The flows live until the end: keep the cyclic collector from walking them again
        # and again meanwhile.
        gc.freeze()
        try:
            result = _analyze_lean(files, paths, lean, lb, os, engine, points, window)
        finally:
            gc.unfreeze()
    note = policy_note(ignore_checksums)  # a policy other than the default is said
    return result if note is None else replace(result, notes=(note, *result.notes))


def _analyze_lean(
    files: list[str],
    paths: list[str],
    lean: list[LeanCapture],
    lb: LbConfig | None,
    os: str | None,
    engine: str,
    points: list[str | None],
    window: PairingWindow,
) -> AnalysisResult:
    """The flow tables read: evidence packets for the flows that need them, then the analysis
    of those; the other flows are background (see :mod:`pcapflow.reconcile.relevance`)."""
    from pcapflow.flows.spill import spill
    from pcapflow.flows.table import FlowTable
    from pcapflow.reconcile.relevance import needs_packets

    declared = lb if lb is not None and not lb.empty else None
    tables = [c.table for c in lean]
    want = needs_packets(tables, declared)
    flows = [_load(files[i], c, want[i], engine, declared) for i, c in enumerate(lean)]
    if declared is None:
        flows, want = _load_discovered(files, lean, flows, want, engine, paths, points, window)
    lean = [c.settled() for c in lean]  # the hashes computed apart are needed from here on
    background: list[Rest] = []
    for i in range(len(lean)):  # the background rows replace the whole table (in a file if big)
        background.append(spill(lean[i].table, np.flatnonzero(~want[i])))
        lean[i] = replace(lean[i], table=FlowTable.empty())
    del tables
    return analyze_flows(
        [(c.info, flows[i]) for i, c in enumerate(lean)],
        paths,
        lb,
        os=os,
        capture_points=points,
        window=window,
        background=background,
        senders=[c.senders for c in lean],
    )


@contextmanager
def _spooled(paths: list[str]) -> Iterator[list[str]]:
    """The capture files, standard input ("-") copied to a temporary file first: the analysis
    reads a file twice (the flow table, then the evidence packets of the flows that matter)."""
    if "-" not in paths:
        yield paths
        return
    with tempfile.NamedTemporaryFile(prefix="pcapflow-stdin-") as tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp, 1 << 20)
        tmp.flush()
        yield [tmp.name if p == "-" else p for p in paths]


def _load(
    path: str, lean: LeanCapture, want: npt.NDArray[np.bool_], engine: str, lb: LbConfig | None
) -> list[Flow]:
    """The flows of rows ``want``, with their evidence packets: from the packets pass 1 kept
    for the TCP and UDP flows that touch the balancer, from a second pass for the others."""
    from pcapflow.reconcile.relevance import touches_balancer

    table = lean.table
    covered = np.zeros(len(table), dtype=np.bool_)
    if lean.side is not None and want.any():
        rows = np.flatnonzero(want)  # only the wanted rows are tested (not a spilled table)
        chosen = table.take(rows)
        tcp_udp = np.isin(chosen.cols["proto"], (6, 17))
        covered[rows] = tcp_udp & touches_balancer(chosen, lb)
    side = _evidence(path, lean, covered, engine, lean.side)
    read = _evidence(path, lean, want & ~covered, engine, None)
    by_row = dict(zip(np.flatnonzero(covered).tolist(), side, strict=True))
    by_row.update(zip(np.flatnonzero(want & ~covered).tolist(), read, strict=True))
    return [by_row[r] for r in np.flatnonzero(want).tolist()]


def _evidence(
    path: str,
    lean: LeanCapture,
    rows: npt.NDArray[np.bool_],
    engine: str,
    side: npt.NDArray[np.void] | None,
) -> list[Flow]:
    from pcapflow.flows.evidence import load_evidence

    chosen = lean.table.take(np.flatnonzero(rows))
    if not len(chosen):
        return []
    return load_evidence(
        path,
        chosen.flows(),
        chosen.cols["key_hash"],
        engine=engine,
        file_idx=lean.info.file_idx,
        side=side,
        resume=lean.resume,
    )


def _load_discovered(
    files: list[str],
    lean: list[LeanCapture],
    flows: list[list[Flow]],
    want: list[npt.NDArray[np.bool_]],
    engine: str,
    paths: list[str],
    points: list[str | None],
    window: PairingWindow,
) -> tuple[list[list[Flow]], list[npt.NDArray[np.bool_]]]:
    """Without a config: the flows the discovered config makes relevant get their packets too."""
    from pcapflow.reconcile.relevance import needs_packets

    offsets = estimate_offsets(flows)
    senders = [c.senders for c in lean]
    cfg, _yaml, _notes = _config(None, paths, points, flows, offsets, window, senders)
    if cfg.empty:
        return flows, want
    again = needs_packets([c.table for c in lean], cfg)
    out_flows, out_want = [], []
    for i, c in enumerate(lean):
        extra = again[i] & ~want[i]
        both = again[i] | want[i]
        if extra.any():
            loaded = _load(files[i], c, extra, engine, None)
            # both lists follow the table's row order: merge them by row
            by_row = dict(zip(np.flatnonzero(want[i]).tolist(), flows[i], strict=True))
            by_row.update(zip(np.flatnonzero(extra).tolist(), loaded, strict=True))
            out_flows.append([by_row[r] for r in np.flatnonzero(both).tolist()])
        else:
            out_flows.append(flows[i])
        out_want.append(both)
    return out_flows, out_want


def analyze_flows(
    read: Sequence[tuple[CaptureInfo, list[Flow]]],
    paths: Sequence[str],
    lb: LbConfig | None = None,
    *,
    os: str | None = None,
    capture_points: Sequence[str | None] | None = None,
    window: PairingWindow = DEFAULT_WINDOW,
    background: Sequence[Rest] | None = None,
    senders: Sequence[Senders] | None = None,
) -> AnalysisResult:
    """The pure core of :func:`analyze`: flows already read, one list per capture file.

    ``background``: per file, healthy flows left out of the reconciliation (no packets needed,
    see :mod:`pcapflow.reconcile.relevance`), labelled from their columns; ``senders``: per
    file, the (source, initial TTL) pairs of every packet (else taken from the flows' packets).
    """
    paths = list(paths)
    read = list(read)
    points: list[str | None] = list(capture_points or [None] * len(paths))
    flows = [f for _info, f in read]
    rest = list(background) if background is not None else []
    sent = list(senders) if senders is not None else [ttl_senders(f) for f in flows]
    offsets = estimate_offsets(flows)
    cfg, suggested, notes = _config(lb, paths, points, flows, offsets, window, sent, rest)
    views = _views(paths, points, flows, offsets, cfg, sent, rest)
    conns = join_connections(views, cfg, window)
    results, findings = diagnose(
        conns,
        cfg,
        paths=dict(enumerate(paths)),
        capture_end=_capture_ends(read, rest),
        captured_members=_captured_members(views, cfg, sent),
        loopback=frozenset(
            (i, iface)
            for i, (info, _f) in enumerate(read)
            for iface in loopback_interfaces(info, points[i])
        ),
        unreachable=port_unreachables((v.flows for v in views), window),
        captured_hosts=frozenset(a for v in views for a in v.local),
    )
    every = _with_background(results, rest, paths, cfg)
    guest_os = _guest_os(os, cfg, views, sent)
    by_rep = _by_representative(conns)
    findings = _remediate(findings, cfg, guest_os, by_rep)
    return AnalysisResult(
        schema_version=SCHEMA_VERSION,
        captures=tuple(
            CaptureSummary(info, points[i], offsets[i].offset_s, offsets[i].basis)
            for i, (info, _f) in enumerate(read)
        ),
        flows=every,
        legs=tuple(leg for c in conns if (leg := to_leg(c)) is not None),
        findings=findings,
        lb_sources=cfg.sources,
        os=guest_os,
        suggested_config=suggested,
        notes=notes + tuple(n for c in conns for n in c.notes),
    )


def _points(paths: list[str], given: Sequence[str | None] | None) -> list[str | None]:
    if not paths:
        raise InputError("no capture file given")
    if given is None:
        given = [None] * len(paths)
    if len(given) != len(paths):
        raise InputError(f"{len(given)} capture point name(s) for {len(paths)} capture file(s)")
    return [p or _default_point(path) for p, path in zip(given, paths, strict=True)]


def _default_point(path: str) -> str | None:
    """``.../web01-eth0.pcapng`` -> ``web01-eth0``; None for standard input."""
    if path == "-":
        return None
    name = Path(path).name
    for suffix in (".gz", ".pcapng", ".pcap", ".cap"):
        name = name.removesuffix(suffix)
    return name or None


def _read(
    path: str, file_idx: int, engine: str, lb: LbConfig | None, ignore_checksums: bool | None
) -> LeanCapture:
    """Pass 1; with a config, the packets of the flows that touch the balancer are kept on
    the way (they then need no second pass)."""
    from pcapflow.capture.digest import hashable_apart, sha256_of
    from pcapflow.flows.evidence import Endpoints, read_lean
    from pcapflow.reconcile.relevance import pass_one_endpoints

    if path != "-" and not _os.path.exists(path):
        raise InputError(f"{path}: no such capture file")
    keep = Endpoints(*pass_one_endpoints(lb)) if lb is not None else None
    apart = engine == "fast" and hashable_apart(path)  # hashed on a thread of its own
    later = sha256_of(path) if apart else None
    lean = read_lean(
        path,
        engine=engine,
        file_idx=file_idx,
        keep=keep,
        ignore_checksums=ignore_checksums,
        digest=not apart,
    )
    return replace(lean, sha256=later) if later is not None else lean


def _config(
    lb: LbConfig | None,
    paths: list[str],
    points: list[str | None],
    flows: list[list[Flow]],
    offsets: tuple[ClockOffset, ...],
    window: PairingWindow,
    senders: list[Senders],
    rest: list[Rest] | None = None,
) -> tuple[LbConfig, str | None, tuple[str, ...]]:
    """The declared config, or one discovered from the captures (with its YAML suggestion)."""
    if lb is not None and not lb.empty:
        return lb, None, ()
    bare = _views(paths, points, flows, offsets, LbConfig(), senders, rest)
    found = discover_translations(bare, window)
    if not found:
        return (
            LbConfig(),
            None,
            (
                "no load-balancer config given and no translation found in the captures: "
                "no connection could be tied to a load-balancer frontend, so a failed "
                f"connection is labelled '{Label.UNKNOWN.value}' under the address it called "
                "(give --lb for the hairpin diagnosis)",
            ),
        )
    cfg = suggest_config(found)
    from pcapflow.lbconfig import to_yaml

    note = (
        f"no load-balancer config given: {len(found)} translation(s) discovered in the "
        "captures; they were analysed against the suggested config (suggested_config)"
    )
    return cfg, to_yaml(cfg), (note,)


def _views(
    paths: list[str],
    points: list[str | None],
    flows: list[list[Flow]],
    offsets: tuple[ClockOffset, ...],
    cfg: LbConfig,
    senders: list[Senders],
    rest: list[Rest] | None = None,
) -> list[CaptureView]:
    return [
        CaptureView(
            i,
            paths[i],
            points[i],
            tuple(flows[i]),
            local_addresses(flows[i], cfg, points[i], senders[i], _addresses(rest, i)),
            offsets[i].offset_s,
        )
        for i in range(len(paths))
    ]


def _addresses(rest: list[Rest] | None, i: int) -> Iterator[str]:
    """Both addresses of every background flow of capture ``i`` (origins first)."""
    if not rest:
        return
    for side in ("orig_h", "resp_h"):
        for part in _parts(rest[i]):
            yield from getattr(part, side).tolist()


def _parts(table: Rest) -> Iterator[FlowTable]:
    from pcapflow.flows.table import CHUNK, FlowTable

    if isinstance(table, FlowTable):
        yield table
    else:
        yield from table.chunks(CHUNK)


def _capture_ends(
    read: Sequence[tuple[CaptureInfo, list[Flow]]], rest: list[Rest]
) -> dict[int, float]:
    ends: dict[int, float] = {}
    for i, (info, flows) in enumerate(read):
        last = info.last_ts_ns / 1e9 if info.last_ts_ns is not None else None
        every = [f.last_ts for f in flows]
        if rest and len(rest[i]):
            every.append(float(rest[i].last_ts.max()))
        ends[i] = last if last is not None else max(every, default=0.0)
    return ends


def _with_background(
    results: tuple[FlowResult, ...], rest: list[Rest], paths: list[str], cfg: LbConfig
) -> Sequence[FlowResult]:
    """The diagnosed flows and the healthy background ones, in (file, ts, uid) order."""
    if not any(len(t) for t in rest):
        return results
    from pcapflow.flows.table import TableResults

    return TableResults(results, [_background(t, paths[i], cfg) for i, t in enumerate(rest)])


def _background(table: Rest, path: str, cfg: LbConfig) -> Background:
    """Healthy flows judged by their columns as the diagnosis would judge them: answered, so
    ``ok`` (a TCP connection whose SYN was not captured: no label); a direct call when the
    responder is a pool member, else other (they touch no frontend, backend port or probe)."""
    from pcapflow.flows.table import KINDS, Background
    from pcapflow.reconcile.relevance import member_addresses_at

    direct = member_addresses_at(table, "resp", cfg)
    kinds = np.where(direct, KINDS.index(FlowKind.DIRECT_CALL), KINDS.index(FlowKind.OTHER)).astype(
        np.int8
    )
    if not len(table):  # an empty table has no columns
        return Background(table, path, DIRECT, (OK_ANSWERED, NO_OPENING), kinds, direct)
    opened = (table.cols["proto"] != PROTO_TCP) | (table.cols["isn"] >= 0)
    return Background(table, path, DIRECT, (OK_ANSWERED, NO_OPENING), kinds, opened)


def _captured_members(
    views: list[CaptureView], cfg: LbConfig, senders: list[Senders]
) -> frozenset[str]:
    """Pool members whose own traffic some capture in this analysis shows (a capture on one
    NIC of a VM does not cover the member address on its other NIC).  Addresses read from
    packets are in canonical form; the members' are made so once."""
    members = frozenset(
        _canonical(m.address) for lb in cfg.load_balancers for p in lb.pools for m in p.members
    )
    return frozenset(
        a for v in views for a in sending_addresses(v.flows, cfg, senders[v.file_idx]) & members
    )


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def _guest_os(
    os: str | None, cfg: LbConfig, views: list[CaptureView], senders: list[Senders]
) -> str | None:
    """The members' OS: as given, else as declared, else from the TTL the hosts send with."""
    if os in ("linux", "windows"):
        return os
    declared = {m.os for lb in cfg.load_balancers for p in lb.pools for m in p.members if m.os}
    if len(declared) == 1:
        return declared.pop()
    ttls = {ttl for v in views for src, ttl in senders[v.file_idx] if src in v.local}
    if ttls == {64}:
        return "linux"
    if ttls == {128}:
        return "windows"
    return None


def _by_representative(conns: Sequence[Connection]) -> dict[str, Connection]:
    return {c.representative.id: c for c in conns}


def _capture_facts(conn: Connection | None) -> dict[str, str]:
    """What the captures add to the config for the remediation templates: a caller that is a
    second address of the member its calls came back to (the second-NIC workaround)."""
    if conn is None or not conn.self_mapped or not conn.member:
        return {}
    caller = conn.representative.flow.orig_h
    return {"nic2": caller, "primary": conn.member} if conn.member != caller else {}


def _remediate(
    findings: Sequence[Finding], cfg: LbConfig, os: str | None, conns: dict[str, Connection]
) -> tuple[Finding, ...]:
    """Attach remediations; a lucky-hairpin finding whose failing twin (same caller, frontend
    and rule) is also reported defers to it rather than repeating the same fixes."""
    failing = {(f.caller, f.frontend, f.rule) for f in findings if f.label is Label.HAIRPIN_SELF}
    index = LbIndex(cfg)
    out = []
    for f in findings:
        twin = f.label is Label.HAIRPIN_OTHER_BACKEND and (f.caller, f.frontend, f.rule) in failing
        out.append(f if twin else _with_remediations(f, cfg, os, conns, index))
    return tuple(out)


def _with_remediations(
    finding: Finding, cfg: LbConfig, os: str | None, conns: dict[str, Connection], index: LbIndex
) -> Finding:
    from dataclasses import replace

    conn = conns.get(finding.flow_ids[0]) if finding.flow_ids else None
    proto = conn.representative.flow.proto if conn else "tcp"
    rems = remediations_for(finding, cfg, os, proto, index, _capture_facts(conn))
    return replace(finding, remediations=rems)
