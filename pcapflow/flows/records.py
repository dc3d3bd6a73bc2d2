"""Finished-flow blocks -> typed :class:`~pcapflow.model.flow.Flow` records or pandas columns.

Also the deterministic flow uid: ``"C"`` + 17 base62 digits of a 64-bit x2 hash of
(file index, first packet time in ns, orig/resp address and port, protocol), computed with
numpy's wrapping uint64 arithmetic, hence equal on every run and machine.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.layout import CONN_STATES, END_REASONS
from pcapflow.model.flow import Flow
from pcapflow.model.packet import PF_HAS_TS, PROTO_NAMES, PacketArray, PacketRef

if TYPE_CHECKING:  # pandas is imported where it is used (the csv path never needs it)
    import pandas as pd

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_U = np.uint64


def _mix(h: npt.NDArray[np.uint64], v: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        h = h ^ (v + _U(0x9E3779B97F4A7C15) + (h << _U(6)) + (h >> _U(2)))
        h = h ^ (h >> _U(33))
        h = h * _U(0xFF51AFD7ED558CCD)
        h = h ^ (h >> _U(33))
        h = h * _U(0xC4CEB9FE1A85EC53)
        return h ^ (h >> _U(33))


def _digits(word: npt.NDArray[np.uint64], count: int) -> npt.NDArray[np.uint8]:
    out = np.empty((word.shape[0], count), dtype=np.uint8)
    w = word.copy()
    for j in range(count - 1, -1, -1):
        out[:, j] = _BASE62[(w % _U(62)).astype(np.intp)]
        w //= _U(62)
    return out


def flow_uids(cols: dict[str, npt.NDArray[Any]]) -> list[str]:
    """Deterministic Zeek-style uids for the flows of a block."""
    n = cols["start_ns"].shape[0]
    if n == 0:
        return []
    head, tail = uid_numbers(cols)
    first = np.full((n, 1), ord("C"), dtype=np.uint8)
    chars = np.concatenate(
        [first, _digits(head, UID_HEAD_DIGITS), _digits(tail, UID_TAIL_DIGITS)], axis=1
    )
    return chars.view("S18").ravel().astype(str).tolist()


UID_HEAD_DIGITS, UID_TAIL_DIGITS = 10, 7  # base62 digits of the uid after its "C"


def uid_numbers(
    cols: dict[str, npt.NDArray[Any]],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """The two numbers whose base62 digits (10 and 7, :data:`_BASE62` order, which is ASCII
    order) follow the "C" of each flow's uid: so uids sort as the pairs of numbers do."""
    n = cols["start_ns"].shape[0]
    ports: npt.NDArray[np.uint64] = np.bitwise_or(
        np.left_shift(cols["orig_p"].astype(np.uint64), _U(32)),
        np.left_shift(cols["resp_p"].astype(np.uint64), _U(8)),
    )
    ports = np.bitwise_or(ports, cols["proto"].astype(np.uint64))
    fields: list[npt.NDArray[np.uint64]] = [
        cols["file_idx"].astype(np.uint64),
        cols["start_ns"].astype(np.int64).view(np.uint64),
        cols["orig_hi"].astype(np.uint64),
        cols["orig_lo"].astype(np.uint64),
        cols["resp_hi"].astype(np.uint64),
        cols["resp_lo"].astype(np.uint64),
        ports,
    ]
    h1 = np.full(n, 0x243F6A8885A308D3, dtype=np.uint64)
    h2 = np.full(n, 0x13198A2E03707344, dtype=np.uint64)
    for f in fields:
        h1 = _mix(h1, f)
        h2 = _mix(h2, f ^ _U(0xA4093822299F31D0))
    return h1 % _U(62**UID_HEAD_DIGITS), h2 % _U(62**UID_TAIL_DIGITS)


class _AddrCache:
    """Text forms of (version, hi, lo) addresses, memoised (captures repeat addresses a lot)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, int], str] = {}

    def text(self, ver: int, hi: int, lo: int) -> str:
        key = (ver, hi, lo)
        found = self._cache.get(key)
        if found is None:
            if ver == 4:
                found = socket.inet_ntoa((lo & 0xFFFFFFFF).to_bytes(4, "big"))
            else:
                found = str(ipaddress.IPv6Address((hi << 64) | lo))
            self._cache[key] = found
        return found

    def column(
        self,
        ver: npt.NDArray[Any],
        hi: npt.NDArray[Any],
        lo: npt.NDArray[Any],
    ) -> list[str]:
        """Text of every address (IPv4 vectorised; IPv6 per distinct address)."""
        n = ver.shape[0]
        out = np.empty(n, dtype=object)
        v4 = ver == 4
        if v4.any():
            # each distinct address once (captures repeat a few addresses many times)
            value, inverse = np.unique(lo[v4].astype(np.uint64), return_inverse=True)
            text = _OCTETS[(value >> _U(24)) & _U(255)]
            for shift in (16, 8, 0):
                text = text + "." + _OCTETS[(value >> _U(shift)) & _U(255)]
            out[v4] = text[inverse.ravel()]
        for j in np.flatnonzero(~v4).tolist():
            out[j] = self.text(int(ver[j]), int(hi[j]), int(lo[j]))
        result: list[str] = out.tolist()
        return result


_OCTETS = np.array([str(i) for i in range(256)], dtype=object)


_REF_FIELDS = ("file_idx", "frame", "ts_ns", "iface", "sport", "dport", "proto", "tcp_flags",
               "seq", "ack", "payload_len", "ip_len", "ip_id", "ttl", "tsval", "opts_hash",
               "payload_hash", "pflags")  # fmt: skip


def packet_refs(rows: PacketArray, addrs: _AddrCache) -> list[PacketRef]:
    """:class:`PacketRef` objects for packet rows, column-wise (~10x faster than row by row;
    positional arguments in :data:`REF_ORDER`, the dataclass's field order)."""
    if rows.shape[0] == 0:
        return []
    col: dict[str, list[Any]] = {
        name: _shared(rows[name]) if name in _FEW_VALUES else rows[name].tolist()
        for name in _REF_FIELDS
    }
    col["src"] = addrs.column(rows["ip_ver"], rows["src_hi"], rows["src_lo"])
    col["dst"] = addrs.column(rows["ip_ver"], rows["dst_hi"], rows["dst_lo"])
    has_ts = (rows["pflags"] & PF_HAS_TS) != 0
    if not has_ts.all():
        col["tsval"] = [
            v if ok else None for v, ok in zip(col["tsval"], has_ts.tolist(), strict=True)
        ]
    return list(map(PacketRef, *(col[name] for name in REF_ORDER)))


# Columns with few distinct values: one int object per value, shared by all packets (a few
# hundred bytes less per packet than one object per cell).
_FEW_VALUES = frozenset({"sport", "dport", "payload_len", "ip_len", "opts_hash"})


def _shared(values: npt.NDArray[Any]) -> list[int]:
    """``values.tolist()`` with one Python int per distinct value."""
    distinct, inverse = np.unique(values, return_inverse=True)
    objects = np.empty(distinct.shape[0], dtype=object)
    objects[:] = distinct.tolist()
    shared: list[int] = objects[inverse.ravel()].tolist()
    return shared


REF_ORDER: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(PacketRef))


def _evidence(block: FlowBlock, addrs: _AddrCache) -> list[tuple[PacketRef, ...]]:
    """The evidence packets of every flow of a block, converted in one pass."""
    rows = block.packet_rows
    refs = packet_refs(rows, addrs) if rows is not None else []
    out: list[tuple[PacketRef, ...]] = []
    pos = 0
    for part in block.packets:
        n = 0 if part is None else part.shape[0]
        out.append(tuple(refs[pos : pos + n]))
        pos += n
    return out


def proto_name(proto: int) -> str:
    """Zeek's transport name: tcp, udp, icmp (v4 and v6), else unknown_transport."""
    return PROTO_NAMES.get(proto, "unknown_transport")


def _opt(value: int) -> int | None:
    return None if value < 0 else value


@functools.cache
def _iface_ids(mask: int) -> tuple[int, ...]:
    """Interface ids of a bit mask (few distinct masks: computed once each)."""
    return tuple(b for b in range(64) if mask >> b & 1)


def block_flows(block: FlowBlock, addrs: _AddrCache | None = None) -> Iterator[Flow]:
    """The :class:`Flow` records of one finished-flow block."""
    c = block.cols
    addrs = addrs or _AddrCache()
    uids = flow_uids(c)
    orig_h = addrs.column(c["ver"], c["orig_hi"], c["orig_lo"])
    resp_h = addrs.column(c["ver"], c["resp_hi"], c["resp_lo"])
    lists = {k: v.tolist() for k, v in c.items()}
    has_syn = c["proto"] == 6
    evidence = _evidence(block, addrs) if block.packets else []
    for j in range(len(block)):
        syn = bool(has_syn[j]) and lists["isn"][j] >= 0
        refs = evidence[j] if evidence else ()
        ifaces_mask = lists["ifaces"][j]
        yield Flow(
            uid=uids[j],
            ts=lists["start_ns"][j] / 1e9,
            orig_h=orig_h[j],
            orig_p=lists["orig_p"][j],
            resp_h=resp_h[j],
            resp_p=lists["resp_p"][j],
            proto=proto_name(lists["proto"][j]),
            duration=(lists["last_ns"][j] - lists["start_ns"][j]) / 1e9,
            orig_bytes=lists["orig_bytes"][j],
            resp_bytes=lists["resp_bytes"][j],
            conn_state=CONN_STATES[lists["state"][j]],
            missed_bytes=lists["missed_bytes"][j],
            history=block.history[j],
            orig_pkts=lists["orig_pkts"][j],
            orig_ip_bytes=lists["orig_ip_bytes"][j],
            resp_pkts=lists["resp_pkts"][j],
            resp_ip_bytes=lists["resp_ip_bytes"][j],
            file_idx=lists["file_idx"][j],
            first_frame=lists["first_frame"][j],
            last_frame=lists["last_frame"][j],
            ifaces=_iface_ids(ifaces_mask),
            isn=lists["isn"][j] if syn else None,
            resp_isn=_opt(lists["resp_isn"][j]) if has_syn[j] else None,
            syn_ip_id=lists["syn_ip_id"][j] if syn else None,
            syn_ttl=lists["syn_ttl"][j] if syn else None,
            syn_opts_hash=lists["syn_opts_hash"][j] if syn else None,
            syn_tsval=_opt(lists["syn_tsval"][j]) if syn else None,
            syn_retransmits=lists["syn_retransmits"][j],
            duplicates=lists["duplicates"][j],
            last_ts=lists["lastpkt_ns"][j] / 1e9,
            packets=refs,
            packets_truncated=bool(refs) and lists["npkts"][j] > len(refs),
        )


# DataFrame columns: Zeek's conn.log names (without the unfilled ones) + pcapflow additions.
FRAME_DTYPES: dict[str, str] = {
    "ts": "float64",
    "uid": "object",
    "id.orig_h": "object",
    "id.orig_p": "int64",
    "id.resp_h": "object",
    "id.resp_p": "int64",
    "proto": "object",
    "duration": "float64",
    "orig_bytes": "int64",
    "resp_bytes": "int64",
    "conn_state": "object",
    "missed_bytes": "int64",
    "history": "object",
    "orig_pkts": "int64",
    "orig_ip_bytes": "int64",
    "resp_pkts": "int64",
    "resp_ip_bytes": "int64",
    "ip_proto": "int64",
    "file_idx": "int64",
    "first_frame": "int64",
    "last_frame": "int64",
    "isn": "Int64",
    "resp_isn": "Int64",
    "syn_ip_id": "Int64",
    "syn_ttl": "Int64",
    "syn_tsval": "Int64",
    "syn_retransmits": "int64",
    "duplicates": "int64",
    "last_ts": "float64",
    "end_reason": "object",
}


_STATE_NAMES = np.array(CONN_STATES, dtype=object)
_END_NAMES = np.array(END_REASONS, dtype=object)
_PROTO_NAMES = np.array([proto_name(p) for p in range(256)], dtype=object)


def _merged(blocks: list[FlowBlock]) -> tuple[dict[str, npt.NDArray[Any]], list[str]]:
    """All blocks' columns concatenated (one array per column) and their histories."""
    full = [b for b in blocks if len(b)]
    cols = {k: np.concatenate([b.cols[k] for b in full]) for k in full[0].cols}
    history = [h for b in full for h in b.history]
    return cols, history


@dataclass(frozen=True)
class Nullable:
    """A nullable integer column (``Int64``): values, and where they are missing."""

    values: npt.NDArray[np.int64]
    missing: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.values.shape[0])


def blocks_frame(blocks: list[FlowBlock]) -> pd.DataFrame:
    """The flows of ``blocks`` as one DataFrame (:data:`FRAME_DTYPES`), sorted by ts, uid."""
    import pandas as pd

    if not any(len(b) for b in blocks):
        return pd.DataFrame({k: pd.Series(dtype=t) for k, t in FRAME_DTYPES.items()})
    data = {
        name: pd.arrays.IntegerArray(col.values, col.missing) if isinstance(col, Nullable) else col
        for name, col in table_columns(blocks).items()
    }
    return pd.DataFrame(data).astype(FRAME_DTYPES)


def table_columns(blocks: list[FlowBlock]) -> dict[str, Any]:
    """The columns of :func:`blocks_frame` without pandas (numpy arrays, lists of text,
    :class:`Nullable` for ``Int64``), sorted by ts then uid; at least one flow is needed."""
    c, history = _merged(blocks)
    uids = np.array(flow_uids(c))
    order = np.lexsort((uids, c["start_ns"]))
    c = {k: v[order] for k, v in c.items()}
    addrs = _AddrCache()
    is_tcp = c["proto"] == 6
    syn = is_tcp & (c["isn"] >= 0)

    def masked(values: npt.NDArray[Any], ok: npt.NDArray[np.bool_]) -> Nullable:
        return Nullable(np.where(ok, values, 0).astype(np.int64), ~ok)

    data: dict[str, Any] = {
        "ts": c["start_ns"] / 1e9,
        "uid": uids[order].astype(object),
        "id.orig_h": addrs.column(c["ver"], c["orig_hi"], c["orig_lo"]),
        "id.orig_p": c["orig_p"],
        "id.resp_h": addrs.column(c["ver"], c["resp_hi"], c["resp_lo"]),
        "id.resp_p": c["resp_p"],
        "proto": _PROTO_NAMES[c["proto"] & 0xFF],
        "duration": (c["last_ns"] - c["start_ns"]) / 1e9,
        "orig_bytes": c["orig_bytes"],
        "resp_bytes": c["resp_bytes"],
        "conn_state": _STATE_NAMES[c["state"]],
        "missed_bytes": c["missed_bytes"],
        "history": np.array(history, dtype=object)[order],
        "orig_pkts": c["orig_pkts"],
        "orig_ip_bytes": c["orig_ip_bytes"],
        "resp_pkts": c["resp_pkts"],
        "resp_ip_bytes": c["resp_ip_bytes"],
        "ip_proto": c["proto"],
        "file_idx": c["file_idx"],
        "first_frame": c["first_frame"],
        "last_frame": c["last_frame"],
        "isn": masked(c["isn"], syn),
        "resp_isn": masked(c["resp_isn"], is_tcp & (c["resp_isn"] >= 0)),
        "syn_ip_id": masked(c["syn_ip_id"], syn),
        "syn_ttl": masked(c["syn_ttl"], syn),
        "syn_tsval": masked(c["syn_tsval"], syn & (c["syn_tsval"] >= 0)),
        "syn_retransmits": c["syn_retransmits"],
        "duplicates": c["duplicates"],
        "last_ts": c["lastpkt_ns"] / 1e9,
        "end_reason": _END_NAMES[c["end"]],
    }
    return data
