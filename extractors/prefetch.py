"""Bounded background producers: the next items of an iterator are made in a thread while the
caller works on the current one (the visual stage decodes the next batches of windows while the
backbone runs on this one); :class:`ParallelPrefetcher` makes the items of several sources (clips)
at once, in as many threads, and hands them out in the sources' order.

Decoding (PyAV or decord, numpy) and the 3D convolutions (oneDNN) release the GIL, so the two overlap
on separate cores. At most ``depth`` items wait in this queue (with ``visual.decoder: decord``,
decord 0.6.0 itself decodes a whole video ahead in its own thread, unbounded, beneath this: README
"Performance", Memory; PyAV decodes only what is asked for). An exception
in the producer is raised in the caller at the item where it happened; :meth:`Prefetcher.close` (or
leaving the ``with`` block, also on error) stops the thread and waits for it.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Callable, Generic, Iterable, Iterator, TypeVar

S = TypeVar("S")
T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetcher(Generic[T]):
    """Iterate over ``items`` with up to ``depth`` of them made ahead in a background thread.

    ``depth=0`` iterates in the caller's thread (no thread, nothing ahead); ``depth=None`` makes every
    item in the background thread with no limit. ``on_finish`` is called in the background thread
    once the last item is made (before it is queued), not after an error.
    """

    def __init__(self, items: Iterable[T], depth: int | None = 2, name: str = "prefetch",
                 on_finish: Callable[[], None] | None = None):
        if depth is not None and depth < 0:
            raise ValueError(f"prefetch depth must be >= 0, got {depth}")
        self._items = iter(items)
        self._queue: queue.Queue = queue.Queue(maxsize=0 if depth is None else max(depth, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self._produced = threading.Event()
        self._on_finish = on_finish
        if depth is None or depth > 0:
            self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
            self._thread.start()

    def _put(self, item: object) -> bool:
        """Queue ``item``, waiting for room; False when the consumer has closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            self._produced.set()
            self._put(_Failure(error))
            return
        self._produced.set()
        if self._on_finish is not None:
            self._on_finish()
        self._put(_DONE)

    @property
    def producing(self) -> bool:
        """True while the background thread is still making items (its last one not yet made)."""
        return self._thread is not None and self._thread.is_alive() and not self._produced.is_set()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        if self._thread is None:
            try:
                return next(self._items)
            except StopIteration:
                self._finished = True
                raise
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            self._thread.join()
            raise item.error
        return item

    def close(self) -> None:
        """Stop the producer (it finishes the item it is making) and wait for its thread."""
        self._finished = True
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:  # make room so that a producer blocked on a full queue sees the stop
                    self._queue.get(timeout=0.1)
                except queue.Empty:
                    pass
            self._thread.join()
        close = getattr(self._items, "close", None)
        if close is not None and (self._thread is None or not self._thread.is_alive()):
            close()

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ParallelPrefetcher(Generic[S, T]):
    """The items of ``produce(source)`` for every source in turn, made by up to ``workers`` sources at once.

    Each source gets its own :class:`Prefetcher` (its own thread): ``depth`` items ahead for a source
    started while nothing else is read, ``ahead_depth`` for one started behind the source being read
    (``None``: its whole output, so that several sources really are made at once: items are handed
    out in order, and a source behind the head could otherwise only make ``depth`` items before
    waiting for the head to end; the default is ``depth``). At most ``workers`` of them are producing
    at a time and at most ``workers + 1`` are held (the one being read plus those ahead), so memory
    stays bounded however many sources there are. The items come
    out exactly in the order of one thread over all sources (the sources' order, then each source's
    own), whatever ``workers`` is; an error is raised at the item where it happened. A source's
    thread starts the next source itself when it has made its last item, so the next clip is being
    decoded while the current one's last batches are still read: ``workers=1`` decodes like one
    thread running through all the sources.
    ``depth=0`` makes everything in the caller's thread (``workers`` then has no effect).
    """

    _SAME = object()

    def __init__(self, sources: Iterable[S], produce: Callable[[S], Iterable[T]], workers: int = 1,
                 depth: int = 2, name: str = "prefetch", ahead_depth: int | None | object = _SAME):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if depth < 0:
            raise ValueError(f"prefetch depth must be >= 0, got {depth}")
        ahead_depth = depth if ahead_depth is self._SAME else ahead_depth
        if ahead_depth is not None and ahead_depth < 1 and depth > 0:
            raise ValueError(f"ahead depth must be >= 1 or None, got {ahead_depth}")
        self._sources = iter(sources)
        self._produce, self._workers, self._depth, self._name = produce, workers, depth, name
        self._ahead_depth = ahead_depth
        self._active: deque[Prefetcher[T]] = deque()
        self._lock = threading.RLock()  # the consumer and the producers' on_finish both start sources
        self._sources_left = True
        self._closed = False
        self._started = 0
        self._error: BaseException | None = None
        self._top_up()

    def _top_up(self) -> None:
        """Start the next sources while fewer than ``workers`` are producing (and room is left)."""
        with self._lock:
            while (not self._closed and self._sources_left and len(self._active) <= self._workers
                   and (not self._active or sum(p.producing for p in self._active) < self._workers)):
                if self._depth == 0 and self._active:
                    return  # in the caller's thread: one source at a time
                try:
                    source = next(self._sources)
                except StopIteration:
                    self._sources_left = False
                    return
                self._started += 1
                depth = self._ahead_depth if self._active else self._depth
                self._active.append(Prefetcher(self._produce(source), depth=depth,
                                               name=f"{self._name}-{self._started}", on_finish=self._finished_one))

    def _finished_one(self) -> None:
        """A producer's last item is made (its thread): start the next source now."""
        try:
            self._top_up()
        except BaseException as error:  # raised in the consumer at its next item
            self._error = error

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        while not self._closed:
            try:
                if self._error is not None:
                    raise self._error
                self._top_up()
                with self._lock:
                    head = self._active[0] if self._active else None
                if head is None:
                    break
                try:
                    return next(head)
                except StopIteration:
                    with self._lock:
                        self._active.popleft()
            except BaseException:
                self.close()
                raise
        raise StopIteration

    def close(self) -> None:
        """Stop every producer and wait for their threads."""
        with self._lock:
            self._closed = True
            active, self._active = list(self._active), deque()
        for producer in active:
            producer.close()

    def __enter__(self) -> "ParallelPrefetcher[S, T]":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
