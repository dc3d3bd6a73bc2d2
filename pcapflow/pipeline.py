"""analyze(): the one place that runs the stages in order.

read captures -> flows -> clock offsets -> (config-less: discover translations) -> local
addresses -> connections and legs -> labels and findings -> remediations -> AnalysisResult.
"""

from __future__ import annotations

import gc
import os as _os
from collections.abc import Sequence
from pathlib import Path

from pcapflow.diagnose import diagnose
from pcapflow.errors import InputError
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.flow import Flow
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import SCHEMA_VERSION, AnalysisResult, CaptureSummary, Finding, Label
from pcapflow.reconcile import (
    DEFAULT_WINDOW,
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
from pcapflow.reconcile.hosts import INITIAL_TTLS, loopback_interfaces, sending_addresses
from pcapflow.reconcile.icmp import port_unreachables
from pcapflow.reconcile.lbindex import LbIndex
from pcapflow.remediation import remediations_for

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
    ``ignore_checksums`` as in :class:`pcapflow.flows.Params`.
    """
    paths = [str(p) for p in captures]
    points = _points(paths, capture_points)
    if os not in (None, *OS_CHOICES):
        raise InputError(f"unknown --os {os!r} (choose linux, windows or auto)")
    read = [_read(path, i, engine, ignore_checksums) for i, path in enumerate(paths)]
    # The flows and their evidence packets (millions of objects for a large capture) live
    # until the end: keep the cyclic collector from walking them again and again meanwhile.
    gc.freeze()
    try:
        return analyze_flows(read, paths, lb, os=os, capture_points=points, window=window)
    finally:
        gc.unfreeze()


def analyze_flows(
    read: Sequence[tuple[CaptureInfo, list[Flow]]],
    paths: Sequence[str],
    lb: LbConfig | None = None,
    *,
    os: str | None = None,
    capture_points: Sequence[str | None] | None = None,
    window: PairingWindow = DEFAULT_WINDOW,
) -> AnalysisResult:
    """The pure core of :func:`analyze`: flows already read, one list per capture file."""
    paths = list(paths)
    read = list(read)
    points: list[str | None] = list(capture_points or [None] * len(paths))
    flows = [f for _info, f in read]
    offsets = estimate_offsets(flows)
    cfg, suggested, notes = _config(lb, paths, points, flows, offsets, window)
    views = _views(paths, points, flows, offsets, cfg)
    conns = join_connections(views, cfg, window)
    results, findings = diagnose(
        conns,
        cfg,
        paths=dict(enumerate(paths)),
        capture_end=_capture_ends(read),
        captured_members=_captured_members(views, cfg),
        loopback=frozenset(
            (i, iface)
            for i, (info, _f) in enumerate(read)
            for iface in loopback_interfaces(info, points[i])
        ),
        unreachable=port_unreachables((v.flows for v in views), window),
        captured_hosts=frozenset(a for v in views for a in v.local),
    )
    guest_os = _guest_os(os, cfg, views)
    by_rep = _by_representative(conns)
    findings = _remediate(findings, cfg, guest_os, by_rep)
    return AnalysisResult(
        schema_version=SCHEMA_VERSION,
        captures=tuple(
            CaptureSummary(info, points[i], offsets[i].offset_s, offsets[i].basis)
            for i, (info, _f) in enumerate(read)
        ),
        flows=results,
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
    path: str, file_idx: int, engine: str, ignore_checksums: bool | None = None
) -> tuple[CaptureInfo, list[Flow]]:
    from pcapflow.flows import read_capture

    if path != "-" and not _os.path.exists(path):
        raise InputError(f"{path}: no such capture file")
    return read_capture(path, engine=engine, file_idx=file_idx, ignore_checksums=ignore_checksums)


def _config(
    lb: LbConfig | None,
    paths: list[str],
    points: list[str | None],
    flows: list[list[Flow]],
    offsets: tuple[ClockOffset, ...],
    window: PairingWindow,
) -> tuple[LbConfig, str | None, tuple[str, ...]]:
    """The declared config, or one discovered from the captures (with its YAML suggestion)."""
    if lb is not None and not lb.empty:
        return lb, None, ()
    bare = _views(paths, points, flows, offsets, LbConfig())
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
) -> list[CaptureView]:
    return [
        CaptureView(
            i,
            paths[i],
            points[i],
            tuple(flows[i]),
            local_addresses(flows[i], cfg, points[i]),
            offsets[i].offset_s,
        )
        for i in range(len(paths))
    ]


def _capture_ends(read: Sequence[tuple[CaptureInfo, list[Flow]]]) -> dict[int, float]:
    ends: dict[int, float] = {}
    for i, (info, flows) in enumerate(read):
        last = info.last_ts_ns / 1e9 if info.last_ts_ns is not None else None
        ends[i] = last if last is not None else max((f.last_ts for f in flows), default=0.0)
    return ends


def _captured_members(views: list[CaptureView], cfg: LbConfig) -> frozenset[str]:
    """Pool members whose own traffic some capture in this analysis shows (a capture on one
    NIC of a VM does not cover the member address on its other NIC)."""
    return frozenset(a for v in views for a in sending_addresses(v.flows, cfg) if cfg.is_member(a))


def _guest_os(os: str | None, cfg: LbConfig, views: list[CaptureView]) -> str | None:
    """The members' OS: as given, else as declared, else from the TTL the hosts send with."""
    if os in ("linux", "windows"):
        return os
    declared = {m.os for lb in cfg.load_balancers for p in lb.pools for m in p.members if m.os}
    if len(declared) == 1:
        return declared.pop()
    ttls = {
        p.ttl
        for v in views
        for f in v.flows
        for p in f.packets
        if p.src in v.local and p.ttl in INITIAL_TTLS
    }
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
