"""The flow table of a capture, columnar: one numpy array per field, no object per flow.

:class:`FlowTable` holds the columns of the finished-flow blocks (see
:class:`~pcapflow.flows.assembler.FlowBlock`) of one capture, sorted like the flows of
:func:`~pcapflow.flows.read_capture` (by ``ts``, then ``uid``).  :meth:`FlowTable.flows` makes
:class:`~pcapflow.model.flow.Flow` objects for chosen rows only; :class:`TableResults` is the
analysis result's flow list where the healthy background flows stay in such a table (their
:class:`~pcapflow.model.result.FlowResult` objects are made only when iterated), and
:func:`background_json_rows` writes their JSON without making them at all.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.layout import CONN_STATES
from pcapflow.flows.records import _AddrCache, _iface_ids, block_flows, flow_uids, proto_name
from pcapflow.model.flow import Flow
from pcapflow.model.result import FlowResult

_STATES = np.array(CONN_STATES, dtype=object)
_PROTOS = np.array([proto_name(p) for p in range(256)], dtype=object)


@dataclass(frozen=True)
class FlowTable:
    """Flows of one capture, column by column, sorted by (ts, uid)."""

    cols: dict[str, npt.NDArray[Any]]
    history: npt.NDArray[np.object_]
    uids: npt.NDArray[np.object_]

    @classmethod
    def of_blocks(cls, blocks: Sequence[FlowBlock]) -> FlowTable:
        full = [b for b in blocks if len(b)]
        if not full:
            return cls.empty()
        cols = {k: np.concatenate([b.cols[k] for b in full]) for k in full[0].cols}
        history = np.array([h for b in full for h in b.history], dtype=object)
        uids = np.array(flow_uids(cols), dtype=object)
        order = np.lexsort((uids.astype(str), cols["start_ns"] / 1e9))
        return cls({k: v[order] for k, v in cols.items()}, history[order], uids[order])

    @classmethod
    def empty(cls) -> FlowTable:
        return cls({}, np.zeros(0, dtype=object), np.zeros(0, dtype=object))

    def __len__(self) -> int:
        return int(self.uids.shape[0])

    def take(self, rows: npt.NDArray[np.int64]) -> FlowTable:
        if not len(self):
            return self
        return FlowTable(
            {k: v[rows] for k, v in self.cols.items()}, self.history[rows], self.uids[rows]
        )

    def flows(self, addrs: _AddrCache | None = None) -> list[Flow]:
        """:class:`Flow` objects of every row (no evidence packets)."""
        if not len(self):
            return []
        return list(block_flows(FlowBlock(self.cols, self.history.tolist()), addrs))

    # --- columns the relevance and the JSON need ------------------------------------------

    @cached_property
    def orig_h(self) -> npt.NDArray[np.object_]:
        return self._addresses("orig")

    @cached_property
    def resp_h(self) -> npt.NDArray[np.object_]:
        return self._addresses("resp")

    def _addresses(self, side: str) -> npt.NDArray[np.object_]:
        if not len(self):
            return np.zeros(0, dtype=object)
        c = self.cols
        text = _AddrCache().column(c["ver"], c[f"{side}_hi"], c[f"{side}_lo"])
        return np.array(text, dtype=object)

    @property
    def proto(self) -> npt.NDArray[np.object_]:
        return _PROTOS[self.cols["proto"] & 0xFF] if len(self) else np.zeros(0, dtype=object)

    @property
    def ts(self) -> npt.NDArray[np.float64]:
        return self.cols["start_ns"] / 1e9

    @property
    def last_ts(self) -> npt.NDArray[np.float64]:
        return self.cols["lastpkt_ns"] / 1e9

    @property
    def duration(self) -> npt.NDArray[np.float64]:
        span: npt.NDArray[np.float64] = (self.cols["last_ns"] - self.cols["start_ns"]) / 1e9
        return span

    def established(self) -> npt.NDArray[np.bool_]:
        """:attr:`Flow.established`, per row."""
        states = _STATES[self.cols["state"]] if len(self) else np.zeros(0, dtype=object)
        return np.array(
            [
                "h" in h.lower().replace("^", "") and s not in ("S0", "REJ")
                for h, s in zip(self.history.tolist(), states.tolist(), strict=True)
            ],
            dtype=np.bool_,
        )


# --- the background rows of an analysis result ---------------------------------------------


@dataclass(frozen=True)
class Background:
    """Healthy background flows of one capture: no label, reason ``reason``, role ``role``."""

    table: FlowTable
    capture: str
    role: str
    reason: str

    def result(self, i: int, addrs: _AddrCache) -> FlowResult:
        flow = self.table.take(np.array([i], dtype=np.int64)).flows(addrs)[0]
        return self._result(flow)

    def _result(self, flow: Flow) -> FlowResult:
        return FlowResult(
            id=f"{flow.file_idx}:{flow.uid}",
            flow=flow,
            capture=self.capture,
            label=None,
            paired_with=(),
            role=self.role,
            frontend=None,
            rule=None,
            reason=self.reason,
        )

    def results(self, start: int, stop: int, addrs: _AddrCache) -> list[FlowResult]:
        rows = np.arange(start, stop, dtype=np.int64)
        return [self._result(f) for f in self.table.take(rows).flows(addrs)]


CHUNK = 20_000  # background rows made into objects (or JSON) at a time


class TableResults(Sequence[FlowResult]):
    """The flows of an analysis result: the diagnosed ones (objects) and the background ones
    (tables), in (file, ts, uid) order.  Background results are made when asked for."""

    def __init__(self, diagnosed: Sequence[FlowResult], background: Sequence[Background]):
        self.diagnosed = tuple(diagnosed)
        self.background = tuple(b for b in background if len(b.table))
        self._order = self._merge()

    def _merge(self) -> npt.NDArray[np.int64]:
        """Per position: ``>= 0`` index into ``diagnosed``, ``< 0``: ``-1 - k`` the k-th
        background row (over all tables, in order)."""
        files = np.array([r.flow.file_idx for r in self.diagnosed], dtype=np.int64)
        d_ts = np.array([r.flow.ts for r in self.diagnosed], dtype=np.float64)
        d_uid = np.array([r.flow.uid for r in self.diagnosed], dtype=object)
        parts_file = [files]
        parts_ts = [d_ts]
        parts_uid = [d_uid]
        parts_code = [np.arange(len(self.diagnosed), dtype=np.int64)]
        offset = 0
        for b in self.background:
            n = len(b.table)
            parts_file.append(b.table.cols["file_idx"].astype(np.int64))
            parts_ts.append(b.table.ts)
            parts_uid.append(b.table.uids)
            parts_code.append(-1 - np.arange(offset, offset + n, dtype=np.int64))
            offset += n
        uid = np.concatenate(parts_uid).astype(str)
        order = np.lexsort((uid, np.concatenate(parts_ts), np.concatenate(parts_file)))
        merged: npt.NDArray[np.int64] = np.concatenate(parts_code)[order]
        return merged

    def __len__(self) -> int:
        return int(self._order.shape[0])

    @overload
    def __getitem__(self, i: int) -> FlowResult: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[FlowResult]: ...
    def __getitem__(self, i: int | slice) -> FlowResult | Sequence[FlowResult]:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        code = int(self._order[i])
        if code >= 0:
            return self.diagnosed[code]
        table, row = self._locate(-1 - code)
        return table.result(row, _AddrCache())

    def _locate(self, k: int) -> tuple[Background, int]:
        for b in self.background:
            if k < len(b.table):
                return b, k
            k -= len(b.table)
        raise IndexError(k)

    def __iter__(self) -> Iterator[FlowResult]:
        for kind, start, stop in self.runs():
            if kind is None:
                yield from (self.diagnosed[int(c)] for c in self._order[start:stop])
            else:
                table, row = self._locate(-1 - int(self._order[start]))
                yield from table.results(row, row + stop - start, _AddrCache())

    def runs(self) -> Iterator[tuple[Background | None, int, int]]:
        """Consecutive positions served by one source: (None: diagnosed, or the background
        table), start, stop; background runs are at most :data:`CHUNK` long."""
        n = len(self)
        kind = self._order >= 0
        owner = np.zeros(n, dtype=np.int64)
        bounds = np.cumsum([len(b.table) for b in self.background])
        owner[~kind] = np.searchsorted(bounds, -1 - self._order[~kind], side="right") + 1
        change = [*np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]).tolist(), n]
        for a, b in itertools.pairwise(change):
            if owner[a] == 0:
                yield None, a, b
                continue
            source = self.background[int(owner[a]) - 1]
            for s in range(a, b, CHUNK):
                yield source, s, min(b, s + CHUNK)

    def table_row(self, position: int) -> int:
        """The row, in its background table, of the background flow at ``position``."""
        return self._locate(-1 - int(self._order[position]))[1]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        background = len(self) - len(self.diagnosed)
        return f"TableResults({len(self.diagnosed)} diagnosed, {background} background)"


# --- JSON of background rows without objects ------------------------------------------------


def _ints(values: npt.NDArray[Any]) -> list[str]:
    return list(map(str, values.tolist()))


def _floats(values: npt.NDArray[np.float64]) -> list[str]:
    if not np.isfinite(values).all():
        return [repr(v) if np.isfinite(v) else "null" for v in values.tolist()]
    return list(map(float.__repr__, values.tolist()))


def _strs(values: Sequence[str]) -> list[str]:
    enc = json.encoder.encode_basestring
    return list(map(enc, values))


def _optional(values: npt.NDArray[Any], present: npt.NDArray[np.bool_]) -> list[str]:
    text = np.array(_ints(values), dtype=object)
    text[~present] = "null"
    out: list[str] = text.tolist()
    return out


def _iface_lists(masks: npt.NDArray[np.int64], pad: str) -> list[str]:
    cache: dict[int, str] = {}
    out = []
    for m in masks.tolist():
        text = cache.get(m)
        if text is None:
            ids = _iface_ids(m)
            inner = f",\n{pad}  ".join(map(str, ids))
            text = f"[\n{pad}  {inner}\n{pad}]" if ids else "[]"
            cache[m] = text
        out.append(text)
    return out


def background_json_rows(b: Background, start: int, stop: int, depth: int) -> list[str]:
    """The JSON text of rows ``start:stop`` of a background table, each exactly as
    ``json.dumps(flow_dict(result), indent=2)`` nested ``depth`` levels deep would write it
    (see :func:`pcapflow.report.serialize.flow_dict`)."""
    t = b.table.take(np.arange(start, stop, dtype=np.int64))
    c = t.cols
    n = len(t)
    pad = "  " * (depth + 1)
    is_tcp = c["proto"] == 6
    syn = is_tcp & (c["isn"] >= 0)
    enc = json.encoder.encode_basestring
    const = {
        "false": "false",
        "null": "null",
        "[]": "[]",
        "capture": enc(b.capture),
        "role": enc(b.role),
        "reason": enc(b.reason),
    }
    uids = t.uids.tolist()
    fields: list[tuple[str, list[str] | str]] = [
        ("id", _strs([f"{f}:{u}" for f, u in zip(c["file_idx"].tolist(), uids, strict=True)])),
        ("uid", _strs(uids)),
        ("ts", _floats(t.ts)),
        ("orig_h", _strs(t.orig_h.tolist())),
        ("orig_p", _ints(c["orig_p"])),
        ("resp_h", _strs(t.resp_h.tolist())),
        ("resp_p", _ints(c["resp_p"])),
        ("proto", _strs(t.proto.tolist())),
        ("duration", _floats(t.duration)),
        ("orig_bytes", _ints(c["orig_bytes"])),
        ("resp_bytes", _ints(c["resp_bytes"])),
        ("conn_state", _strs(_STATES[c["state"]].tolist())),
        ("missed_bytes", _ints(c["missed_bytes"])),
        ("history", _strs(t.history.tolist())),
        ("orig_pkts", _ints(c["orig_pkts"])),
        ("orig_ip_bytes", _ints(c["orig_ip_bytes"])),
        ("resp_pkts", _ints(c["resp_pkts"])),
        ("resp_ip_bytes", _ints(c["resp_ip_bytes"])),
        ("file_idx", _ints(c["file_idx"])),
        ("first_frame", _ints(c["first_frame"])),
        ("last_frame", _ints(c["last_frame"])),
        ("ifaces", _iface_lists(c["ifaces"], pad)),
        ("isn", _optional(c["isn"], syn)),
        ("resp_isn", _optional(c["resp_isn"], is_tcp & (c["resp_isn"] >= 0))),
        ("syn_ip_id", _optional(c["syn_ip_id"], syn)),
        ("syn_ttl", _optional(c["syn_ttl"], syn)),
        ("syn_tsval", _optional(c["syn_tsval"], syn & (c["syn_tsval"] >= 0))),
        ("syn_retransmits", _ints(c["syn_retransmits"])),
        ("duplicates", _ints(c["duplicates"])),
        ("last_ts", _floats(t.last_ts)),
        ("packets_truncated", const["false"]),
        ("label", const["null"]),
        ("paired_with", const["[]"]),
        ("capture", const["capture"]),
        ("role", const["role"]),
        ("frontend", const["null"]),
        ("rule", const["null"]),
        ("reason", const["reason"]),
    ]
    inner = "  " * depth
    template = (
        f"{inner}{{\n"
        + ",\n".join(
            f"{pad}{json.dumps(name)}: " + ("%s" if isinstance(v, list) else v.replace("%", "%%"))
            for name, v in fields
        )
        + f"\n{inner}}}"
    )
    columns = [v for _name, v in fields if isinstance(v, list)]
    return [template % row for row in zip(*columns, strict=True)] if n else []
