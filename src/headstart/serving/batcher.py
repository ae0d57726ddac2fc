"""Dynamic micro-batching: requests from many clients answered by one model call per batch.

A worker thread per model takes the first waiting request, then whatever else arrives within `max_wait_ms`,
up to `max_batch` inputs, runs the model once on all of them and hands each request its own slice. One
request at a time pays a forward pass per request; 32 concurrent ones share a few, which on a CPU is where
the throughput is (the matrix products of a batch of 32 cost far less than 32 of one). The queue is
bounded: past `max_waiting` requests a submit raises `Busy` (the server answers 503 with Retry-After).
Written here: neither FastAPI nor transformers' pipelines batch across concurrent requests.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

__all__ = ["Busy", "MicroBatcher"]


class Busy(Exception):
    """The queue is full."""


@dataclass
class _Request:
    items: list
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """`submit(items)` -> a Future of `fn(items)`'s slice for them; `fn` maps a list to a list of equal length."""

    def __init__(self, fn: Callable[[list], list], *, max_batch: int = 32, max_wait_ms: float = 5.0,
                 max_waiting: int = 64, on_batch: Callable[[int], None] | None = None) -> None:
        self.fn, self.max_batch, self.max_wait = fn, max(1, max_batch), max(0.0, max_wait_ms) / 1000
        self.max_waiting, self.on_batch = max_waiting, on_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._waiting, self._lock = 0, threading.Lock()
        self._thread = threading.Thread(target=self._run, name="headstart-batcher", daemon=True)
        self._thread.start()

    def submit(self, items: list) -> Future:
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise Busy(f"{self._waiting} requests are waiting (the limit is {self.max_waiting})")
            self._waiting += 1
        request = _Request(list(items))
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _take(self) -> list[_Request] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch, size = [first], len(first.items)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch:
            left = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)  # close after this batch
                break
            batch.append(nxt)
            size += len(nxt.items)
        return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            with self._lock:
                self._waiting -= len(batch)
            items = [item for request in batch for item in request.items]
            if self.on_batch is not None:
                self.on_batch(len(items))
            try:
                results = self.fn(items)
                if len(results) != len(items):
                    raise RuntimeError(f"the model returned {len(results)} results for {len(items)} inputs")
            except Exception as exc:  # every request of the batch gets the error
                for request in batch:
                    request.future.set_exception(exc)
                continue
            start = 0
            for request in batch:
                request.future.set_result(results[start:start + len(request.items)])
                start += len(request.items)
