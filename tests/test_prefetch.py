"""The background decoder of the visual stage: order, bounded look-ahead, errors, shutdown."""
from __future__ import annotations

import itertools
import threading
import time

import pytest

from extractors.prefetch import Prefetcher


@pytest.mark.parametrize("depth", [0, 1, 2, 5])
def test_items_come_in_order_and_end(depth):
    with Prefetcher(iter(range(20)), depth=depth) as items:
        assert list(items) == list(range(20))
        assert list(items) == []


def test_look_ahead_is_bounded_by_depth():
    made = []

    def produce():
        for k in itertools.count():
            made.append(k)
            yield k

    with Prefetcher(produce(), depth=2) as items:
        assert next(items) == 0
        deadline = time.monotonic() + 2.0
        while len(made) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        # one handed out, two queued, one made and waiting for room: never more
        assert len(made) <= 4


def test_producer_error_is_raised_in_the_caller_at_its_item():
    def produce():
        yield 1
        yield 2
        raise ValueError("frame 37 is corrupt")

    items = Prefetcher(produce(), depth=2)
    assert next(items) == 1 and next(items) == 2
    with pytest.raises(ValueError, match="frame 37"):
        next(items)
    with pytest.raises(StopIteration):
        next(items)
    items.close()


def test_close_stops_a_producer_blocked_on_a_full_queue():
    before = threading.active_count()
    items = Prefetcher(itertools.count(), depth=2, name="test-prefetch")
    assert next(items) == 0
    items.close()
    assert threading.active_count() == before
    assert not any(thread.name == "test-prefetch" for thread in threading.enumerate())


def test_negative_depth_is_refused():
    with pytest.raises(ValueError, match="depth"):
        Prefetcher(iter(()), depth=-1)
