"""Coalescing concurrent single-query encodes into batches (opportunistic batching, no added wait).

A server answers many searches at once, each needing its query embedded. Encoding one short query on a CPU is
mostly fixed cost (reading every weight of the network once), so eight queries in one batch cost far less than
eight calls. :class:`QueryBatcher` lets up to ``parallel`` encoder calls run at a time; a query that arrives
while they are all busy waits in a queue, and the next caller to find a free slot takes the whole queue (up to
``max_batch`` queries) as one batch. When the server is idle a query is encoded at once, alone: batching only
happens when queries would have waited anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class _Slot:
    text: str
    result: np.ndarray | None = None
    error: BaseException | None = None
    taken: bool = False  # in a batch that is running
    done: bool = False


class QueryBatcher:
    """``encode_one(text)`` -> (d,) through ``encode_batch(texts) -> (B, d)``, batching concurrent callers."""

    def __init__(self, encode_batch: Callable[[Sequence[str]], np.ndarray], parallel: int = 2,
                 max_batch: int = 32) -> None:
        if parallel < 1 or max_batch < 1:
            raise ValueError(f"parallel ({parallel}) and max_batch ({max_batch}) must be at least 1")
        self.encode_batch, self.parallel, self.max_batch = encode_batch, parallel, max_batch
        self._cv = threading.Condition()
        self._pending: list[_Slot] = []
        self._running = 0
        self.batches = 0  # counters, for tests and metrics
        self.queries = 0

    def encode_one(self, text: str) -> np.ndarray:
        slot = _Slot(text)
        with self._cv:
            self._pending.append(slot)
        while True:
            with self._cv:
                while not slot.done and (slot.taken or self._running >= self.parallel):
                    self._cv.wait()
                if slot.done:
                    break
                batch = self._pending[: self.max_batch]  # the oldest queries, this caller's among them or later
                del self._pending[: self.max_batch]
                for s in batch:
                    s.taken = True
                self._running += 1
            self._run(batch)  # outside the lock: other callers queue up meanwhile
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result

    def _run(self, batch: list[_Slot]) -> None:
        try:
            vectors = np.asarray(self.encode_batch([s.text for s in batch]))  # (B, d)
            for s, v in zip(batch, vectors, strict=True):
                s.result = v
        except BaseException as e:  # noqa: BLE001 - handed to every caller in the batch
            for s in batch:
                s.error = e
        finally:
            with self._cv:
                for s in batch:
                    s.done = True
                self._running -= 1
                self.batches += 1
                self.queries += len(batch)
                self._cv.notify_all()
