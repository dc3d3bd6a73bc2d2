"""A DataFrame of flows -> CSV text, byte for byte what ``DataFrame.to_csv`` writes, 3x faster.

``to_csv`` formats every cell through Python objects (about 200 ns a cell; 0.65 s for 100k
flows).  Here integer columns (``int64`` and nullable ``Int64``) are written by a numba kernel
straight from their numpy arrays, and text and float columns are encoded once per column
(floats with ``repr``, the shortest round-trip form that pandas writes as well) into one byte
buffer with offsets, which the same kernel copies into place (floats that are whole
microseconds, as the time columns of microsecond captures, are formatted by a kernel too, with
a proof that the text is ``repr``'s).  A frame with other dtypes, or
with text that CSV would have to quote, is handed to pandas.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pcapflow._jitcache import helper, kernel
from pcapflow.flows.layout import CONN_STATES

if TYPE_CHECKING:  # pandas is imported where it is used (the csv path never needs it)
    import pandas as pd

Arr = npt.NDArray[Any]

_INT, _TEXT = 0, 1
_NEEDS_QUOTES = (",", '"', "\n", "\r")


_POW10 = np.array([10**k for k in range(20)], dtype=np.uint64)
_PAIRS = np.frombuffer("".join(f"{k:02d}" for k in range(100)).encode(), dtype=np.uint8)


@helper(nogil=True, inline="always")
def write_int(out: Arr, pos: int, value: int | np.signedinteger[Any]) -> int:
    """Write ``value`` in decimal at ``out[pos:]``; the position after it (CSV and JSON).

    (Unsigned arithmetic, digits counted by comparisons and written two at a time: a third of
    the time of a division per digit.)"""
    if value < 0:
        out[pos] = 45  # "-"
        pos += 1
        v = np.uint64(0) - np.uint64(value)  # (also for the lowest int64)
    else:
        v = np.uint64(value)
    digits = 1
    while digits < 20 and v >= _POW10[digits]:
        digits += 1
    end = pos + digits
    k = end
    hundred = np.uint64(100)
    while v >= hundred:
        q = v // hundred
        r = np.intp(v - q * hundred) * 2
        out[k - 1] = _PAIRS[r + 1]
        out[k - 2] = _PAIRS[r]
        k -= 2
        v = q
    if v >= np.uint64(10):
        r = np.intp(v) * 2
        out[k - 1] = _PAIRS[r + 1]
        out[k - 2] = _PAIRS[r]
    else:
        out[k - 1] = np.uint8(48 + np.intp(v))
    return end


@kernel(nogil=True)
def write_rows(
    out: Arr,
    kinds: Arr,
    index: Arr,
    ints: Arr,
    nulls: Arr,
    text: Arr,
    text_off: Arr,
) -> int:
    """Write ``n`` CSV rows into ``out``; returns the bytes written.

    Column ``c`` is ``ints[index[c]]`` (empty where ``nulls`` is set) when ``kinds[c]`` is 0,
    else the bytes ``text[text_off[index[c], r] : text_off[index[c], r + 1]]``.
    """
    n = ints.shape[1] if ints.shape[0] else text_off.shape[1] - 1
    ncols = kinds.shape[0]
    pos = 0
    for r in range(n):
        for c in range(ncols):
            if c:
                out[pos] = 44  # ","
                pos += 1
            j = index[c]
            if kinds[c] == _INT:
                if not nulls[j, r]:
                    pos = write_int(out, pos, ints[j, r])
            else:
                a = text_off[j, r]
                b = text_off[j, r + 1]
                for k in range(a, b):
                    out[pos] = text[k]
                    pos += 1
        out[pos] = 10  # "\n"
        pos += 1
    return pos


_CELL = 32  # bytes per float cell in the scratch buffer (repr is at most 24)
_MICRO_LIMIT = 2.0**33  # below it a double's spacing is under 1e-6


@helper(nogil=True, inline="always")
def write_micro(out: Arr, pos: int, x: float) -> int:
    """``repr(x)`` at ``out[pos:]`` when ``x`` is provably a whole number of microseconds:
    the position after it, else -1 (nothing proved; the caller uses ``repr``).

    Timestamps and durations of microsecond captures are ``u / 1e6`` for an integer ``u``.  When
    ``u / 1e6`` (one correctly rounded division, as Python's own float parsing is) gives back
    the value, the decimal ``u`` x 1e-6 round-trips; where doubles are closer together than
    1e-6 (below 2**33) no other multiple of 1e-6 does, and any string with more decimals has
    more digits: so it is the shortest round-trip form, ``repr``'s, written in fixed notation
    (1e-4 <= x < 1e16) with trailing zeros dropped.
    """
    if x == 0.0 and math.copysign(1.0, x) > 0:
        out[pos] = 48  # "0.0"
        out[pos + 1] = 46
        out[pos + 2] = 48
        return pos + 3
    if not (x >= 1e-4 and x < _MICRO_LIMIT):  # (also NaN)
        return -1
    u = np.int64(round(x * 1e6))
    if u / 1e6 != x:
        return -1
    whole = u // 1_000_000
    frac = u - whole * 1_000_000
    pos = write_int(out, pos, whole)
    out[pos] = 46  # "."
    pos += 1
    if frac == 0:
        out[pos] = 48
        return pos + 1
    width = 6
    while frac % 10 == 0:
        frac //= 10
        width -= 1
    for k in range(width - 1, -1, -1):
        out[pos + k] = 48 + frac % 10
        frac //= 10
    return pos + width


@helper(nogil=True, inline="always")
def write_shortest(out: Arr, pos: int, x: float) -> int:
    """``repr(x)`` at ``out[pos:]`` for ``1 <= x < 2**52``, as long as the integers below fit
    in 63 bits (times to the nanosecond: 7 decimals); else -1.

    Such a double is ``whole + m / 2**e`` exactly (``e = 53 - exponent``; ``whole`` and the
    fraction's ``m`` are exact integers), and every decimal string that reads back as ``x``
    has the integer part ``whole`` (integers are doubles here, so the nearest ones to ``x`` are
    a whole spacing away).  ``repr`` is the shortest such string, and the nearest to ``x``
    among those: for ``d = 1, 2, ...`` decimals, the nearest ``v / 10**d`` to the fraction
    reads back as ``x`` when it is less than half a spacing (``2**-e``) away (or exactly half
    and ``x``'s significand even: a tie is read to even), in integers
    ``2 * |v * 2**e - m * 10**d| < 10**d``.  An exact tie between two ``v`` is left to
    ``repr`` (-1).
    """
    if not (x >= 1.0 and x < 4503599627370496.0):  # 2**52 (also NaN)
        return -1
    whole = np.int64(math.floor(x))
    e = 53 - math.frexp(x)[1]
    m = np.int64((x - np.float64(whole)) * np.float64(np.int64(1) << e))  # exact
    if m == 0:
        pos = write_int(out, pos, whole)
        out[pos] = 46  # ".0"
        out[pos + 1] = 48
        return pos + 2
    half = np.int64(1) << (e - 1)
    digits = 1  # of whole (repr has at most 17 significant digits)
    probe = whole
    while probe >= 10:
        probe //= 10
        digits += 1
    p10 = np.int64(1)
    for d in range(1, 18 - digits):
        p10 *= 10
        if p10 > (np.int64(1) << (62 - e)):
            return -1
        b = m * p10
        v = (b + half) >> e
        if (b & ((np.int64(1) << e) - 1)) == half:
            return -1  # exactly between two candidates
        gap = 2 * abs((v << e) - b)  # (its distance to x, in units of 10**-d * 2**-e / 2)
        if gap < p10 or (gap == p10 and m % 2 == 0):
            pos = write_int(out, pos, whole)
            out[pos] = 46  # "."
            for k in range(d, 0, -1):
                out[pos + k] = 48 + v % 10
                v //= 10
            return pos + d + 1
    return -1


@helper(nogil=True, inline="always")
def write_float(out: Arr, pos: int, x: float) -> int:
    """``repr(x)`` at ``out[pos:]`` when :func:`write_micro` or :func:`write_shortest` can
    prove it: the position after it, else -1."""
    end = write_micro(out, pos, x)
    return end if end >= 0 else write_shortest(out, pos, x)


@kernel(nogil=True)
def _micro_reprs(values: Arr, out: Arr, lens: Arr) -> None:
    """``repr`` of the floats that :func:`write_float` proves, written into ``out[i]``; cells
    it does not prove stay at length -1 (the caller uses ``repr``)."""
    for i in range(values.shape[0]):
        lens[i] = write_float(out[i], 0, values[i])


def _proved_cells(values: Arr) -> tuple[Arr, Arr]:
    """(out, lens) of :func:`_micro_reprs` for ``values`` (lens -1: not proved)."""
    out = np.zeros((values.shape[0], _CELL), dtype=np.uint8)
    lens = np.empty(values.shape[0], dtype=np.int64)
    _micro_reprs(np.ascontiguousarray(values, dtype=np.float64), out, lens)
    return out, lens


def float_proved(values: Arr) -> Arr:
    """Which of ``values`` :func:`write_float` proves to be ``repr``'s text (the others need
    ``repr``)."""
    return _proved_cells(values)[1] >= 0


def float_cells(values: Arr, null: str = "") -> tuple[bytes, Arr]:
    """Float cells as pandas writes them (the shortest round-trip form, ``repr``; ``null``
    for NaN), as :func:`_encoded` returns them: the cells :func:`write_float` proves by
    :func:`_micro_reprs`, the other cells by ``repr``.  (Also the JSON of background flows,
    with ``null="null"``: see :func:`pcapflow.flows.table.background_json_rows`.)"""
    n = values.shape[0]
    out, lens = _proved_cells(values)
    other = np.flatnonzero(lens < 0)
    if other.size:
        texts = [null if x != x else repr(x) for x in values[other].tolist()]
        lens[other] = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        padded = "".join(t.ljust(_CELL) for t in texts).encode()  # (repr is ASCII)
        out[other] = np.frombuffer(padded, dtype=np.uint8).reshape(-1, _CELL)
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    used = np.arange(_CELL)[None, :] < lens[:, None]
    return out[used].tobytes(), off


def _text_cells(cells: list[Any]) -> tuple[list[str], str] | None:
    """Text cells and their concatenation, or None when pandas must decide (cells that are not
    text, text that CSV quotes)."""
    try:
        joined = "".join(cells)
    except TypeError:  # not all cells are text
        return None
    if any(ch in joined for ch in _NEEDS_QUOTES):
        return None
    return cells, joined


def _encoded(cells: list[str], joined: str) -> tuple[bytes, Arr]:
    """UTF-8 bytes of the cells, concatenated, and the offsets of each cell in them."""
    n = len(cells)
    off = np.zeros(n + 1, dtype=np.int64)
    if joined.isascii():
        np.cumsum(np.fromiter(map(len, cells), dtype=np.int64, count=n), out=off[1:])
        return joined.encode(), off
    encoded = [c.encode() for c in cells]
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=off[1:])
    return b"".join(encoded), off


def frame_csv(frame: pd.DataFrame) -> str:
    """``frame.to_csv(index=False, lineterminator="\\n")``, computed faster."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype == np.int64 or isinstance(series.dtype, pd.Int64Dtype):
            nulls = series.isna().to_numpy()
            columns[str(name)] = (series.to_numpy(dtype=np.int64, na_value=0), nulls)
        elif series.dtype in (np.float64, object):
            columns[str(name)] = (
                series.to_numpy() if series.dtype == np.float64 else series.tolist()
            )
        else:
            columns = {}
            break
    text = columns_csv(columns) if len(columns) == len(frame.columns) else None
    return text if text is not None else str(frame.to_csv(index=False, lineterminator="\n"))


def columns_csv(columns: dict[str, Any]) -> str | None:
    """CSV text (header first) of equally long columns, as ``DataFrame.to_csv`` would write
    them: integer arrays or ``(int64 values, null mask)`` pairs, float64 arrays, lists or
    object arrays of text; None when only pandas can (no rows, one column, other types, text
    that needs quotes)."""
    names = list(columns)
    first = next(iter(columns.values()), None)
    n = 0 if first is None else len(first[0] if isinstance(first, tuple) else first)
    # (one column: the csv module quotes an empty cell so that the row is not blank)
    if n == 0 or len(names) < 2 or any(("," in x or '"' in x or "\n" in x) for x in names):
        return None
    kinds: list[int] = []
    index: list[int] = []
    ints: list[Arr] = []
    nulls: list[Arr] = []
    texts: list[bytes] = []
    offsets: list[Arr] = []
    for column in columns.values():
        if isinstance(column, np.ndarray) and column.dtype.kind in "iu":
            column = (column, np.zeros(n, dtype=np.bool_))
        if isinstance(column, tuple):
            kinds.append(_INT)
            index.append(len(ints))
            ints.append(np.asarray(column[0], dtype=np.int64))
            nulls.append(np.asarray(column[1], dtype=np.bool_))
            continue
        found: tuple[list[str], str] | None = None
        if isinstance(column, np.ndarray) and column.dtype == np.float64:
            data, off = float_cells(column)
        elif isinstance(column, np.ndarray) and column.dtype == object:
            found = _text_cells(column.tolist())
        elif isinstance(column, list):
            found = _text_cells(column)
        else:
            return None
        if not (isinstance(column, np.ndarray) and column.dtype == np.float64):
            if found is None:
                return None
            data, off = _encoded(*found)
        kinds.append(_TEXT)
        index.append(len(texts))
        texts.append(data)
        offsets.append(off)
    base = 0
    for j, off in enumerate(offsets):
        offsets[j] = off + base
        base += len(texts[j])
    text = np.frombuffer(b"".join(texts), dtype=np.uint8) if texts else np.zeros(0, np.uint8)
    int_arr = np.stack(ints) if ints else np.zeros((0, n), dtype=np.int64)
    if int_arr.size and int(int_arr.min()) == np.iinfo(np.int64).min:
        return None  # (its negation overflows in the kernel; pandas writes it)
    null_arr = np.stack(nulls) if nulls else np.zeros((0, n), dtype=np.bool_)
    off_arr = np.stack(offsets) if offsets else np.zeros((0, n + 1), dtype=np.int64)
    # 20 digits and a sign per integer, the text itself, a separator per cell, a newline per row
    size = int(int_arr.shape[0]) * n * 21 + text.shape[0] + len(kinds) * n + n
    out = np.empty(size, dtype=np.uint8)
    used = write_rows(
        out,
        np.array(kinds, dtype=np.int64),
        np.array(index, dtype=np.int64),
        int_arr,
        null_arr,
        text,
        off_arr,
    )
    header = ",".join(names) + "\n"
    return header + out[:used].tobytes().decode()


# --- the flow table, straight from its integer columns ----------------------------------------
# Columns of the (n, FLOW_ROWS) int64 matrix that :mod:`pcapflow.flows.tablecsv` fills: the flow
# blocks' columns named in FLOW_COLUMNS (addresses as the bits of their uint64 halves), then
# the uid's two numbers, then entries of the text pool (-1: none) for IPv6 addresses and for the
# float cells that :func:`write_micro` does not prove (written with ``repr``).
FLOW_COLUMNS = ("start_ns", "last_ns", "lastpkt_ns", "ver", "proto", "orig_hi", "orig_lo",
                "resp_hi", "resp_lo", "orig_p", "resp_p", "orig_bytes", "resp_bytes", "state",
                "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
                "file_idx", "first_frame", "last_frame", "isn", "resp_isn", "syn_ip_id",
                "syn_ttl", "syn_tsval", "syn_retransmits", "duplicates", "end")  # fmt: skip
(R_START, R_LAST, R_LASTPKT, R_VER, R_PROTO, R_OHI, R_OLO, R_RHI, R_RLO, R_OPORT, R_RPORT,
 R_OBYTES, R_RBYTES, R_STATE, R_MISSED, R_OPKTS, R_OIPB, R_RPKTS, R_RIPB, R_FILE, R_FIRST,
 R_LASTF, R_ISN, R_RISN, R_IPID, R_TTL, R_TSVAL, R_RXMT, R_DUPS, R_END) = range(30)  # fmt: skip
R_UID_HEAD, R_UID_TAIL, R_ORIG6, R_RESP6 = 30, 31, 32, 33
R_FLOAT = 34  # R_FLOAT + k: the pool entry of float cell k (ts, duration, last_ts) or -1
FLOW_ROWS = 37
N_FLOATS = 3
# Text pool entries: proto names (256), then connection states, then end reasons, then the rest.
POOL_STATES = 256
POOL_ENDS = POOL_STATES + len(CONN_STATES)
_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)


@helper(nogil=True, inline="always")
def flow_float(ints: Arr, k: int, i: int) -> float:
    """Float cell ``k`` of flow ``i`` as the DataFrame holds it (ns / 1e9 in float64)."""
    if k == 0:
        return np.float64(ints[i, R_START]) / 1e9
    if k == 1:
        return np.float64(ints[i, R_LAST] - ints[i, R_START]) / 1e9
    return np.float64(ints[i, R_LASTPKT]) / 1e9


@kernel(nogil=True)
def fill_flow_rows(part: Arr, columns: Any) -> None:
    """``part[i, c] = columns[c][i]`` (the blocks' columns side by side, a flow per row)."""
    for i in range(part.shape[0]):
        for c in range(len(columns)):
            part[i, c] = columns[c][i]


@helper(nogil=True, inline="always")
def _copy_entry(out: Arr, pos: int, pool: Arr, pool_off: Arr, entry: int) -> int:
    for k in range(pool_off[entry], pool_off[entry + 1]):
        out[pos] = pool[k]
        pos += 1
    return pos


@helper(nogil=True, inline="always")
def _write_address(out: Arr, pos: int, ints: Arr, i: int, lo: int, v6: int, pool: Arr,
                   pool_off: Arr) -> int:  # fmt: skip
    entry = ints[i, v6]
    if entry >= 0:
        return _copy_entry(out, pos, pool, pool_off, entry)
    word = ints[i, lo]
    for shift in (24, 16, 8, 0):
        if shift != 24:
            out[pos] = 46  # "."
            pos += 1
        pos = write_int(out, pos, (word >> shift) & 255)
    return pos


# A line dialect: entries of a second text pool.  Entry c (0..29) comes before cell c (CSV:
# nothing, then ","; JSON: '{"ts": ', ', "uid": ', ...), then the line's end, the text of an
# unset cell ("" or "null") and the quote around text cells ("" or '"').
D_END, D_NULL, D_QUOTE = 30, 31, 32


@helper(nogil=True, inline="always")
def _write_float(out: Arr, pos: int, ints: Arr, k: int, i: int, pool: Arr, pool_off: Arr) -> int:
    entry = ints[i, R_FLOAT + k]
    if entry >= 0:
        return _copy_entry(out, pos, pool, pool_off, entry)
    return write_float(out, pos, flow_float(ints, k, i))


@helper(nogil=True, inline="always")
def _write_uid(out: Arr, pos: int, head: int, tail: int) -> int:
    out[pos] = 67  # "C"
    for d in range(10, 0, -1):
        out[pos + d] = _BASE62[head % 62]
        head //= 62
    for d in range(17, 10, -1):
        out[pos + d] = _BASE62[tail % 62]
        tail //= 62
    return pos + 18


@helper(nogil=True, inline="always")
def write_fixed6(out: Arr, pos: int, x: float) -> int:
    """``"{:.6f}".format(x)`` at ``out[pos:]`` (Zeek's times and intervals) for finite
    ``|x| < 2**53``: the exact binary fraction ``m / 2**e`` of ``x`` times 10**6, rounded half
    to even, as Python rounds; in two 32-bit limbs, so that nothing overflows."""
    if x < 0.0 or (x == 0.0 and math.copysign(1.0, x) < 0):
        out[pos] = 45  # "-"
        pos += 1
        x = -x
    whole = np.int64(math.floor(x))
    frac = x - np.float64(whole)  # (exact)
    q = np.int64(0)
    if frac > 0.0:
        e = 53 - math.frexp(x)[1]
        m = np.int64(math.ldexp(frac, e))  # frac = m / 2**e exactly, m < 2**53
        low32 = np.int64(0xFFFFFFFF)
        a = (m >> 32) * 1_000_000  # m * 10**6 = a * 2**32 + b
        b = (m & low32) * 1_000_000
        if e <= 32:
            q = (a << (32 - e)) + (b >> e)
            rest = b & ((np.int64(1) << e) - 1)
            half = np.int64(1) << (e - 1)
            above, tie = bool(rest > half), bool(rest == half)
        else:
            c = a + (b >> 32)  # m * 10**6 = c * 2**32 + d
            d = b & low32
            s = e - 32
            if s > 62:
                q, above, tie = np.int64(0), False, False
            else:
                q = c >> s
                cm = c & ((np.int64(1) << s) - 1)
                half = np.int64(1) << (s - 1)
                above = bool(cm > half or (cm == half and d > 0))
                tie = bool(cm == half and d == 0)
        if above or (tie and q % 2 == 1):
            q += 1
        if q == 1_000_000:
            whole += 1
            q = np.int64(0)
    pos = write_int(out, pos, whole)
    out[pos] = 46  # "."
    for k in range(6, 0, -1):
        out[pos + k] = 48 + q % 10
        q //= 10
    return pos + 7


# A line's cells, as data (rows of ``cells`` in write_table_rows): what each cell is (CELL_*),
# two arguments (a matrix column, a pool base, a float's number) and when it is shown (SHOW_*).
(CELL_INT, CELL_FLOAT, CELL_FIXED6, CELL_UID, CELL_ADDR, CELL_NAME, CELL_HISTORY,
 CELL_UNSET) = range(8)  # fmt: skip
SHOW, SHOW_SYN, SHOW_TCP_SET, SHOW_SYN_SET, SHOW_TIMED, SHOW_NONEMPTY = range(6)
# A line dialect: entries of a second text pool.  Entry c (one per cell) comes before cell c
# (CSV: nothing, then ","; JSON: '{"ts": ', ', "uid": ', ...), then (from the end) the line's
# end, the text of an unset cell ("", "null", "-") and the quote around text cells ("" or '"').
D_END, D_NULL, D_QUOTE = -3, -2, -1


@kernel(nogil=True)
def write_table_rows(
    out: Arr,
    pos: int,
    ints: Arr,
    order: Arr,
    first: int,
    stop: int,
    hist: Arr,
    hist_off: Arr,
    pool: Arr,
    pool_off: Arr,
    cells: Arr,
    dia: Arr,
    dia_off: Arr,
    unproved: Arr,
) -> int:
    """Lines of flows ``order[first:stop]`` into ``out[pos:]``: the cells ``cells`` (CSV or
    JSON lines of ``records.FRAME_DTYPES``, a Zeek conn.log) spelt in the dialect ``dia``;
    returns the position after them.  ``hist[hist_off[i]:hist_off[i + 1]]`` is flow ``i``'s
    history; the pool's entries hold names, IPv6 addresses and ``repr`` of floats.

    A float cell that :func:`write_float` does not prove and that has no pool entry stops the
    kernel before its line: ``unproved`` is then (the row in ``order``, the float's number),
    else (``stop``, -1).  One call site per kind of cell: each helper is compiled in once.
    """
    unproved[0] = stop
    unproved[1] = -1
    ends = dia_off.shape[0] - 1
    quotes = dia_off[ends] > dia_off[ends - 1]  # (JSON's; none in CSV and conn.log)
    for r in range(first, stop):
        line = pos
        i = order[r]
        tcp = ints[i, R_PROTO] == 6
        syn = tcp and ints[i, R_ISN] >= 0
        timed = flow_float(ints, 1, i) > 0.0
        for c in range(cells.shape[0]):
            pos = _copy_entry(out, pos, dia, dia_off, c)
            kind = cells[c, 0]
            arg = cells[c, 1]
            rule = cells[c, 3]
            value = ints[i, arg]
            if kind == CELL_INT and rule == SHOW:  # (most cells: no other test)
                pos = write_int(out, pos, value)
                continue
            shown = (
                rule == SHOW
                or (rule == SHOW_SYN and syn)
                or (rule == SHOW_TCP_SET and tcp and value >= 0)
                or (rule == SHOW_SYN_SET and syn and value >= 0)
                or (rule == SHOW_TIMED and timed)
                or (rule == SHOW_NONEMPTY and hist_off[i + 1] > hist_off[i])
            )
            if not shown or kind == CELL_UNSET:
                pos = _copy_entry(out, pos, dia, dia_off, ends + D_NULL)
                continue
            quoted = kind >= CELL_UID and quotes
            if quoted:
                pos = _copy_entry(out, pos, dia, dia_off, ends + D_QUOTE)
            if kind == CELL_INT:
                pos = write_int(out, pos, value)
            elif kind == CELL_FLOAT:
                pos = _write_float(out, pos, ints, arg, i, pool, pool_off)
                if pos < 0:
                    unproved[0] = r
                    unproved[1] = arg
                    return line
            elif kind == CELL_FIXED6:
                pos = write_fixed6(out, pos, flow_float(ints, arg, i))
            elif kind == CELL_UID:
                pos = _write_uid(out, pos, ints[i, R_UID_HEAD], ints[i, R_UID_TAIL])
            elif kind == CELL_ADDR:
                pos = _write_address(out, pos, ints, i, arg, cells[c, 2], pool, pool_off)
            elif kind == CELL_NAME:
                pos = _copy_entry(out, pos, pool, pool_off, cells[c, 2] + (value & 255))
            else:  # CELL_HISTORY
                for h in range(hist_off[i], hist_off[i + 1]):
                    out[pos] = hist[h]
                    pos += 1
            if quoted:
                pos = _copy_entry(out, pos, dia, dia_off, ends + D_QUOTE)
        pos = _copy_entry(out, pos, dia, dia_off, ends + D_END)
    return pos
