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

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, overload

import numpy as np
import numpy.typing as npt

from pcapflow._jitcache import kernel
from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.csvwrite import _write_address, float_cells
from pcapflow.flows.csvwrite import write_int as _write_int
from pcapflow.flows.layout import CONN_STATES
from pcapflow.flows.records import _AddrCache, _iface_ids, block_flows, flow_uids, proto_name
from pcapflow.model.flow import Flow
from pcapflow.model.result import FlowKind, FlowResult, Label

if TYPE_CHECKING:
    from pcapflow.flows.spill import SpilledTable

Arr = npt.NDArray[Any]
_STATES = np.array(CONN_STATES, dtype=object)
_PROTOS = np.array([proto_name(p) for p in range(256)], dtype=object)


def _narrow(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The same integers in the smallest integer type that holds them all."""
    if values.dtype.kind not in "iu" or not values.size:
        return values
    low, high = int(values.min()), int(values.max())
    kinds = (np.uint8, np.uint16, np.uint32) if low >= 0 else (np.int8, np.int16, np.int32)
    for kind in kinds:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return values.astype(kind)
    return values


class Columnar(Protocol):
    """A flow table's columns by name (:class:`FlowTable`, or one kept in a file)."""

    @property
    def cols(self) -> Mapping[str, npt.NDArray[Any]]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class FlowTable:
    """Flows of one capture, column by column, sorted by (ts, uid)."""

    cols: dict[str, npt.NDArray[Any]]
    history: npt.NDArray[np.object_]
    uids: npt.NDArray[np.bytes_]  # "S18"

    @classmethod
    def of_blocks(cls, blocks: Iterable[FlowBlock]) -> FlowTable:
        """The flows of ``blocks`` (consumed one by one, each made compact on arrival)."""
        parts: list[dict[str, npt.NDArray[Any]]] = []
        histories: list[npt.NDArray[np.object_]] = []
        uid_parts: list[npt.NDArray[np.bytes_]] = []
        shared: dict[str, str] = {}  # histories repeat: one string object per distinct one
        for b in blocks:
            if not len(b):
                continue
            uid_parts.append(np.array(flow_uids(b.cols), dtype="S18"))
            parts.append({k: _narrow(v) for k, v in b.cols.items()})
            histories.append(np.array([shared.setdefault(h, h) for h in b.history], object))
        if not parts:
            return cls.empty()
        history = np.concatenate(histories)
        uids = np.concatenate(uid_parts)
        start = np.concatenate([p["start_ns"] for p in parts])
        order = np.lexsort((uids, start / 1e9))
        del start
        cols: dict[str, npt.NDArray[Any]] = {}
        for k in list(parts[0]):  # column by column, each block's part released on the way
            cols[k] = np.concatenate([p.pop(k) for p in parts])[order]
        return cls(cols, history[order], uids[order])

    @classmethod
    def empty(cls) -> FlowTable:
        return cls({}, np.zeros(0, dtype=object), np.zeros(0, dtype="S18"))

    def __len__(self) -> int:
        return int(self.uids.shape[0])

    def take(self, rows: npt.NDArray[np.int64]) -> FlowTable:
        if not len(self):
            return self
        part = FlowTable(
            {k: v[rows] for k, v in self.cols.items()}, self.history[rows], self.uids[rows]
        )
        for name in ("orig_h", "resp_h"):  # address texts already made are kept
            if name in self.__dict__:
                part.__dict__[name] = self.__dict__[name][rows]
        return part

    def shrink_to(self, rows: npt.NDArray[np.int64]) -> FlowTable:
        """:meth:`take`, emptying this table column by column on the way (never two copies
        of a column at once); this table is unusable afterwards."""
        if not len(self):
            return self
        cols: dict[str, npt.NDArray[Any]] = {}
        for k in list(self.cols):
            cols[k] = self.cols.pop(k)[rows]
        part = FlowTable(cols, self.history[rows], self.uids[rows])
        for name in ("orig_h", "resp_h"):
            if name in self.__dict__:
                part.__dict__[name] = self.__dict__.pop(name)[rows]
        return part

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

    def established_at(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """:meth:`established` of rows ``rows``."""
        return self.take(rows).established()

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


KINDS: tuple[FlowKind, ...] = tuple(FlowKind)  # ``Background.kinds`` holds indexes into it


@dataclass(frozen=True, eq=False)
class Background:
    """Healthy background flows of one capture.  Each was answered, so it is ``ok`` by its own
    outcome (reason ``reasons[0]``), except a TCP connection whose opening SYN was not captured:
    not a connection attempt seen, no label (reason ``reasons[1]``).  ``kinds``: per row, the
    index in :data:`KINDS` of its kind (a direct call to a member's address, or other);
    ``opened``: per row, whether its opening packet was captured; role ``role``.  The table
    may be kept in a file (:mod:`pcapflow.flows.spill`)."""

    table: FlowTable | SpilledTable
    capture: str
    role: str
    reasons: tuple[str, str]
    kinds: npt.NDArray[np.int8]
    opened: npt.NDArray[np.bool_]

    def result(self, i: int, addrs: _AddrCache) -> FlowResult:
        flow = self.table.take(np.array([i], dtype=np.int64)).flows(addrs)[0]
        return self._result(flow, i)

    def _result(self, flow: Flow, row: int) -> FlowResult:
        opened = bool(self.opened[row])
        return FlowResult(
            id=f"{flow.file_idx}:{flow.uid}",
            flow=flow,
            capture=self.capture,
            label=Label.OK if opened else None,
            paired_with=(),
            role=self.role,
            frontend=None,
            rule=None,
            reason=self.reasons[0] if opened else self.reasons[1],
            kind=KINDS[int(self.kinds[row])],
        )

    def results(self, start: int, stop: int, addrs: _AddrCache) -> list[FlowResult]:
        rows = np.arange(start, stop, dtype=np.int64)
        flows = self.table.take(rows).flows(addrs)
        return [self._result(f, r) for f, r in zip(flows, rows.tolist(), strict=True)]

    def counts(self) -> dict[tuple[FlowKind, Label], int]:
        """Labelled connections per (kind, label): every opened row is one ``ok`` connection."""
        found = np.bincount(self.kinds[self.opened].astype(np.int64), minlength=len(KINDS))
        return {(KINDS[k], Label.OK): int(n) for k, n in enumerate(found.tolist()) if n}


CHUNK = 2_000  # background rows made into objects (or JSON) at a time (~15 MiB of JSON work)


def _file_of(table: FlowTable | SpilledTable) -> int:
    """The capture (``file_idx``) of a background table's rows (one capture per table)."""
    return int(table.take(np.zeros(1, dtype=np.int64)).cols["file_idx"][0])


def _insertion_points(
    table: FlowTable | SpilledTable, ts: npt.NDArray[np.float64], uid: npt.NDArray[np.bytes_]
) -> npt.NDArray[np.int64]:
    """Per (ts, uid), sorted: how many rows of ``table`` (sorted by (ts, uid)) come before."""
    rows = table.ts
    low = np.searchsorted(rows, ts, side="left").astype(np.int64)
    high = np.searchsorted(rows, ts, side="right").astype(np.int64)
    del rows
    for k in np.flatnonzero(high > low).tolist():  # the same ts: ordered by uid
        same = table.take(np.arange(low[k], high[k], dtype=np.int64)).uids
        low[k] += int(np.searchsorted(same, uid[k], side="left"))
    return low


class TableResults(Sequence[FlowResult]):
    """The flows of an analysis result: the diagnosed ones (objects) and the background ones
    (tables), in (file, ts, uid) order.  Background results are made when asked for."""

    def __init__(self, diagnosed: Sequence[FlowResult], background: Sequence[Background]):
        self.diagnosed = tuple(diagnosed)
        self.background = tuple(b for b in background if len(b.table))
        self._order = self._merge()

    def _merge(self) -> npt.NDArray[np.int64]:
        """Per position: ``>= 0`` index into ``diagnosed``, ``< 0``: ``-1 - k`` the k-th
        background row (over all tables, in order).  Each background table holds one capture
        sorted by (ts, uid): the diagnosed flows are placed among its rows by binary search
        (no sort of every row, no copy of the uids)."""
        files = np.array([r.flow.file_idx for r in self.diagnosed], dtype=np.int64)
        d_ts = np.array([r.flow.ts for r in self.diagnosed], dtype=np.float64)
        d_uid = np.array([r.flow.uid.encode() for r in self.diagnosed], dtype="S18")
        d_order = np.lexsort((d_uid, d_ts, files))
        tables = {_file_of(b.table): b.table for b in self.background}
        starts = np.cumsum([0, *(len(b.table) for b in self.background)]).tolist()
        offsets = {_file_of(b.table): starts[k] for k, b in enumerate(self.background)}
        parts: list[npt.NDArray[np.int64]] = []
        for f in sorted({*tables, *files.tolist()}):
            mine = d_order[files[d_order] == f]
            table = tables.get(f)
            if table is None:
                parts.append(mine)
                continue
            at = _insertion_points(table, d_ts[mine], d_uid[mine])
            segment = np.empty(len(table) + mine.size, dtype=np.int64)
            placed = at + np.arange(mine.size, dtype=np.int64)
            rest = np.ones(segment.shape[0], dtype=np.bool_)
            rest[placed] = False
            segment[placed] = mine
            segment[rest] = -1 - np.arange(offsets[f], offsets[f] + len(table), dtype=np.int64)
            parts.append(segment)
        merged: npt.NDArray[np.int64] = (
            np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        )
        return merged

    def __len__(self) -> int:
        return int(self._order.shape[0])

    def renamed(self, name: Callable[[str], str]) -> TableResults:
        """The same flows with each capture named ``name(capture)``."""
        out = TableResults.__new__(TableResults)
        out.diagnosed = tuple(replace(r, capture=name(r.capture)) for r in self.diagnosed)
        out.background = tuple(replace(b, capture=name(b.capture)) for b in self.background)
        out._order = self._order
        return out

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

    def background_counts(self) -> dict[tuple[FlowKind, Label], int]:
        """Labelled background connections per (kind, label), from the columns."""
        total: dict[tuple[FlowKind, Label], int] = {}
        for b in self.background:
            for key, n in b.counts().items():
                total[key] = total.get(key, 0) + n
        return total

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


@kernel(nogil=True)
def _write_rows(
    out: Arr, kinds: Arr, index: Arr, ints: Arr, nulls: Arr, text: Arr, text_off: Arr,
    seps: Arr, sep_off: Arr, n: int,
) -> int:  # fmt: skip
    """Rows of ``len(kinds)`` cells: separator ``c`` (bytes ``seps[sep_off[c]:sep_off[c+1]]``)
    before cell ``c``, the last separator after the last cell.  An integer cell is
    ``ints[index[c], r]`` (``null`` where ``nulls`` is set), a text cell the bytes
    ``text[text_off[index[c], r] : text_off[index[c], r + 1]]``."""
    ncols = kinds.shape[0]
    pos = 0
    for r in range(n):
        for c in range(ncols + 1):
            for k in range(sep_off[c], sep_off[c + 1]):
                out[pos] = seps[k]
                pos += 1
            if c == ncols:
                break
            j = index[c]
            if kinds[c] == 0:
                if nulls[j, r]:
                    out[pos] = 110  # null
                    out[pos + 1] = 117
                    out[pos + 2] = 108
                    out[pos + 3] = 108
                    pos += 4
                else:
                    pos = _write_int(out, pos, ints[j, r])
            else:
                for k in range(text_off[j, r], text_off[j, r + 1]):
                    out[pos] = text[k]
                    pos += 1
    return pos


@dataclass(frozen=True)
class Texts:
    """Cells already in bytes: cell ``r`` is ``data[off[r]:off[r + 1]]`` (UTF-8)."""

    data: bytes
    off: npt.NDArray[np.int64]


@functools.lru_cache(maxsize=64)
def _padded(texts: tuple[str, ...]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The UTF-8 of ``texts``, a padded row each, and their sizes (name tables: made once)."""
    encoded = [t.encode() for t in texts]
    sizes = np.array([len(e) for e in encoded], dtype=np.int64)
    width = max(1, int(sizes.max(initial=0)))
    table = np.frombuffer(b"".join(e.ljust(width) for e in encoded), np.uint8)
    return table.reshape(-1, width), sizes


def _coded(codes: npt.NDArray[Any], texts: Sequence[str]) -> Texts:
    """Cell ``r`` is ``texts[codes[r]]``: a gather of padded rows, no Python per cell."""
    table, sizes = _padded(tuple(texts))
    picked = np.asarray(codes, dtype=np.int64)
    lens = sizes[picked]
    shown = np.arange(table.shape[1])[None, :] < lens[:, None]
    off = np.zeros(picked.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    return Texts(table[picked][shown].tobytes(), off)


def _floats(values: npt.NDArray[np.float64]) -> Texts:
    """``repr`` of each float (``null`` if not finite), by the CSV writer's float kernel."""
    finite = np.where(np.isfinite(values), values, np.nan)
    return Texts(*float_cells(finite, null="null"))


def _json_strings(values: npt.NDArray[np.object_]) -> Texts:
    """JSON string literals, each distinct value encoded once."""
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    return _coded(inverse.ravel(), [_ENC(v) for v in distinct.tolist()])


@kernel(nogil=True)
def _write_addresses(out: Arr, off: Arr, words: Arr, pool: Arr, pool_off: Arr) -> None:
    """``"address"`` of each row into ``out``, row ``i`` at ``out[off[i]:off[i + 1]]``:
    ``words[i]`` is (IPv4 address, -1) or (0, entry of its text in the pool) for IPv6."""
    pos = 0
    for i in range(words.shape[0]):
        off[i] = pos
        out[pos] = 34  # '"'
        pos = _write_address(out, pos + 1, words, i, 0, 1, pool, pool_off)
        out[pos] = 34
        pos += 1
    off[words.shape[0]] = pos


_ADDRESS = 48  # bytes at most of a quoted address ("::ffff:255.255.255.255" and longer forms)


def _addresses(c: Mapping[str, npt.NDArray[Any]], side: str) -> Texts:
    """The quoted text of each address: IPv4 written by the CSV writer's address kernel, IPv6
    from a pool of the distinct IPv6 addresses' text."""
    n = c["ver"].shape[0]
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = c[f"{side}_lo"].astype(np.uint64).view(np.int64) & 0xFFFFFFFF
    words[:, 1] = -1
    v6 = np.flatnonzero(c["ver"] != 4)
    pool = np.zeros(0, dtype=np.uint8)
    pool_off = np.zeros(1, dtype=np.int64)
    if v6.size:
        key = np.stack([c[f"{side}_hi"][v6].astype(np.uint64),
                        c[f"{side}_lo"][v6].astype(np.uint64)], axis=1)  # fmt: skip
        distinct, inverse = np.unique(key, axis=0, return_inverse=True)
        text = _AddrCache().column(np.full(len(distinct), 6), distinct[:, 0], distinct[:, 1])
        encoded = [t.encode() for t in text]
        pool = np.frombuffer(b"".join(encoded), np.uint8)
        pool_off = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=pool_off[1:])
        words[v6, 1] = inverse.ravel()
    out = np.empty(n * _ADDRESS, dtype=np.uint8)
    off = np.empty(n + 1, dtype=np.int64)
    _write_addresses(out, off, words, pool, pool_off)
    return Texts(out[: off[n]].tobytes(), off)


def _quoted_uids(uids: npt.NDArray[np.bytes_], prefix: str) -> Texts:
    """``"<prefix><uid>"`` per row (uids are 18 ASCII bytes)."""
    n = uids.shape[0]
    head = prefix.encode()
    width = len(head) + 20
    cells = np.empty((n, width), dtype=np.uint8)
    cells[:, 0] = 34  # '"'
    cells[:, 1 : len(head) + 1] = np.frombuffer(head, np.uint8)
    cells[:, len(head) + 1 : -1] = np.ascontiguousarray(uids, "S18").view(np.uint8).reshape(n, 18)
    cells[:, -1] = 34
    return Texts(cells.tobytes(), np.arange(n + 1, dtype=np.int64) * width)


def _iface_lists(masks: npt.NDArray[np.int64], pad: str) -> Texts:
    distinct, inverse = np.unique(masks, return_inverse=True)
    texts = []
    for m in distinct.tolist():
        ids = _iface_ids(m)
        inner = f",\n{pad}  ".join(map(str, ids))
        texts.append(f"[\n{pad}  {inner}\n{pad}]" if ids else "[]")
    return _coded(inverse.ravel(), texts)


Cell = tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | Texts | str
_ENC = json.encoder.encode_basestring
_KIND_JSON = [_ENC(k.value) for k in KINDS]
_STATE_JSON = [_ENC(s) for s in CONN_STATES]
_PROTO_JSON = [_ENC(p) for p in _PROTOS.tolist()]


def _ids(c: Mapping[str, npt.NDArray[Any]], uids: npt.NDArray[np.bytes_]) -> Texts:
    """``"file:uid"`` per row (a background table holds one capture: one file, one prefix)."""
    files = c["file_idx"]
    if files.shape[0] and (files == files[0]).all():
        return _quoted_uids(uids, f"{int(files[0])}:")
    texts = [
        _ENC(f"{f}:{u}") for f, u in zip(files.tolist(), uids.astype(str).tolist(), strict=True)
    ]
    return _coded(np.arange(len(texts)), texts)


def _cells(
    b: Background, t: FlowTable, rows: npt.NDArray[np.int64], pad: str
) -> list[tuple[str, Cell]]:
    """The fields of :data:`pcapflow.report.serialize.FLOW_FIELDS` and of
    :func:`~pcapflow.report.serialize.flow_dict`, in order: integer columns (values, nulls),
    JSON text per row (bytes), or one JSON text for every row."""
    c = t.cols
    n = len(t)
    none = np.zeros(n, dtype=np.bool_)
    is_tcp = c["proto"] == 6
    syn = is_tcp & (c["isn"] >= 0)
    opened = b.opened[rows].astype(np.int64)

    def ints(name: str, present: npt.NDArray[np.bool_] | None = None) -> Cell:
        return (c[name].astype(np.int64), none if present is None else ~present)

    return [
        ("id", _ids(c, t.uids)),
        ("uid", _quoted_uids(t.uids, "")),
        ("ts", _floats(t.ts)),
        ("orig_h", _addresses(c, "orig")),
        ("orig_p", ints("orig_p")),
        ("resp_h", _addresses(c, "resp")),
        ("resp_p", ints("resp_p")),
        ("proto", _coded(c["proto"] & 0xFF, _PROTO_JSON)),
        ("duration", _floats(t.duration)),
        ("orig_bytes", ints("orig_bytes")),
        ("resp_bytes", ints("resp_bytes")),
        ("conn_state", _coded(c["state"], _STATE_JSON)),
        ("missed_bytes", ints("missed_bytes")),
        ("history", _json_strings(t.history)),
        ("orig_pkts", ints("orig_pkts")),
        ("orig_ip_bytes", ints("orig_ip_bytes")),
        ("resp_pkts", ints("resp_pkts")),
        ("resp_ip_bytes", ints("resp_ip_bytes")),
        ("file_idx", ints("file_idx")),
        ("first_frame", ints("first_frame")),
        ("last_frame", ints("last_frame")),
        ("ifaces", _iface_lists(c["ifaces"], pad)),
        ("isn", ints("isn", syn)),
        ("resp_isn", ints("resp_isn", is_tcp & (c["resp_isn"] >= 0))),
        ("syn_ip_id", ints("syn_ip_id", syn)),
        ("syn_ttl", ints("syn_ttl", syn)),
        ("syn_tsval", ints("syn_tsval", syn & (c["syn_tsval"] >= 0))),
        ("syn_retransmits", ints("syn_retransmits")),
        ("duplicates", ints("duplicates")),
        ("last_ts", _floats(t.last_ts)),
        ("packets_truncated", "false"),
        ("label", _coded(opened, ["null", _ENC(Label.OK.value)])),
        ("paired_with", "[]"),
        ("capture", _ENC(b.capture)),
        ("role", _ENC(b.role)),
        ("kind", _coded(b.kinds[rows], _KIND_JSON)),
        ("frontend", "null"),
        ("rule", "null"),
        ("reason", _coded(opened, [_ENC(b.reasons[1]), _ENC(b.reasons[0])])),
        ("note", _ENC("")),
    ]


def background_json_rows(b: Background, start: int, stop: int, depth: int) -> str:
    """The JSON text of rows ``start:stop`` of a background table, joined by ``,\n``, each
    exactly as ``json.dumps(flow_dict(result), indent=2)`` nested ``depth`` levels deep would
    write it (see :func:`pcapflow.report.serialize.flow_dict`)."""
    rows = np.arange(start, stop, dtype=np.int64)
    t = b.table.take(rows)
    n = len(t)
    if not n:
        return ""
    pad = "  " * (depth + 1)
    inner = "  " * depth
    kinds: list[int] = []
    index: list[int] = []
    ints: list[npt.NDArray[np.int64]] = []
    nulls: list[npt.NDArray[np.bool_]] = []
    texts: list[bytes] = []
    offsets: list[npt.NDArray[np.int64]] = []
    seps: list[str] = []
    pending = f",\n{inner}{{\n"  # between rows; the first row drops the leading ",\n"
    for name, cell in _cells(b, t, rows, pad):
        head = f"{pad}{json.dumps(name)}: "
        pending += head if pending.endswith("{\n") else ",\n" + head
        if isinstance(cell, str):
            pending += cell
            continue
        seps.append(pending)
        pending = ""
        if isinstance(cell, tuple):
            kinds.append(0)
            index.append(len(ints))
            ints.append(cell[0])
            nulls.append(cell[1])
        else:
            kinds.append(1)
            index.append(len(texts))
            texts.append(cell.data)
            offsets.append(cell.off)
    seps.append(pending + f"\n{inner}}}")
    base = 0
    for j, off in enumerate(offsets):
        offsets[j] = off + base
        base += len(texts[j])
    sep_bytes = [s.encode() for s in seps]
    sep_off = np.zeros(len(sep_bytes) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in sep_bytes], out=sep_off[1:])
    text = np.frombuffer(b"".join(texts), dtype=np.uint8)
    int_arr = np.stack(ints)
    size = int(int_arr.shape[0]) * n * 21 + text.shape[0] + int(sep_off[-1]) * n
    out = np.empty(size, dtype=np.uint8)
    used = _write_rows(
        out, np.array(kinds, dtype=np.int64), np.array(index, dtype=np.int64), int_arr,
        np.stack(nulls), text, np.stack(offsets), np.frombuffer(b"".join(sep_bytes), np.uint8),
        sep_off, n,
    )  # fmt: skip
    return out[:used].tobytes().decode()[2:]  # without the first row's leading ",\n"
