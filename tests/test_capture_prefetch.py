"""Read-ahead of batches on a worker thread: same items in order, errors raised in the consumer,
an early stop ends the worker and closes the source."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pcapflow.capture.prefetch import prefetched


def test_items_arrive_in_order_whatever_the_depth() -> None:
    for depth in (1, 2, 5):
        assert list(prefetched(iter(range(100)), depth=depth)) == list(range(100))
    assert list(prefetched(iter([]))) == []


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("cut")

    got: list[int] = []
    with pytest.raises(ValueError, match="cut"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_ends_the_worker_and_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(10_000)
        finally:
            closed.set()

    before = threading.active_count()
    items = prefetched(source(), depth=2)
    assert next(items) == 0
    items.close()
    assert closed.wait(5)
    assert threading.active_count() == before
