"""The background decoders of the visual stage: order, bounded look-ahead, errors, shutdown; several
sources (clips) at once in the sources' order."""
from __future__ import annotations

import itertools
import threading
import time

import pytest

from extractors.prefetch import ParallelPrefetcher, Prefetcher


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


def _sources(lengths):
    """Per source k: ``lengths[k]`` items ``(k, i)``, each made after a short sleep (decoding)."""
    def produce(source):
        for i in range(lengths[source]):
            time.sleep(0.002 * (source % 3))
            yield source, i
    return produce


@pytest.mark.parametrize("workers,depth", [(1, 0), (1, 2), (3, 1), (4, 2), (8, 3)])
def test_parallel_sources_come_out_in_the_order_of_one_thread(workers, depth):
    lengths = [5, 0, 3, 7, 1, 0, 4, 2, 6]
    expected = [(k, i) for k, n in enumerate(lengths) for i in range(n)]
    with ParallelPrefetcher(range(len(lengths)), _sources(lengths), workers=workers, depth=depth) as items:
        assert list(items) == expected
        assert list(items) == []


def test_parallel_sources_run_at_once_but_no_more_than_workers():
    running, most = set(), [0]
    lock = threading.Lock()

    def produce(source):
        with lock:
            running.add(source)
            most[0] = max(most[0], len(running))
        deadline = time.monotonic() + 2.0
        while most[0] < 4 and time.monotonic() < deadline:  # the first four meet here
            time.sleep(0.005)
        with lock:
            running.discard(source)
        yield source

    with ParallelPrefetcher(range(8), produce, workers=4, depth=1) as items:
        assert list(items) == list(range(8))
    assert most[0] == 4


def test_parallel_look_ahead_is_bounded():
    made = []

    def produce(source):
        for i in itertools.count():
            made.append((source, i))
            yield source, i

    with ParallelPrefetcher(itertools.count(), produce, workers=2, depth=2) as items:
        assert next(items) == (0, 0)
        time.sleep(0.2)
        # source 0 is endless, so only it and the next source are held; each has made at most
        # the one handed out, two queued and one waiting for room
        assert {source for source, _ in made} <= {0, 1, 2}
        assert len(made) <= 2 * 4


def test_parallel_error_is_raised_at_its_item_and_stops_every_thread():
    before = threading.active_count()

    def produce(source):
        yield source, 0
        if source == 2:
            raise ValueError(f"clip {source}: frame 37 is corrupt")
        yield source, 1

    items = ParallelPrefetcher(range(6), produce, workers=3, depth=2, name="test-parallel")
    assert [next(items) for _ in range(5)] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    with pytest.raises(ValueError, match="clip 2: frame 37"):
        next(items)
    with pytest.raises(StopIteration):
        next(items)
    assert threading.active_count() == before
    assert not any(thread.name.startswith("test-parallel") for thread in threading.enumerate())


def test_parallel_close_stops_producers_blocked_on_full_queues():
    before = threading.active_count()
    items = ParallelPrefetcher(range(5), lambda source: itertools.count(), workers=3, depth=2,
                               name="test-parallel")
    assert next(items) == 0
    items.close()
    assert threading.active_count() == before


def test_parallel_refuses_zero_workers():
    with pytest.raises(ValueError, match="workers"):
        ParallelPrefetcher(range(3), _sources([1, 1, 1]), workers=0)


def test_the_next_source_starts_once_the_current_one_has_made_its_last_item():
    """One worker decodes like one thread through all clips: the next clip is made while the caller
    still works on the current one's last item, not only when it asks for more."""
    started = threading.Event()

    def produce(source):
        if source == 1:
            started.set()
        time.sleep(0.05)
        yield source

    with ParallelPrefetcher(range(3), produce, workers=1, depth=2) as items:
        assert next(items) == 0
        assert started.wait(2.0)
        assert list(items) == [1, 2]


def test_sources_behind_the_head_make_all_their_items_with_no_ahead_limit():
    """With ``ahead_depth=None`` a source behind the one being read is decoded to its end at once
    (several clips really decode in parallel); with the default it stops ``depth`` items ahead."""
    for options, expected in (({"ahead_depth": None}, 20), ({}, 2)):
        made = []

        def produce(source):
            for i in range(20):
                made.append((source, i))
                yield source, i

        with ParallelPrefetcher(range(2), produce, workers=2, depth=2, **options) as items:
            assert next(items) == (0, 0)
            deadline = time.monotonic() + 5
            while sum(source == 1 for source, _ in made) < expected and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)
            # source 1 holds `expected` queued items (+1 being put when bounded)
            assert expected <= sum(source == 1 for source, _ in made) <= expected + 1
            assert list(items) == [(0, i) for i in range(1, 20)] + [(1, i) for i in range(20)]
