"""Background flow tables kept in a temporary file rather than in memory (issue 12).

An analysis reads each capture's flow table (in memory ~130 bytes a flow, ~17 MiB per GB of
capture) and keeps its healthy background flows (:mod:`pcapflow.reconcile.relevance`) until the
result is rendered.  From :data:`SPILL_ROWS` flows on, :func:`table_of_blocks` (pass 1) writes
the table to an anonymous temporary file as its blocks come and sorts it a column at a time
into a second one, :func:`spill` keeps the background rows in a file of their own, and
:class:`SpilledTable` reads a column, or a run of rows, at a time.  What stays in memory per
flow: while a column is worked on, that column; in the result, the order, kind and opening of
each background flow (10 bytes).

The file follows the "any user, any install" rule of :mod:`pcapflow._jitcache`, whose
directory checks it reuses: a private per-user directory in the temp dir
(``/tmp/pcapflow-UID/spill``, mode 0700, ours), else, in ``pcapflow serve`` workers, the serve
data dir's ``tmp``, else the temp dir itself (``TMPDIR``, ``/tmp``, ``/var/tmp``, ... as
:func:`tempfile.gettempdir` chooses), else no file at all (the table stays in memory).  Where
``/tmp`` is a tmpfs (RAM), set ``TMPDIR`` to a folder on disk (e.g. ``/var/tmp``).
The file is created unlinked (:func:`tempfile.TemporaryFile`): it has no name,
nobody else can open it, and the system removes it when it is closed or the process ends, even
on an error or a kill.
"""

from __future__ import annotations

import io
import itertools
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow._jitcache import CacheDir, CacheEnv, usable
from pcapflow.errors import PcapflowError
from pcapflow.flows.assembler import FlowBlock
from pcapflow.flows.layout import CONN_STATES
from pcapflow.flows.records import flow_uids
from pcapflow.flows.table import FlowTable, _narrow

SPILL_ROWS = 20_000  # background tables this long or longer go to a file
_UID = "\0uid"  # names of the two columns besides ``FlowTable.cols``
_HISTORY = "\0history"
_NOT_ESTABLISHED = [CONN_STATES.index(s) for s in ("S0", "REJ")]


def spill_dirs(env: CacheEnv | None = None) -> tuple[str | None, ...]:
    """Where to create the file, in order (None: :func:`tempfile.gettempdir`'s own choice):
    a private per-user folder in the temp dir, the serve data dir's ``tmp`` in ``pcapflow
    serve`` workers, the temp dir itself."""
    env = env or CacheEnv.from_process()
    private = CacheDir(Path(env.temp_dir, f"pcapflow-{env.uid}", "spill"), "temp dir", True)
    found: list[str | None] = [str(private.path)] if usable(private) else []
    if env.serve_data_dir:
        served = CacheDir(Path(env.serve_data_dir, "tmp"), "serve data dir")
        if usable(served):
            found.append(str(served.path))
    return (*found, None)


def _temporary_file() -> io.BufferedRandom | None:
    for folder in spill_dirs():
        try:
            return tempfile.TemporaryFile(prefix="pcapflow-spill-", dir=folder)
        except OSError:
            continue
    return None


class SpilledTable:
    """A :class:`FlowTable` in an unlinked temporary file: ``cols[name]`` reads that column,
    :meth:`take` of a run of rows reads those rows only (as a :class:`FlowTable`)."""

    def __init__(
        self,
        file: io.BufferedRandom,
        layout: dict[str, tuple[int, np.dtype[Any]]],
        histories: npt.NDArray[np.object_],
        rows: int,
    ):
        self._file = file
        self._layout = layout
        self._histories = histories
        self._rows = rows
        self._lock = threading.Lock()
        self.cols: Mapping[str, npt.NDArray[Any]] = _Columns(self)

    def __len__(self) -> int:
        return self._rows

    def close(self) -> None:
        self._file.close()

    def read(self, name: str, start: int = 0, stop: int | None = None) -> npt.NDArray[Any]:
        """Rows ``start:stop`` of column ``name``."""
        offset, dtype = self._layout[name]
        stop = self._rows if stop is None else min(stop, self._rows)
        out = np.empty(max(stop - start, 0), dtype=dtype)
        if out.size:
            with self._lock:
                self._file.seek(offset + start * dtype.itemsize)
                got = self._file.readinto(out.view(np.uint8).data)
            if got != out.nbytes:
                raise OSError(f"spill file: read {got} of {out.nbytes} bytes")
        return out

    def take(self, rows: npt.NDArray[np.int64]) -> FlowTable:
        """Rows ``rows`` in memory (one read when they are a run ``a, a+1, ...``)."""
        if not rows.size:
            return FlowTable.empty()
        start = int(rows[0])
        if int(rows[-1]) - start + 1 == rows.size and bool(np.all(np.diff(rows) == 1)):
            return self._run(start, start + int(rows.size))
        return FlowTable(
            {k: self.read(k)[rows] for k in self.cols},
            self._histories[self.read(_HISTORY)[rows]],
            self.read(_UID)[rows],
        )

    def _run(self, start: int, stop: int) -> FlowTable:
        return FlowTable(
            {k: self.read(k, start, stop) for k in self.cols},
            self._histories[self.read(_HISTORY, start, stop)],
            self.read(_UID, start, stop),
        )

    def chunks(self, size: int) -> Iterator[FlowTable]:
        """The table ``size`` rows at a time, in order."""
        for start in range(0, self._rows, size):
            yield self._run(start, start + size)

    @property
    def uids(self) -> npt.NDArray[np.bytes_]:
        return self.read(_UID)

    @property
    def history(self) -> npt.NDArray[np.object_]:
        found: npt.NDArray[np.object_] = self._histories[self.read(_HISTORY)]
        return found

    @property
    def ts(self) -> npt.NDArray[np.float64]:
        return self.read("start_ns") / 1e9

    @property
    def last_ts(self) -> npt.NDArray[np.float64]:
        return self.read("lastpkt_ns") / 1e9

    @property
    def duration(self) -> npt.NDArray[np.float64]:
        span: npt.NDArray[np.float64] = (self.read("last_ns") - self.read("start_ns")) / 1e9
        return span

    def established_at(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """:meth:`FlowTable.established` of rows ``rows``, from the history codes."""
        by_code = np.array(
            ["h" in h.lower().replace("^", "") for h in self._histories.tolist()], dtype=np.bool_
        )
        state = self.read("state")[rows]
        found: npt.NDArray[np.bool_] = by_code[self.read(_HISTORY)[rows]] & ~np.isin(
            state, _NOT_ESTABLISHED
        )
        return found


class _Columns(Mapping[str, npt.NDArray[Any]]):
    """The columns of a spilled table, each read from the file when asked for (not kept)."""

    def __init__(self, table: SpilledTable):
        self._table = table
        self._names = [k for k in table._layout if k not in (_UID, _HISTORY)]

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        if name not in self._names:
            raise KeyError(name)
        return self._table.read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def spill(table: FlowTable | SpilledTable, rows: npt.NDArray[np.int64]) -> FlowTable | SpilledTable:
    """:meth:`FlowTable.shrink_to` ``rows``, written to a temporary file when they are
    :data:`SPILL_ROWS` or more and a file can be written (else kept in memory); ``table`` is
    unusable afterwards either way."""
    if isinstance(table, SpilledTable):
        return _respill(table, rows)
    if rows.size < SPILL_ROWS or not len(table):
        return table.shrink_to(rows)
    file = _temporary_file()
    if file is None:
        return table.shrink_to(rows)
    try:
        spilled = _write(file, table, rows)
    except OSError:  # disk full, quota: keep the table in memory after all
        file.close()
        return table.shrink_to(rows)
    table.cols.clear()
    return spilled


def _write(file: io.BufferedRandom, table: FlowTable, rows: npt.NDArray[np.int64]) -> SpilledTable:
    layout: dict[str, tuple[int, np.dtype[Any]]] = {}
    offset = 0
    for name in table.cols:  # one column in memory at a time
        offset = _put(file, layout, name, table.cols[name][rows], offset)
    offset = _put(file, layout, _UID, table.uids[rows], offset)
    distinct: dict[str, int] = {}  # histories repeat: a code per distinct one
    codes = [distinct.setdefault(h, len(distinct)) for h in table.history[rows].tolist()]
    _put(file, layout, _HISTORY, _narrow(np.array(codes, dtype=np.int64)), offset)
    del codes
    file.flush()
    histories = np.array(list(distinct), dtype=object)
    return SpilledTable(file, layout, histories, int(rows.size))


def _respill(table: SpilledTable, rows: npt.NDArray[np.int64]) -> FlowTable | SpilledTable:
    """Rows ``rows`` of a spilled table, in a new file (the old one is closed)."""
    try:
        if rows.size < SPILL_ROWS:
            return table.take(rows)
        file = _temporary_file()
        if file is None:
            return table.take(rows)
        layout: dict[str, tuple[int, np.dtype[Any]]] = {}
        offset = 0
        try:
            for name in table._layout:  # one column in memory at a time
                part = table.read(name)[rows]
                offset = _put(file, layout, name, part, offset)
            file.flush()
        except OSError:  # disk full, quota: the rows in memory after all
            file.close()
            return table.take(rows)
        return SpilledTable(file, layout, table._histories, int(rows.size))
    finally:
        table.close()


def _put(
    file: io.BufferedRandom,
    layout: dict[str, tuple[int, np.dtype[Any]]],
    name: str,
    values: npt.NDArray[Any],
    offset: int,
) -> int:
    part = np.ascontiguousarray(values)
    file.write(part.view(np.uint8).data)  # OSError (disk full): the caller decides
    layout[name] = (offset, part.dtype)
    return offset + part.nbytes


def table_of_blocks(blocks: Iterable[FlowBlock]) -> FlowTable | SpilledTable:
    """:meth:`FlowTable.of_blocks`, in a temporary file from :data:`SPILL_ROWS` flows on: each
    block is written as it comes (compact, as ``of_blocks`` makes it), then the columns are
    sorted one at a time into a second file.  In memory at once: the sort keys (``ts``, uid)
    and one column."""
    held: list[FlowBlock] = []
    count = 0
    rest = iter(blocks)
    for b in rest:
        if len(b):
            held.append(b)
            count += len(b)
        if count >= SPILL_ROWS:
            break
    else:
        return FlowTable.of_blocks(held)
    file = _temporary_file()
    if file is None:
        return FlowTable.of_blocks(itertools.chain(held, rest))
    with file:
        unsorted = _Unsorted(file)
        try:  # the blocks written are gone from memory: no way back to an in-memory table
            for b in itertools.chain(held, rest):
                unsorted.add(b)
            return unsorted.sorted()
        except OSError as e:
            raise PcapflowError(f"temporary flow table: {e.strerror or e} (set TMPDIR)") from e


class _Unsorted:
    """Blocks written one after the other: per column, the (offset, dtype, rows) of each."""

    def __init__(self, file: io.BufferedRandom):
        self.file = file
        self.segments: dict[str, list[tuple[int, np.dtype[Any], int]]] = {}
        self.distinct: dict[str, int] = {}  # histories repeat: a code per distinct one
        self.offset = 0
        self.rows = 0

    def add(self, block: FlowBlock) -> None:
        n = len(block)
        if not n:
            return
        parts = {k: _narrow(v) for k, v in block.cols.items()}
        parts[_UID] = np.array(flow_uids(block.cols), dtype="S18")
        codes = [self.distinct.setdefault(h, len(self.distinct)) for h in block.history]
        parts[_HISTORY] = _narrow(np.array(codes, dtype=np.int64))
        layout: dict[str, tuple[int, np.dtype[Any]]] = {}
        for name, values in parts.items():
            self.offset = _put(self.file, layout, name, values, self.offset)
            self.segments.setdefault(name, []).append((*layout[name], n))
        self.rows += n

    def column(self, name: str) -> npt.NDArray[Any]:
        """The whole column, blocks in arrival order, in the type that holds every block's."""
        segments = self.segments[name]
        out = np.empty(self.rows, dtype=np.result_type(*(d for _o, d, _n in segments)))
        at = 0
        for offset, dtype, n in segments:
            part = np.empty(n, dtype=dtype)
            self.file.seek(offset)
            self.file.readinto(part.view(np.uint8).data)
            out[at : at + n] = part
            at += n
        return out

    def sorted(self) -> SpilledTable:
        """The flows sorted by (ts, uid), in a new temporary file."""
        self.file.flush()
        ts = self.column("start_ns") / 1e9
        order = np.lexsort((self.column(_UID), ts))
        del ts
        file = _temporary_file()
        if file is None:
            raise PcapflowError("temporary flow table: the temporary folder went away")
        layout: dict[str, tuple[int, np.dtype[Any]]] = {}
        offset = 0
        try:
            for name in self.segments:
                offset = _put(file, layout, name, self.column(name)[order], offset)
            file.flush()
        except OSError:
            file.close()
            raise
        histories = np.array(list(self.distinct), dtype=object)
        return SpilledTable(file, layout, histories, self.rows)
