"""The first-run notice: one stderr line while numba compiles the packet kernels.

A fresh user's first analysis compiles the kernels (seconds to a minute on a slow machine); a
warm run loads them from the cache and prints nothing.  The line appears when the first kernel
starts compiling (numba's ``numba:compile`` event, which a cache hit does not fire) and counts
the kernels called from Python (:data:`pcapflow._jitcache.ENTRY_KERNELS`) as they finish::

    pcapflow: compiling packet kernels for first use (once per user, cached in DIR)... 2/5

On a terminal the count is rewritten in place; elsewhere (a log) each count is appended, so the
notice stays one line.  It ends with ``done (S s)`` when the command's work is over.  Never on
stdout, so JSON and CSV output stay clean.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from pcapflow import _jitahead, _jitcache

_TITLE = "pcapflow: compiling packet kernels for first use"


def notice_text(cache_dir: str | None, done: int, total: int) -> str:
    """The notice line (without the trailing count/end when ``total`` is 0)."""
    where = (
        f"once per user, cached in {cache_dir}"
        if cache_dir
        else "not cached: no writable cache directory, set NUMBA_CACHE_DIR"
    )
    count = f" {done}/{total}" if total else ""
    return f"{_TITLE} ({where})...{count}"


class CompileNotice:
    """Listens to numba's compile events and keeps the notice line up to date."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = hasattr(stream, "isatty") and stream.isatty()
        self.depth = 0
        self.done = 0
        self.total = 0
        self.started: float | None = None
        self.enabled = True
        self.shown = False  # once per command: a later compile burst adds to the same line

    def announce(self) -> None:
        """Show the line now, before the imports: the cache is known to be cold (no stamp)."""
        if self.enabled and not self.shown:
            self.shown = True
            self.started = time.monotonic()
            self._write(notice_text(_cache_dir_text(), 0, 0))

    def compile_started(self) -> None:
        self.depth += 1
        if self.enabled and not self.total and (self.started is not None or not self.shown):
            self._count_from_here()

    def compile_ended(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.started is not None:
            self.done += 1
            self.total = max(self.total, self.done)
            self._count()

    def _count_from_here(self) -> None:
        """The first compile: how many kernels this process will compile, at most."""
        uncached = sum(1 for d in _jitcache.ENTRY_KERNELS if not _jitcache.is_cached(d))
        self.total = max(1, uncached - _jitahead.compiling_ahead())
        if self.started is None:
            self.shown = True
            self.started = time.monotonic()
            self._write(notice_text(_cache_dir_text(), 0, self.total))
        else:
            self._count()

    def _count(self) -> None:
        if self.live:
            self._write("\r" + notice_text(_cache_dir_text(), self.done, self.total))
        else:
            self._write(f" {self.done}/{self.total}")

    def close(self) -> None:
        """End the line; stamp the cache once this command's kernels are in it."""
        if self.started is not None:
            if self.total == 0 and self.live:  # announced, but nothing compiled: take it back
                self._write("\r" + " " * len(notice_text(_cache_dir_text(), 0, 0)) + "\r")
            else:
                self._write(f" done ({time.monotonic() - self.started:.1f} s)\n")
            self.started = None
        if self.done or any(getattr(d, "overloads", None) for d in _jitcache.ENTRY_KERNELS):
            _jitcache.mark_warm()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed: the notice is not worth failing for
            pass


def _cache_dir_text() -> str | None:
    choice = _jitcache.decide()
    return str(choice.path) if choice is not None else None


_active: list[CompileNotice] = []


@contextmanager
def compile_notice(stream: TextIO, early: bool = False) -> Iterator[CompileNotice]:
    """Announce kernel compiles on ``stream`` while the block runs (nothing when warm);
    ``early``: a command that runs kernels; on a terminal, the line shows at once (before the
    imports) when the cache has no stamp of these sources, and is taken back if nothing compiles.

    numba is not imported here: the listener is registered when the first kernel module is
    (:func:`pcapflow._jitcache.when_configured`), so commands without kernels pay nothing.
    """
    notice = CompileNotice(stream)
    listeners: list[Any] = []

    def start_listening() -> None:
        if notice in _active:  # the command may be over before any kernel is imported
            listeners.append(_listen(notice))

    if os.environ.get("NUMBA_DISABLE_JIT") != "1":
        _jitcache.when_configured(start_listening)
    _active.append(notice)
    atexit.register(notice.close)
    jit = os.environ.get("NUMBA_DISABLE_JIT") != "1"
    if early and jit and notice.live and not _jitcache.looks_warm():
        notice.announce()
    try:
        yield notice
    finally:
        _active.remove(notice)
        atexit.unregister(notice.close)
        notice.close()
        for listener in listeners:
            _unlisten(listener)


def silence() -> None:
    """``--quiet``: no notice from the running command."""
    for notice in _active:
        notice.enabled = False


def end_line() -> None:
    """End the notice line (if shown) before the command writes its output."""
    for notice in _active:
        notice.close()


def _listen(notice: CompileNotice) -> Any:
    from numba.core import event as numba_event

    event: Any = numba_event  # untyped

    class Listener(event.Listener):  # type: ignore[misc]
        def on_start(self, _: Any) -> None:
            notice.compile_started()

        def on_end(self, _: Any) -> None:
            notice.compile_ended()

    listener = Listener()
    event.register("numba:compile", listener)
    return listener


def _unlisten(listener: Any) -> None:
    from numba.core import event as numba_event

    event: Any = numba_event
    event.unregister("numba:compile", listener)
