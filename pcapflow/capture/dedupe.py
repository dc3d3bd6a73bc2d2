"""Cross-interface duplicates: the rule, and its plain-Python form for non-numba backends.

Rule (both backends): a frame is a *duplicate* when its IP packet (every captured byte from the
IP header on, and the same captured length) equals that of a frame at most
:data:`DUP_WINDOW_NS` earlier that was captured on a different interface -- a different pcapng
interface, a different SLL2 / "modified pcap" interface index, or any frame of a Linux "any"
capture in cooked-v1 (SLL) form, whose header cannot say which interface it came from.
Duplicates get no row; they are counted in ``CaptureInfo.duplicates`` (and in ``decoded``),
and the kept first copy gets ``PF_DUP_SEEN``.  A third identical copy starts a new pair.

This is what Azure accelerated networking produces under ``tcpdump -i any`` (each packet seen
on the synthetic NIC and on its VF), and what "any" captures of loopback traffic produce.
"""

from __future__ import annotations

from collections import deque

DUP_WINDOW_NS = 50_000  # 50 microseconds


class RowDeduper:
    """Duplicate recognition over whole packet bytes, one frame at a time (capture order)."""

    def __init__(self, window_ns: int = DUP_WINDOW_NS) -> None:
        self.window_ns = window_ns
        self.duplicates = 0
        self._seen: dict[bytes, tuple[int, tuple[int, int], int]] = {}
        self._order: deque[tuple[int, bytes]] = deque()

    def check(
        self, ts_ns: int, packet: bytes, key: tuple[int, int], anydev: bool, row: int
    ) -> int | None:
        """The row number of the copy this frame duplicates, or None (then it is remembered)."""
        while self._order and self._order[0][0] < ts_ns - self.window_ns:
            old_ts, old = self._order.popleft()
            entry = self._seen.get(old)
            if entry is not None and entry[0] == old_ts:
                del self._seen[old]
        entry = self._seen.get(packet)
        if (
            entry is not None
            and abs(ts_ns - entry[0]) <= self.window_ns
            and (anydev or entry[1] != key)
        ):
            del self._seen[packet]
            self.duplicates += 1
            return entry[2]
        self._seen[packet] = (ts_ns, key, row)
        self._order.append((ts_ns, packet))
        return None
