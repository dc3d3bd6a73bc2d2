"""Hand-built packets and flows for the analysis tests (reconcile, diagnose, remediation).

Flows are built the way the flow assembler reports them (Zeek orig/resp, conn_state, history),
from a short list of packets, so the decisions can be tested without capture files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pcapflow.model.flow import Flow
from pcapflow.model.lb import (
    BackendPool,
    Frontend,
    LbConfig,
    LoadBalancer,
    Member,
    Probe,
    ProbeProtocol,
    Protocol,
    Rule,
)
from pcapflow.model.packet import ACK, PF_HAS_TS, RST, SYN, PacketRef

T0 = 1_764_312_345.0
B, B2, T, VIP, C = "10.2.1.4", "10.2.1.5", "10.2.1.6", "10.2.1.100", "192.168.2.1"
PROBE_SRC = "168.63.129.16"


def pkt(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    flags: int,
    *,
    t: float,
    seq: int = 1000,
    ack: int = 0,
    ip_id: int = 77,
    tsval: int | None = 5000,
    ttl: int = 64,
    frame: int = 1,
    file_idx: int = 0,
    iface: int = 0,
    proto: int = 6,
    payload_len: int = 0,
    payload_hash: int = 0,
) -> PacketRef:
    return PacketRef(
        file_idx=file_idx,
        frame=frame,
        ts_ns=round((T0 + t) * 1e9),
        iface=iface,
        src=src,
        sport=sport,
        dst=dst,
        dport=dport,
        proto=proto,
        tcp_flags=flags,
        seq=seq,
        ack=ack,
        payload_len=payload_len,
        ip_len=60 + payload_len,
        ip_id=ip_id,
        ttl=ttl,
        tsval=tsval,
        opts_hash=0xABCD if proto == 6 else 0,
        payload_hash=payload_hash,
        pflags=PF_HAS_TS if tsval is not None else 0,
    )


def flow(packets: Sequence[PacketRef], *, orig: tuple[str, int] | None = None) -> Flow:
    """A flow from its packets; the originator is the first SYN's (or first packet's) sender."""
    first = packets[0]
    syns = [p for p in packets if p.tcp_flags & SYN and not p.tcp_flags & ACK]
    opener = syns[0] if syns else first
    oh, op = orig or (opener.src, opener.sport)
    if orig is None and first.tcp_flags & SYN and first.tcp_flags & ACK:
        oh, op = first.dst, first.dport
    resp = next(p for p in packets if (p.src, p.sport) == (oh, op) or (p.dst, p.dport) == (oh, op))
    rh, rp = (
        (resp.dst, resp.dport) if (resp.src, resp.sport) == (oh, op) else (resp.src, resp.sport)
    )
    o = [p for p in packets if (p.src, p.sport) == (oh, op)]
    r = [p for p in packets if (p.src, p.sport) != (oh, op)]
    proto = {6: "tcp", 17: "udp"}.get(first.proto, "icmp")
    state, history = _state(proto, o, r, bool(syns))
    uid = (
        "C" + hashlib.sha1(repr([(p.file_idx, p.frame) for p in packets]).encode()).hexdigest()[:17]
    )
    return Flow(
        uid=uid,
        ts=packets[0].ts,
        orig_h=oh,
        orig_p=op,
        resp_h=rh,
        resp_p=rp,
        proto=proto,
        duration=packets[-1].ts - packets[0].ts,
        orig_bytes=sum(p.payload_len for p in o),
        resp_bytes=sum(p.payload_len for p in r),
        conn_state=state,
        missed_bytes=0,
        history=history,
        orig_pkts=len(o),
        orig_ip_bytes=sum(p.ip_len for p in o),
        resp_pkts=len(r),
        resp_ip_bytes=sum(p.ip_len for p in r),
        file_idx=first.file_idx,
        first_frame=min(p.frame for p in packets),
        last_frame=max(p.frame for p in packets),
        ifaces=tuple(sorted({p.iface for p in packets})),
        isn=syns[0].seq if syns and proto == "tcp" else None,
        resp_isn=next((p.seq for p in r if p.tcp_flags & SYN), None),
        syn_ip_id=syns[0].ip_id if syns else None,
        syn_ttl=syns[0].ttl if syns else None,
        syn_opts_hash=syns[0].opts_hash if syns else None,
        syn_tsval=syns[0].tsval if syns else None,
        syn_retransmits=max(0, len({p.ip_id for p in syns}) - 1),
        duplicates=0,
        last_ts=packets[-1].ts,
        packets=tuple(packets),
    )


def _state(proto: str, o: list[PacketRef], r: list[PacketRef], syn: bool) -> tuple[str, str]:
    if proto != "tcp":
        return ("SF" if o and r else "S0" if o else "SHR"), ("Dd" if r else "D")
    synack = any(p.tcp_flags & SYN and p.tcp_flags & ACK for p in r)
    rst = any(p.tcp_flags & RST for p in r)
    if not syn and synack:
        return "OTH", "^h"
    if rst and not synack:
        return "REJ", "Sr"
    if synack:
        return "S1", "ShAD" if any(p.payload_len for p in o) else "ShA"
    return "S0", "S"


def seed_config(
    members: Sequence[str] = (B, T),
    *,
    floating_ip: bool = False,
    distribution: str = "default",
    vms: Sequence[str] = ("web01", "web02"),
    os: str | None = "linux",
    idle_timeout: int = 4,
) -> LbConfig:
    from pcapflow.model.lb import Distribution

    pool = BackendPool(
        "be-web",
        tuple(Member(a, vm=vm, os=os) for a, vm in zip(members, vms, strict=False)),
    )
    rule = Rule(
        "http",
        "fe-web",
        Protocol.TCP,
        80,
        80,
        "be-web",
        probe="http-probe",
        floating_ip=floating_ip,
        distribution=Distribution(distribution),
        idle_timeout_min=idle_timeout,
    )
    lb = LoadBalancer(
        "ilb-web",
        frontends=(Frontend("fe-web", VIP, subnet="10.2.1.0/24"),),
        pools=(pool,),
        rules=(rule,),
        probes=(Probe("http-probe", ProbeProtocol.HTTP, 80, "/"),),
        resource_group="rg-spoke-we-02",
    )
    return LbConfig((lb,), sources=("test",))


def hairpin_self_packets(
    port: int, *, seq: int, t: float = 0.0, frame: int = 1, retransmits: int = 1
) -> tuple[list[PacketRef], list[PacketRef]]:
    """B's capture of a hairpin to self: each SYN out to the VIP and its copy back to B."""
    out, back = [], []
    for n in range(retransmits + 1):
        ts = t + n * 1.0
        ident = 100 + n
        out.append(
            pkt(
                B,
                port,
                VIP,
                80,
                SYN,
                t=ts,
                seq=seq,
                ip_id=ident,
                tsval=9000 + n,
                frame=frame + 2 * n,
            )
        )
        back.append(
            pkt(
                B,
                port,
                B,
                80,
                SYN,
                t=ts + 30e-6,
                seq=seq,
                ip_id=ident,
                tsval=9000 + n,
                ttl=63,
                frame=frame + 2 * n + 1,
            )
        )
    return out, back


def handshake(
    src: str,
    port: int,
    dst: str,
    dport: int,
    *,
    seq: int,
    t: float,
    frame: int = 1,
    file_idx: int = 0,
    reply_from: str | None = None,
    ttl_in: int = 63,
) -> list[PacketRef]:
    """A completed handshake as seen by the caller (reply from ``reply_from``, default dst)."""
    rsrc = reply_from or dst
    return [
        pkt(src, port, dst, dport, SYN, t=t, seq=seq, frame=frame, file_idx=file_idx),
        pkt(
            rsrc,
            dport,
            src,
            port,
            SYN | ACK,
            t=t + 0.0005,
            seq=777,
            ack=seq + 1,
            ip_id=0,
            ttl=ttl_in,
            frame=frame + 1,
            file_idx=file_idx,
        ),
        pkt(
            src,
            port,
            dst,
            dport,
            ACK,
            t=t + 0.0006,
            seq=seq + 1,
            ack=778,
            ip_id=101,
            frame=frame + 2,
            file_idx=file_idx,
        ),
    ]
