"""Opportunistic batching of concurrent query encodes: alone when idle, batched when busy, errors shared."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from fathom.text.batching import QueryBatcher


class SlowEncoder:
    """Encodes a text as [len(text), batch size]; the first call blocks until released."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, texts):
        self.calls.append(list(texts))
        self.started.set()
        self.release.wait(10)
        return np.array([[len(t), len(texts)] for t in texts], dtype=np.float32)


def test_an_idle_batcher_encodes_a_query_alone_at_once():
    enc = SlowEncoder()
    enc.release.set()
    batcher = QueryBatcher(enc, parallel=1)
    assert batcher.encode_one("abc").tolist() == [3.0, 1.0]
    assert enc.calls == [["abc"]] and batcher.batches == 1


def test_queries_arriving_while_busy_are_encoded_together_and_each_gets_its_own_vector():
    enc = SlowEncoder()
    batcher = QueryBatcher(enc, parallel=1, max_batch=32)
    results: dict[str, list[float]] = {}

    def ask(text: str) -> None:
        results[text] = batcher.encode_one(text).tolist()

    first = threading.Thread(target=ask, args=("x",))
    first.start()
    assert enc.started.wait(5)  # "x" is being encoded; the next five queue up behind it
    others = [threading.Thread(target=ask, args=("q" * n,)) for n in range(2, 7)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 5
    while len(batcher._pending) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    enc.release.set()
    for t in [first, *others]:
        t.join(5)
    assert enc.calls[0] == ["x"] and sorted(enc.calls[1], key=len) == ["q" * n for n in range(2, 7)]
    assert results["x"] == [1.0, 1.0]
    assert all(results["q" * n] == [float(n), 5.0] for n in range(2, 7))  # one batch of five, right rows
    assert batcher.batches == 2 and batcher.queries == 6


def test_max_batch_splits_a_long_queue():
    enc = SlowEncoder()
    batcher = QueryBatcher(enc, parallel=1, max_batch=2)
    threads = [threading.Thread(target=batcher.encode_one, args=("a" * n,)) for n in range(1, 6)]
    threads[0].start()
    assert enc.started.wait(5)
    for t in threads[1:]:
        t.start()
    while len(batcher._pending) < 4:
        time.sleep(0.01)
    enc.release.set()
    for t in threads:
        t.join(5)
    assert [len(c) for c in enc.calls] == [1, 2, 2] and batcher.queries == 5


def test_an_encoder_error_reaches_every_caller_of_the_batch_and_the_batcher_recovers():
    calls = []

    def failing(texts):
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("encoder broke")
        return np.ones((len(texts), 2), np.float32)

    batcher = QueryBatcher(failing, parallel=1)
    with pytest.raises(RuntimeError, match="encoder broke"):
        batcher.encode_one("a")
    assert batcher.encode_one("b").tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="parallel"):
        QueryBatcher(failing, parallel=0)


def test_many_threads_get_exactly_their_own_vectors():
    batcher = QueryBatcher(lambda texts: np.array([[float(t)] for t in texts]), parallel=2, max_batch=4)
    out: dict[int, float] = {}

    def ask(i: int) -> None:
        for j in range(20):
            out[i * 100 + j] = float(batcher.encode_one(str(i * 100 + j))[0])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == {k: float(k) for k in out} and len(out) == 160 and batcher.queries == 160
