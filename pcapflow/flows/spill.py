"""Background flow tables kept in a temporary file rather than in memory (issue 12).

An analysis keeps its healthy background flows (see :mod:`pcapflow.reconcile.relevance`) until
the result is rendered.  In memory they cost ~130 bytes a flow, ~17 MiB per GB of capture, so
:func:`spill` writes a large background table column by column to an anonymous temporary file
and :class:`SpilledTable` reads it back a column, or a run of rows, at a time.  What stays in
memory per flow is what the result needs to order and label it (about 10 bytes).

The file follows the "any user, any install" rule of :mod:`pcapflow._jitcache`, whose
directory checks it reuses: a private per-user directory in the temp dir
(``/tmp/pcapflow-UID/spill``, mode 0700, ours), else the temp dir itself (``TMPDIR``, ``/tmp``,
``/var/tmp``, ... as :func:`tempfile.gettempdir` chooses), else no file at all (the table stays
in memory).  The file is created unlinked (:func:`tempfile.TemporaryFile`): it has no name,
nobody else can open it, and the system removes it when it is closed or the process ends, even
on an error or a kill.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow._jitcache import CacheDir, usable
from pcapflow.flows.table import FlowTable

SPILL_ROWS = 20_000  # background tables this long or longer go to a file
_UID = "\0uid"  # names of the two columns besides ``FlowTable.cols``
_HISTORY = "\0history"


def spill_dirs() -> tuple[str | None, ...]:
    """Where to create the file, in order (None: :func:`tempfile.gettempdir`'s choice)."""
    private = CacheDir(
        Path(tempfile.gettempdir(), f"pcapflow-{os.getuid()}", "spill"), "temp dir", private=True
    )
    return (str(private.path), None) if usable(private) else (None,)


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


def spill(table: FlowTable, rows: npt.NDArray[np.int64]) -> FlowTable | SpilledTable:
    """:meth:`FlowTable.shrink_to` ``rows``, written to a temporary file when they are
    :data:`SPILL_ROWS` or more and a file can be written (else kept in memory); ``table`` is
    unusable afterwards either way."""
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

    def put(name: str, values: npt.NDArray[Any]) -> None:
        nonlocal offset
        part = np.ascontiguousarray(values)
        file.write(part.view(np.uint8).data)
        layout[name] = (offset, part.dtype)
        offset += part.nbytes

    for name in table.cols:  # one column in memory at a time
        put(name, table.cols[name][rows])
    put(_UID, table.uids[rows])
    distinct: dict[str, int] = {}  # histories repeat: a code per distinct one
    codes = [distinct.setdefault(h, len(distinct)) for h in table.history[rows].tolist()]
    put(_HISTORY, np.array(codes, dtype=np.uint8 if len(distinct) <= 256 else np.uint32))
    del codes
    file.flush()
    histories = np.array(list(distinct), dtype=object)
    return SpilledTable(file, layout, histories, int(rows.size))
