"""A bounded background producer: the next items of an iterator are made in a thread while the
caller works on the current one (the visual stage decodes the next batches of windows while the
backbone runs on this one).

Decoding (decord, numpy) and the 3D convolutions (oneDNN) release the GIL, so the two overlap on
separate cores. At most ``depth`` items wait in this queue (decord 0.6.0 itself decodes a whole video
ahead in its own thread, unbounded, beneath this: README "Performance", Memory). An exception in the producer is raised in the caller at the item where it
happened; :meth:`Prefetcher.close` (or leaving the ``with`` block, also on error) stops the thread
and waits for it.
"""
from __future__ import annotations

import queue
import threading
from typing import Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetcher(Generic[T]):
    """Iterate over ``items`` with up to ``depth`` of them made ahead in a background thread.

    ``depth=0`` iterates in the caller's thread (no thread, nothing ahead).
    """

    def __init__(self, items: Iterable[T], depth: int = 2, name: str = "prefetch"):
        if depth < 0:
            raise ValueError(f"prefetch depth must be >= 0, got {depth}")
        self._items = iter(items)
        self._depth = depth
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        if depth > 0:
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
            self._put(_Failure(error))
            return
        self._put(_DONE)

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
