"""A saved search index built with another encoder than the configured one is rebuilt, not silently reused."""

from __future__ import annotations

from fathom.online.engine import Engine, EngineConfig
from tests.retrieval.doubles import HashingEncoder
from tests.service.synthetic import prepare_folder


def test_index_saved_without_an_encoder_is_rebuilt_when_one_is_configured(tmp_path):
    folder = prepare_folder(tmp_path)
    lexical = Engine.open(folder, EngineConfig(encoder=None))
    assert lexical.index.config.encoder is None and lexical.index.vectors is None
    lexical.close()

    dense = Engine.open(folder, EngineConfig(encoder="minilm"), encoder=HashingEncoder())
    assert dense.index.config.encoder == "minilm"
    assert dense.index.vectors is not None and len(dense.index.vectors) > 0  # every item encoded
    dense.close()

    again = Engine.open(folder, EngineConfig(encoder="minilm"), encoder=HashingEncoder())  # now the saved one fits
    assert again.index.config.encoder == "minilm" and again.index.vectors is not None
    again.close()


class SlowEncoder(HashingEncoder):
    """Records each encoder call's batch and whether the engine's lock was free while it ran."""

    query_parallel = 1

    def __init__(self, engine_lock_probe=None) -> None:
        super().__init__()
        self.query_batches: list[int] = []
        self.probe = engine_lock_probe

    def _encode_batch(self, texts, kind):
        import time

        if kind == "query":
            self.query_batches.append(len(texts))
            if self.probe is not None:
                self.probe()
            time.sleep(0.05)
        return super()._encode_batch(texts, kind)


def test_concurrent_queries_are_embedded_together_outside_the_engine_lock(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    folder = prepare_folder(tmp_path)
    encoder = SlowEncoder()
    engine = Engine.open(folder, EngineConfig(encoder="minilm"), encoder=encoder)
    free = []
    encoder.probe = lambda: free.append(not engine._lock._is_owned())  # the embedding thread holds no engine lock
    try:
        expected = {q: [h.doc_id for h in engine.search(q, k=3).hits] for q in ("space", "kitchen bread")}
        encoder.query_batches.clear()
        queries = ["space", "kitchen bread"] * 8
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda q: [h.doc_id for h in engine.search(q, k=3).hits], queries))
    finally:
        engine.close()
    assert results == [expected[q] for q in queries]  # same answers as one at a time
    assert sum(encoder.query_batches) == len(queries) and len(encoder.query_batches) < len(queries)  # some were batched
    assert max(encoder.query_batches) > 1 and all(free)  # the engine lock was free while queries were embedded
