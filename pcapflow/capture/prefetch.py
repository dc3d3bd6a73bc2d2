"""Read ahead: run a batch iterator on a worker thread, a few batches ahead of its consumer.

The fast engine's kernels release the GIL, so on a machine with two cores reading and decoding
the next batches overlaps whatever the consumer does with the current one (flow assembly, whose
kernel releases the GIL too, and output).  Memory grows by at most ``depth`` batches.  An
exception raised by the iterator is raised again in the consumer, at the point it was met.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()
_POLL = 0.1  # seconds between checks that the consumer still wants batches


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """The items of ``items``, produced on a worker thread at most ``depth`` ahead."""
    ready: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    close = getattr(items, "close", None)
                    if close is not None:
                        close()  # the consumer stopped early: let the source clean up now
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            offer(_Failed(exc))
            return
        offer(_DONE)

    worker = threading.Thread(target=produce, name="pcapflow-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                break
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        worker.join()
