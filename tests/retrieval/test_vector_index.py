import numpy as np

from fathom.retrieval.vector_index import ExactIndex, HNSWIndex, VectorIndex, ann_recall_at_k, build_vector_index
from fathom.text.encoders import l2_normalise


def _data(n=3000, d=16, seed=0):
    return l2_normalise(np.random.default_rng(seed).standard_normal((n, d)))



def test_exact_search_known_answer_and_mask():
    idx = ExactIndex(2)
    idx.add(np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32))
    rows, scores = idx.search(np.array([1.0, 0.0]), 2)
    np.testing.assert_array_equal(rows, [0, 2])
    np.testing.assert_allclose(scores, [1.0, 0.6])
    rows, _ = idx.search(np.array([1.0, 0.0]), 2, mask=np.array([False, True, True]))
    np.testing.assert_array_equal(rows, [2, 1])


def test_hnsw_recall_against_exact_and_mask(tmp_path):
    x = _data()
    hnsw = build_vector_index(x, kind="hnsw")
    assert isinstance(hnsw, HNSWIndex)
    queries = _data(50, seed=1)
    assert ann_recall_at_k(hnsw, queries, k=10) >= 0.9
    mask = np.zeros(len(x), dtype=bool)
    mask[::2] = True
    rows, _ = hnsw.search(queries[0], 10, mask=mask)
    assert len(rows) == 10 and np.all(rows % 2 == 0)
    hnsw.save(tmp_path)
    back = VectorIndex.load(tmp_path)
    assert isinstance(back, HNSWIndex) and len(back) == len(x)
    np.testing.assert_array_equal(back.search(queries[0], 5)[0], hnsw.search(queries[0], 5)[0])


def test_auto_kind_and_score_rows():
    x = _data(100)
    idx = build_vector_index(x)
    assert isinstance(idx, ExactIndex)
    np.testing.assert_allclose(idx.score_rows(x[3], np.array([3, 4])), [1.0, x[4] @ x[3]], rtol=1e-5)
