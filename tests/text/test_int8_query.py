"""MiniLM with int8 queries: close to float32, documents untouched, built once and reused, float32 fallback."""

import numpy as np
import pytest

from fathom.text import int8_query
from fathom.text.encoders import CachedEncoder, MiniLMEncoder, get_encoder

pytest.importorskip("onnxruntime")

QUERIES = ["toy story", "star wars", "red running shoes for trail races", "猫", ""]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("fathom-cache")


@pytest.fixture(scope="module")
def encoders(cache_root):
    mp = pytest.MonkeyPatch()
    mp.setenv("FATHOM_CACHE_DIR", str(cache_root))
    try:
        yield MiniLMEncoder(), MiniLMEncoder(int8_queries=True)
    finally:
        mp.undo()


def test_int8_queries_are_close_to_float32_and_documents_are_unchanged(encoders):
    fp32, int8 = encoders
    assert int8.int8_queries and not fp32.int8_queries
    q32 = fp32.encode(QUERIES, kind="query")
    q8 = int8.encode(QUERIES, kind="query")
    assert q8.shape == q32.shape == (len(QUERIES), 384) and q8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(q8, axis=1), 1.0, rtol=1e-5)
    cosine = (q8 * q32).sum(1)
    # the bound leaves room for the quantiser's version: onnxruntime 1.32's per-channel int8 gives .9699 on the
    # last query (earlier versions above .97); unrelated queries sit far lower, and search quality at int8 is
    # measured by benchmarks/search_beir.py
    assert cosine.min() > 0.96, cosine
    assert np.abs(q8 - q32).max() > 1e-4  # really the quantised network, not the float32 one
    for i, text in enumerate(QUERIES):  # one query at a time (the service's path) agrees with the batch's direction
        assert float(int8.encode_query(text) @ q32[i]) > 0.96
    docs = ["a much longer text about red running shoes, sizes and prices " * 3, "toy story"]
    np.testing.assert_array_equal(int8.encode(docs), fp32.encode(docs))  # passages stay float32


def test_int8_ranks_like_float32(encoders):
    fp32, int8 = encoders
    docs = ["Toy Story, an animated film about toys that come alive", "Star Wars: a space opera with Jedi knights",
            "Trail running shoes with a grippy sole", "A cookbook of French pastries"]
    d = fp32.encode(docs)
    for query, best in [("animated toys movie", 0), ("jedi space film", 1), ("shoes for running on trails", 2)]:
        assert int(np.argmax(d @ int8.encode_query(query))) == best


def test_int8_copy_is_stored_once_and_reused(encoders, cache_root):
    files = list((cache_root / "models").glob("pooled-bert-*.int8.onnx"))
    assert len(files) == 1
    before = files[0].stat().st_mtime_ns
    again = int8_query.int8_copy(encoders[0]._direct, cache_root)
    assert again is not None and again.model_file == files[0] and files[0].stat().st_mtime_ns == before
    with open(files[0], "rb") as f:  # an ONNX protobuf, not a pickle
        assert f.read(2) != b"\x80\x04"


def test_query_cache_keeps_int8_vectors_apart(encoders, tmp_path):
    fp32, int8 = encoders
    c32 = CachedEncoder(fp32, root=tmp_path, cache_queries=True)
    c8 = CachedEncoder(int8, root=tmp_path, cache_queries=True)
    v32 = c32.encode(["toy story"], kind="query")
    v8 = c8.encode(["toy story"], kind="query")  # must not come back from the float32 entry
    assert np.abs(v8 - v32).max() > 1e-4
    np.testing.assert_array_equal(c8.encode(["toy story"], kind="query"), v8)


def test_failed_export_falls_back_to_float32(monkeypatch, tmp_path, caplog):
    def broken(pooled, path):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(int8_query, "export_int8", broken)
    enc = get_encoder("minilm-int8", cache=False)
    assert isinstance(enc, MiniLMEncoder) and not enc.int8_queries
    assert "queries stay in float32" in caplog.text
    reference = MiniLMEncoder().encode_query("toy story")
    np.testing.assert_allclose(enc.encode_query("toy story"), reference, atol=2e-6)


def test_search_index_by_name_uses_int8_queries(cache_root, monkeypatch):
    from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig

    monkeypatch.setenv("FATHOM_CACHE_DIR", str(cache_root))  # the copy built above: no second export
    index = SearchIndex(SearchIndexConfig(encoder="minilm-int8"))
    assert index.encoder is not None and index.encoder.inner.int8_queries
    index.add([{"id": "a", "fields": {"title": "Toy Story", "text": "toys come alive when nobody watches"}},
               {"id": "b", "fields": {"title": "Heat", "text": "a crime thriller about a bank robbery"}}])
    hits = index.search("animated film about playthings", k=2).hits
    assert hits[0].doc_id == "a" and "dense" in hits[0].scores
