"""`pcapflow watch`: a live, bounded-memory view of attempts to the declared frontends.

Packets arrive from a growing capture file or from capture processes' pipes.  They go into a
:class:`PacketWindow` (the newest packets only: at most ``window_packets`` of them, none older than
``window_s`` seconds, each cut to ``keep_bytes``).  Every ``interval_s`` the window is written to a
scratch pcapng and analysed by the same engine as ``pcapflow analyze``; attempts whose label has
settled are counted once into per-frontend :class:`FrontendTally` counters, which never shrink.
Memory therefore stays bounded over hours: the window, the per-frontend counters, and the keys of
recently counted attempts (at most ``max_tracked``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import selectors
import tempfile
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pcapflow.errors import CaptureError
from pcapflow.live.capture import CaptureSession, LiveCaptureError, explain_failure
from pcapflow.live.pcapstream import PcapngAppender, Record, StreamInterface, StreamParser
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, Evidence, Finding, FlowResult

READ_CHUNK = 1 << 16
UDP_REUSE_S = 30.0  # a UDP 5-tuple seen again after this gap is a new attempt


@dataclass(frozen=True, slots=True)
class WatchLimits:
    """The bounds of a watch session (documented in docs/live.md)."""

    interval_s: float = 2.0
    duration_s: float | None = None
    window_packets: int = 50_000
    window_s: float = 300.0
    keep_bytes: int = 256  # per packet kept in the window: all headers, first payload bytes
    settle_s: float = 3.0  # an attempt is counted once its first packet is this old
    max_tracked: int = 50_000  # keys of counted attempts remembered (to count each once)


# ---- the window -------------------------------------------------------------------------------
@dataclass
class PacketWindow:
    """The newest packets, bounded by count and by age (capture clock)."""

    max_packets: int
    max_age_ns: int
    keep_bytes: int
    interfaces: list[StreamInterface] = field(default_factory=list)
    records: deque[Record] = field(default_factory=deque)
    total: int = 0
    latest_ns: int = 0

    def add(self, rec: Record) -> None:
        if self.keep_bytes and len(rec.data) > self.keep_bytes:
            rec = dataclasses.replace(rec, data=rec.data[: self.keep_bytes])
        self.records.append(rec)
        self.total += 1
        self.latest_ns = max(self.latest_ns, rec.ts_ns)
        while len(self.records) > self.max_packets or (
            self.records and self.records[0].ts_ns < self.latest_ns - self.max_age_ns
        ):
            self.records.popleft()

    @property
    def oldest_ns(self) -> int:
        return self.records[0].ts_ns if self.records else 0

    def snapshot(self) -> list[Record]:
        return sorted(self.records, key=lambda r: r.ts_ns)


# ---- counting attempts ------------------------------------------------------------------------
@dataclass
class FrontendTally:
    """Running counters for one frontend (never evicted; one per declared frontend)."""

    frontend: str
    rule: str | None = None
    attempts: int = 0
    failed: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    expected_rate: float | None = None

    @property
    def failure_rate(self) -> float:
        return self.failed / self.attempts if self.attempts else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "frontend": self.frontend,
            "rule": self.rule,
            "attempts": self.attempts,
            "failed": self.failed,
            "failure_rate": round(self.failure_rate, 6),
            "expected_rate": self.expected_rate,
            "labels": dict(sorted(self.labels.items())),
        }


AttemptKey = tuple[str, int, str, int, str, int]


def attempt_key(fr: FlowResult) -> AttemptKey | None:
    """What identifies one attempt across re-analyses of a sliding window; None = not countable.

    TCP: the 5-tuple and the ISN (so a flow whose SYN slid out of the window is never counted
    again as a new attempt).  UDP: the 5-tuple (re-use after a gap is handled by the caller).
    """
    f = fr.flow
    if f.proto == "tcp":
        return None if f.isn is None else (f.orig_h, f.orig_p, f.resp_h, f.resp_p, "tcp", f.isn)
    return (f.orig_h, f.orig_p, f.resp_h, f.resp_p, f.proto, 0)


@dataclass
class WatchState:
    """Everything a watch session knows; mutated only by :meth:`absorb`."""

    limits: WatchLimits = field(default_factory=WatchLimits)
    tallies: dict[str, FrontendTally] = field(default_factory=dict)
    counted: OrderedDict[AttemptKey, float] = field(default_factory=OrderedDict)
    newest: Finding | None = None
    ticks: int = 0
    result: AnalysisResult | None = None

    @property
    def attempts(self) -> int:
        return sum(t.attempts for t in self.tallies.values())

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.tallies.values())

    def absorb(self, result: AnalysisResult, now: float, final: bool = False) -> list[FlowResult]:
        """Count the attempts of ``result`` that settled; returns the newly counted ones."""
        self.ticks += 1
        self.result = result
        fresh = [
            fr for fr in _attempts(result) if final or fr.flow.ts <= now - self.limits.settle_s
        ]
        counted = [fr for fr in fresh if self._count_once(fr)]
        for fr in counted:
            self._tally(fr)
        self._note_rates(result)
        failures = [f for f in result.findings if f.label.is_failure]
        if failures:
            self.newest = max(failures, key=lambda f: (f.last_ts, f.id))
        self._forget(now)
        return counted

    def _count_once(self, fr: FlowResult) -> bool:
        key = attempt_key(fr)
        if key is None:
            return False
        seen = self.counted.get(key)
        self.counted[key] = fr.flow.last_ts
        self.counted.move_to_end(key)
        return seen is None or (key[4] != "tcp" and fr.flow.ts > seen + UDP_REUSE_S)

    def _tally(self, fr: FlowResult) -> None:
        assert fr.frontend is not None and fr.label is not None
        tally = self.tallies.setdefault(fr.frontend, FrontendTally(fr.frontend, fr.rule))
        tally.attempts += 1
        tally.failed += fr.label.is_failure
        tally.labels[fr.label.value] += 1

    def _note_rates(self, result: AnalysisResult) -> None:
        for finding in result.findings:
            tally = self.tallies.get(finding.frontend or "")
            if tally is not None and finding.expected_rate is not None:
                tally.expected_rate = finding.expected_rate

    def _forget(self, now: float) -> None:
        horizon = now - self.limits.window_s - UDP_REUSE_S
        while self.counted and (
            len(self.counted) > self.limits.max_tracked
            or next(iter(self.counted.values())) < horizon
        ):
            self.counted.popitem(last=False)


def _attempts(result: AnalysisResult) -> Iterator[FlowResult]:
    """Attempts to a frontend: the caller's leg, labelled."""
    for fr in result.flows:
        if fr.frontend is not None and fr.label is not None and fr.role in ("outbound", ""):
            yield fr


# ---- evidence in the stream's own frame numbers -----------------------------------------------
def renumber(finding: Finding, frames: Sequence[int], source: str) -> Finding:
    """``finding`` with evidence frames of the window file mapped back to the stream's frames."""

    def one(ev: Evidence) -> Evidence:
        frame = frames[ev.frame - 1] if 0 < ev.frame <= len(frames) else ev.frame
        return dataclasses.replace(ev, file=source, frame=frame)

    return dataclasses.replace(finding, evidence=tuple(one(ev) for ev in finding.evidence))


# ---- packet sources ---------------------------------------------------------------------------
class FileSource:
    """A capture file that may still be growing (written by tcpdump -w / dumpcap -w)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = path.name
        self.parser = StreamParser()
        self._pos = 0
        self._fh: BinaryIO | None = None

    def read(self) -> tuple[bytes, list[Record]]:
        if self._fh is None:
            try:
                self._fh = self.path.open("rb")
            except FileNotFoundError:
                return b"", []
            except OSError as exc:
                raise LiveCaptureError(f"cannot read {self.path}: {exc.strerror}") from None
        if os.fstat(self._fh.fileno()).st_size < self._pos:  # truncated or rotated: start over
            self._fh.seek(0)
            self._pos, self.parser = 0, StreamParser()
        data = self._fh.read(READ_CHUNK * 16)
        self._pos += len(data)
        try:
            return data, self.parser.feed(data)
        except CaptureError as exc:
            raise CaptureError(f"{self.path}: {exc}") from None

    def ended(self) -> bool:
        return False  # a growing file never ends by itself; duration or Ctrl-C ends the watch

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class PipeSource:
    """The stdout pipes of running capture processes (one parser per pipe)."""

    def __init__(self, session: CaptureSession) -> None:
        self.session = session
        self.label = "live " + ",".join(session.ifaces)
        self.selector = selectors.DefaultSelector()
        self.parsers: dict[int, StreamParser] = {}
        for proc in session.processes:
            fd = proc.stdout.fileno()
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)
            self.parsers[fd] = StreamParser()
        self._open = set(self.parsers)

    def poll(self, timeout: float) -> list[tuple[int, bytes, list[Record]]]:
        if not self._open:
            time.sleep(timeout)
            return []
        out = []
        for key, _ in self.selector.select(timeout):
            fd = int(key.fd)
            with contextlib.suppress(BlockingIOError):
                data = os.read(fd, READ_CHUNK)
                if not data:
                    self.selector.unregister(fd)
                    self._open.discard(fd)
                    continue
                out.append((fd, data, self.parsers[fd].feed(data)))
        return out

    def ended(self) -> bool:
        return not self._open

    def failure(self) -> str | None:
        for proc in self.session.processes:
            code = proc.proc.poll() if proc.proc else None
            if code not in (None, 0):
                return explain_failure(proc.tool.name, "\n".join(proc.stderr_lines))
        return None

    def close(self) -> None:
        self.session.stop()
        self.selector.close()


# ---- the session ------------------------------------------------------------------------------
Analyzer = Callable[[Sequence[Path], LbConfig], AnalysisResult]
View = Callable[["WatchSession"], None]


@dataclass
class WatchSession:
    """Glue: sources -> window -> periodic analysis -> state -> view."""

    lb: LbConfig
    analyzer: Analyzer
    limits: WatchLimits = field(default_factory=WatchLimits)
    write: BinaryIO | None = None
    source_label: str = ""
    state: WatchState = field(init=False)
    window: PacketWindow = field(init=False)
    _iface_map: dict[tuple[int, int], int] = field(default_factory=dict)
    _writer: PcapngAppender | None = None
    _frames: list[int] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    _last_ingest: float = 0.0

    def __post_init__(self) -> None:
        self.state = WatchState(self.limits)
        lim = self.limits
        self.window = PacketWindow(lim.window_packets, int(lim.window_s * 1e9), lim.keep_bytes)
        if self.write is not None:
            self._writer = PcapngAppender(self.write, self.window.interfaces)

    # packets in
    def ingest(self, stream: int, parser: StreamParser, records: Sequence[Record]) -> None:
        for rec in records:
            key = (stream, rec.iface)
            if key not in self._iface_map:
                self._iface_map[key] = len(self.window.interfaces)
                self.window.interfaces.append(parser.interfaces[rec.iface])
            # one frame numbering for all streams: the order of the --write file
            frame = self.window.total + 1
            rec = dataclasses.replace(rec, iface=self._iface_map[key], frame=frame)
            if self._writer is not None:
                self._writer.write(rec)
            self.window.add(rec)
        if records:
            self._last_ingest = self.clock()

    # analysis
    def analyse(self, scratch: Path, final: bool = False) -> AnalysisResult | None:
        records = self.window.snapshot()
        if not records:
            return None
        with scratch.open("wb") as out:
            appender = PcapngAppender(out, self.window.interfaces)
            for rec in records:
                appender.write(rec)
        self._frames = [r.frame for r in records]
        result = self.analyzer([scratch], self.lb)
        self.state.absorb(result, self.now(), final)
        if self.state.newest is not None and self.state.newest in result.findings:
            self.state.newest = renumber(self.state.newest, self._frames, self.source_label)
        return result

    def now(self) -> float:
        """Capture time, moved on by the wall time since the last packet arrived (so the last
        attempts settle on a quiet link, and a replayed file is judged by its own clock)."""
        idle = self.clock() - self._last_ingest if self._last_ingest else 0.0
        return self.window.latest_ns / 1e9 + idle

    @property
    def packets(self) -> int:
        return self.window.total


def run(
    session: WatchSession,
    source: FileSource | PipeSource,
    view: View,
    clock: Callable[[], float] = time.monotonic,
) -> WatchSession:
    """Follow ``source`` until its end, the duration, or Ctrl-C; then the final analysis."""
    limits = session.limits
    start = clock()
    deadline = start + limits.duration_s if limits.duration_s else None
    next_tick = start + limits.interval_s
    with tempfile.TemporaryDirectory(prefix="pcapflow-watch-") as tmp:
        scratch = Path(tmp) / "window.pcapng"
        try:
            while deadline is None or clock() < deadline:
                _pump(session, source, min(0.2, max(0.0, next_tick - clock())))
                if isinstance(source, PipeSource) and source.ended():
                    problem = source.failure()
                    if problem:
                        raise LiveCaptureError(problem)
                    break
                if clock() >= next_tick:
                    session.analyse(scratch)
                    view(session)
                    next_tick = clock() + limits.interval_s
        except KeyboardInterrupt:
            pass
        finally:
            _finish(session, source)
        session.analyse(scratch, final=True)
    return session


def _finish(session: WatchSession, source: FileSource | PipeSource) -> None:
    """Stop the capture and take in what it flushed, then close the source."""
    if isinstance(source, PipeSource):
        source.session.stop()
        deadline = time.monotonic() + 2.0
        while not source.ended() and time.monotonic() < deadline:
            _pump(session, source, 0.1)
    else:
        _pump(session, source, 0.0)
    source.close()


def _pump(session: WatchSession, source: FileSource | PipeSource, timeout: float) -> None:
    if isinstance(source, FileSource):
        data, records = source.read()
        session.ingest(0, source.parser, records)
        if not data:
            time.sleep(timeout)
        return
    for fd, _data, records in source.poll(timeout):
        session.ingest(fd, source.parsers[fd], records)
