"""The flow table as CSV, JSON lines or a Zeek conn.log, written in pieces as it is formatted
(``pcapflow flows --format csv|json|zeek`` of one capture).

Byte for byte what the pandas frame's formatters (``output.flows_csv``, ``flows_json``,
``zeek_conn_log`` of ``blocks_frame(blocks)``) write, without pandas or one Python object per
cell: each finished-flow block is copied, as it comes, into one int64 matrix reserved ahead
(:data:`~pcapflow.flows.csvwrite.FLOW_COLUMNS`, the uid's two numbers, entries of a text pool)
and dropped; the flows are ordered by (ts, uid) with a stable sort of the start times (the
uid's base62 digits are in ASCII order, so its two numbers order ties); then the numba kernel
:func:`~pcapflow.flows.csvwrite.write_table_rows` formats a few thousand lines at a time, as a
:class:`Dialect` says (the cells of a line and how they are spelt), into a reused byte buffer
that goes to the output.  IPv6 addresses (each distinct one once), the protocol, state and
end-reason names, and the rare float cells that the kernel cannot prove to be ``repr``'s text
are entries of the text pool, made by Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.csvwrite import (
    CELL_ADDR,
    CELL_FIXED6,
    CELL_FLOAT,
    CELL_HISTORY,
    CELL_INT,
    CELL_NAME,
    CELL_UID,
    CELL_UNSET,
    FLOW_COLUMNS,
    FLOW_ROWS,
    N_FLOATS,
    POOL_ENDS,
    POOL_STATES,
    R_DUPS,
    R_END,
    R_FILE,
    R_FIRST,
    R_FLOAT,
    R_IPID,
    R_ISN,
    R_LAST,
    R_LASTF,
    R_LASTPKT,
    R_MISSED,
    R_OBYTES,
    R_OIPB,
    R_OLO,
    R_OPKTS,
    R_OPORT,
    R_ORIG6,
    R_PROTO,
    R_RBYTES,
    R_RESP6,
    R_RIPB,
    R_RISN,
    R_RLO,
    R_RPKTS,
    R_RPORT,
    R_RXMT,
    R_START,
    R_STATE,
    R_TSVAL,
    R_TTL,
    R_UID_HEAD,
    R_UID_TAIL,
    SHOW,
    SHOW_NONEMPTY,
    SHOW_SYN,
    SHOW_SYN_SET,
    SHOW_TCP_SET,
    SHOW_TIMED,
    fill_flow_rows,
    float_proved,
    write_table_rows,
)
from pcapflow.flows.layout import CONN_STATES, END_REASONS
from pcapflow.flows.records import FRAME_DTYPES, _AddrCache, proto_name, uid_numbers
from pcapflow.flows.zeeklog import CONN_FIELDS, UNSET, footer, header

Arr = npt.NDArray[Any]

HEADER = ",".join(FRAME_DTYPES) + "\n"
CHUNK_ROWS = 8192  # rows formatted and written at a time
RESERVE_ROWS = 1 << 20  # flows the matrix has room for at first (300 MB of address space)


class TextPool:
    """Texts the kernel copies (entry ``j`` is ``pool[pool_off[j]:pool_off[j + 1]]``): the
    protocol names (entry = protocol number), the states and end reasons, then IPv6 addresses
    and ``repr`` of floats, each distinct text once.  Entries are appended in place to buffers
    that double when full, so :meth:`arrays` is two views, never a rebuild of the pool (a
    nanosecond capture adds entries while its lines are written)."""

    def __init__(self) -> None:
        self._entries: dict[str, int] = {}
        self._pool = np.empty(1 << 12, dtype=np.uint8)
        self._off = np.zeros(1 << 10, dtype=np.int64)
        self._count = 0  # entries so far
        self._longest = 0
        for text in [proto_name(p) for p in range(256)] + [*CONN_STATES, *END_REASONS]:
            self._append(text)  # (fixed entry numbers, repeated texts included)

    def entry(self, text: str) -> int:
        found = self._entries.get(text)
        if found is None:
            found = self._entries[text] = self._append(text)
        return found

    def _append(self, text: str) -> int:
        data = text.encode("ascii")
        j, start = self._count, int(self._off[self._count])
        if j + 2 > self._off.shape[0]:
            self._off = np.concatenate([self._off, np.zeros_like(self._off)])
        if start + len(data) > self._pool.shape[0]:
            grown = np.empty(2 * (start + len(data)), dtype=np.uint8)
            grown[:start] = self._pool[:start]
            self._pool = grown
        self._pool[start : start + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self._off[j + 1] = start + len(data)
        self._count = j + 1
        self._longest = max(self._longest, len(data))
        return j

    def arrays(self) -> tuple[Arr, Arr]:
        """(pool, pool_off) of the entries so far: views, valid until the next entry."""
        return self._pool[: self._off[self._count]], self._off[: self._count + 1]

    def longest(self) -> int:
        return self._longest


@dataclass(frozen=True)
class FlowTable:
    """The flows of a capture, ready to format: see :func:`write_table_rows`."""

    ints: Arr  # (n, FLOW_ROWS) int64: a flow's cells side by side
    order: Arr  # row order: by ts, then uid
    hist: Arr  # uint8: every history, concatenated
    hist_off: Arr  # (n + 1) offsets into hist
    texts: TextPool
    longest_history: int

    def __len__(self) -> int:
        return int(self.ints.shape[0])

    def add_float_texts(self, rows: Arr, ks: Iterable[int]) -> None:
        """Give the float cells ``ks`` of flows ``rows`` that the kernel cannot prove (and
        that have no text yet) their ``repr`` (pool entries), all at once."""
        for k in ks:
            todo = rows[self.ints[rows, R_FLOAT + k] < 0]
            if todo.size == 0:
                continue
            values = float_values(self.ints, todo, k)
            unproved = np.flatnonzero(~float_proved(values))
            entries = [self.texts.entry(repr(x)) for x in values[unproved].tolist()]
            self.ints[todo[unproved], R_FLOAT + k] = entries


class _Collector:
    """Copies finished-flow blocks into the table's matrix, one block at a time."""

    def __init__(self) -> None:
        self.ints = np.zeros((0, FLOW_ROWS), dtype=np.int64)
        self.rows = 0
        self.histories: list[str] = []
        self.hist_lens: list[Arr] = []
        self.texts = TextPool()
        self._addrs = _AddrCache()

    def add(self, block: FlowBlock) -> None:
        n = len(block)
        if n == 0:
            return
        c = block.cols
        part = self._room(n)
        head, tail = uid_numbers(c)
        v6 = c["ver"] != 4
        columns = [*(_signed(c[name]) for name in FLOW_COLUMNS), _signed(head), _signed(tail)]
        columns.append(self._ipv6_entries(v6, c["ver"], c["orig_hi"], c["orig_lo"]))
        columns.append(self._ipv6_entries(v6, c["ver"], c["resp_hi"], c["resp_lo"]))
        columns += [np.full(n, -1, dtype=np.int64)] * N_FLOATS  # (entries made when needed)
        fill_flow_rows(part, tuple(columns))
        self.rows += n
        self.histories.append("".join(block.history))
        self.hist_lens.append(np.fromiter(map(len, block.history), dtype=np.int64, count=n))

    def _room(self, n: int) -> Arr:
        """The next ``n`` rows of the matrix, made room for: capacity is reserved in large
        steps with ``np.zeros`` (the pages it maps take memory only once written), so the
        matrix is not copied again until a capture has more than RESERVE_ROWS flows."""
        if self.rows + n > self.ints.shape[0]:
            grown = np.zeros((max(RESERVE_ROWS, 2 * (self.rows + n)), FLOW_ROWS), np.int64)
            grown[: self.rows] = self.ints[: self.rows]
            self.ints = grown
        return self.ints[self.rows : self.rows + n]

    def _ipv6_entries(self, v6: Arr, ver: Arr, hi: Arr, lo: Arr) -> Arr:
        entries = np.full(v6.shape[0], -1, dtype=np.int64)
        rows = np.flatnonzero(v6)
        if rows.size:
            keys = [ver[rows], hi[rows], lo[rows]]
            pairs = np.stack([k.astype(np.uint64) for k in keys], axis=1)  # (no float64)
            distinct, inverse = np.unique(pairs, axis=0, return_inverse=True)
            found = [self.texts.entry(self._addrs.text(*p)) for p in distinct.tolist()]
            entries[rows] = np.array(found, dtype=np.int64)[inverse.ravel()]
        return entries

    def table(self) -> FlowTable:
        """The collected flows."""
        n = self.rows
        ints = self.ints[:n]
        order = _ts_uid_order(ints)
        hist_off = _offsets(np.concatenate(self.hist_lens) if self.hist_lens else [])
        hist = np.frombuffer("".join(self.histories).encode("ascii"), dtype=np.uint8)
        self.histories, self.hist_lens = [], []
        longest_history = int(np.diff(hist_off).max()) if n else 0
        return FlowTable(ints, order, hist, hist_off, self.texts, longest_history)


def _ts_uid_order(ints: Arr) -> Arr:
    """``np.lexsort`` by start time, then uid (its two numbers), 3x sooner: a stable sort by
    start time, then the runs of equal start times (rare) sorted by uid."""
    start = ints[:, R_START]
    order = np.argsort(start, kind="stable")
    ordered = start[order]
    tied = np.zeros(order.shape[0], dtype=np.bool_)
    same = ordered[1:] == ordered[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        rows = order[tied]  # (whole runs, in order of start time and then position)
        keys = (ints[rows, R_UID_TAIL], ints[rows, R_UID_HEAD], start[rows])
        order[tied] = rows[np.lexsort(keys)]
    return order


def _signed(column: Arr) -> Arr:
    """An integer column as int64 (uint64 ones by their bits)."""
    if column.dtype == np.uint64:
        return column.view(np.int64)
    return np.ascontiguousarray(column, dtype=np.int64)


def _offsets(lengths: Arr | list[int]) -> Arr:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def flow_table(blocks: Iterable[FlowBlock]) -> FlowTable:
    """The flows of ``blocks``, which are consumed (and may be freed) one by one."""
    collector = _Collector()
    for block in blocks:
        collector.add(block)
    return collector.table()


Cell = tuple[int, int, int, int]  # write_table_rows' cell: kind, argument, argument, when shown


def _int(column: int, show: int = SHOW) -> Cell:
    return (CELL_INT, column, 0, show)


# The columns of records.FRAME_DTYPES (CSV, JSON lines) and of zeeklog.CONN_FIELDS.
_ORIG_H = (CELL_ADDR, R_OLO, R_ORIG6, SHOW)
_RESP_H = (CELL_ADDR, R_RLO, R_RESP6, SHOW)
_PROTO = (CELL_NAME, R_PROTO, 0, SHOW)
_STATE = (CELL_NAME, R_STATE, POOL_STATES, SHOW)
_UID = (CELL_UID, 0, 0, SHOW)
_UNSET = (CELL_UNSET, 0, 0, SHOW)
_COUNTERS = [_int(c) for c in (R_OPKTS, R_OIPB, R_RPKTS, R_RIPB)]
FRAME_CELLS: tuple[Cell, ...] = (
    (CELL_FLOAT, 0, 0, SHOW), _UID, _ORIG_H, _int(R_OPORT), _RESP_H, _int(R_RPORT), _PROTO,
    (CELL_FLOAT, 1, 0, SHOW), _int(R_OBYTES), _int(R_RBYTES), _STATE, _int(R_MISSED),
    (CELL_HISTORY, 0, 0, SHOW), *_COUNTERS, _int(R_PROTO), _int(R_FILE), _int(R_FIRST),
    _int(R_LASTF), _int(R_ISN, SHOW_SYN), _int(R_RISN, SHOW_TCP_SET), _int(R_IPID, SHOW_SYN),
    _int(R_TTL, SHOW_SYN), _int(R_TSVAL, SHOW_SYN_SET), _int(R_RXMT), _int(R_DUPS),
    (CELL_FLOAT, 2, 0, SHOW), (CELL_NAME, R_END, POOL_ENDS, SHOW),
)  # fmt: skip
CONN_CELLS: tuple[Cell, ...] = (  # (duration and byte counts unset for zero-length ones)
    (CELL_FIXED6, 0, 0, SHOW), _UID, _ORIG_H, _int(R_OPORT), _RESP_H, _int(R_RPORT), _PROTO,
    _UNSET, (CELL_FIXED6, 1, 0, SHOW_TIMED), _int(R_OBYTES, SHOW_TIMED),
    _int(R_RBYTES, SHOW_TIMED), _STATE, _UNSET, _UNSET, _int(R_MISSED),
    (CELL_HISTORY, 0, 0, SHOW_NONEMPTY), *_COUNTERS, _UNSET, _int(R_PROTO),
)  # fmt: skip
# The widest a cell can be (text cells: the longest pool entry or history, measured).
_CELL_BYTES = {CELL_INT: 20, CELL_FLOAT: 24, CELL_FIXED6: 28, CELL_UID: 18, CELL_UNSET: 0}


@dataclass(frozen=True)
class Dialect:
    """How a line of the flow table is spelt (``write_table_rows``' ``cells`` and ``dia``):
    its cells, the text before each, the line's end, an unset cell, the quote around text."""

    cells: tuple[Cell, ...]
    before: tuple[str, ...]
    end: str
    null: str
    quote: str

    def arrays(self) -> tuple[Arr, Arr, Arr]:
        """(cells, dia, dia_off) for the kernel."""
        texts = [*self.before, self.end, self.null, self.quote]
        lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        dia = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)
        return np.array(self.cells, dtype=np.int64), dia, _offsets(lens)

    def line_bytes(self, table: FlowTable) -> int:
        """At most this many bytes in a line of ``table``."""
        text = max(table.texts.longest(), 15)  # (an IPv4 address)
        widest = {**_CELL_BYTES, CELL_HISTORY: table.longest_history}
        cells = sum(widest.get(cell[0], text) for cell in self.cells)
        marks = len(self.null) + 2 * len(self.quote)
        return cells + sum(map(len, self.before)) + len(self.end) + len(self.cells) * marks


CSV = Dialect(FRAME_CELLS, ("", *[","] * (len(FRAME_DTYPES) - 1)), "\n", "", "")
JSON_LINES = Dialect(  # json.dumps of the frame's records: ", " and ": ", null for unset
    FRAME_CELLS,
    tuple(("{" if j == 0 else ", ") + f'"{name}": ' for j, name in enumerate(FRAME_DTYPES)),
    "}\n",
    "null",
    '"',
)
CONN_LOG = Dialect(CONN_CELLS, ("", *["\t"] * (len(CONN_FIELDS) - 1)), "\n", UNSET, "")


def write_csv(
    table: FlowTable, write: Callable[[bytes | memoryview], object], rows: int | None = None
) -> None:
    """The table as CSV (ASCII, header first), handed to ``write`` in pieces of ``rows`` lines
    (:data:`CHUNK_ROWS`), views of one reused buffer: ``write`` must copy what it keeps."""
    write(HEADER.encode("ascii"))
    write_lines(table, CSV, write, rows)


def write_json_lines(
    table: FlowTable, write: Callable[[bytes | memoryview], object], rows: int | None = None
) -> None:
    """The table as JSON lines (``output.flows_json`` of its frame), in pieces as CSV."""
    write_lines(table, JSON_LINES, write, rows)


def write_conn_log(
    table: FlowTable, write: Callable[[bytes | memoryview], object], rows: int | None = None
) -> None:
    """The table as a Zeek conn.log (``output.zeek_conn_log`` of its frame), in pieces as
    CSV, between its header and #close lines."""
    n = len(table)
    first = int(table.ints[:, R_START].min()) / 1e9 if n else 0.0
    last = int(table.ints[:, R_LASTPKT].max()) / 1e9 if n else 0.0
    write(("\n".join(header(first)) + "\n").encode("ascii"))
    write_lines(table, CONN_LOG, write, rows)
    write((footer(last) + "\n").encode("ascii"))


def write_lines(
    table: FlowTable,
    dialect: Dialect,
    write: Callable[[bytes | memoryview], object],
    rows: int | None = None,
) -> None:
    """The table's lines in ``dialect``, handed to ``write`` in pieces of ``rows`` lines."""
    rows = rows or CHUNK_ROWS
    n = len(table)
    if n == 0:
        return
    buffer = np.empty(min(rows, n) * dialect.line_bytes(table), dtype=np.uint8)
    cells, dia, dia_off = dialect.arrays()
    ks = sorted({cell[1] for cell in dialect.cells if cell[0] == CELL_FLOAT})
    unproved = np.zeros(2, dtype=np.int64)
    for first in range(0, n, rows):
        stop = min(first + rows, n)
        at, pos = first, 0
        while True:
            pos = write_table_rows(
                buffer, pos, table.ints, table.order, at, stop, table.hist, table.hist_off,
                *table.texts.arrays(), cells, dia, dia_off, unproved,
            )  # fmt: skip
            at, k = (int(v) for v in unproved)
            if k < 0:
                break
            # a cell the kernel cannot prove (sub-microsecond times): every such cell of the
            # rest of the piece gets its text at once, then the kernel goes on from line ``at``
            table.add_float_texts(table.order[at:stop], ks)
        write(buffer.data[:pos])


def float_values(ints: Arr, rows: Arr, k: int) -> Arr:
    """Float cell ``k`` (ts, duration, last_ts) of flows ``rows``, as the DataFrame holds it
    (``flow_float`` of the kernel: nanoseconds to float64, divided by 1e9)."""
    if k == 0:
        ns = ints[rows, R_START]
    elif k == 1:
        ns = ints[rows, R_LAST] - ints[rows, R_START]
    else:
        ns = ints[rows, R_LASTPKT]
    seconds: Arr = ns.astype(np.float64) / 1e9
    return seconds
