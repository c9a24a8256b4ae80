import numpy as np
import pytest

from fathom.retrieval.fusion import convex_fusion, fuse, minmax, ranks, rrf_fusion


def test_minmax_known_values():
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(minmax(np.array([5.0, 5.0])), [1.0, 1.0])
    np.testing.assert_allclose(minmax(np.array([0.0, 0.0])), [0.0, 0.0])


def test_convex_fusion_known_answer():
    bm25 = np.array([10.0, 0.0, 5.0])  # -> [1, 0, 0.5]
    dense = np.array([0.2, 0.6, 0.4])  # -> [0, 1, 0.5]
    fused = convex_fusion({"bm25": bm25, "dense": dense}, {"bm25": 3.0, "dense": 1.0})  # weights -> .75/.25
    np.testing.assert_allclose(fused, [0.75, 0.25, 0.5])


def test_convex_fusion_rejects_bad_weights():
    s = {"bm25": np.ones(2)}
    with pytest.raises(ValueError):
        convex_fusion(s, {"bm25": 0.0})
    with pytest.raises(ValueError):
        convex_fusion(s, {"dense": 1.0})


def test_ranks_are_one_based_and_stable():
    np.testing.assert_array_equal(ranks(np.array([0.1, 0.9, 0.5, 0.9])), [4, 1, 3, 2])


def test_rrf_known_answer():
    bm25 = np.array([3.0, 2.0, 1.0])  # ranks 1, 2, 3
    dense = np.array([0.1, 0.3, 0.2])  # ranks 3, 1, 2
    fused = rrf_fusion({"bm25": bm25, "dense": dense}, k=60)
    expected = 0.5 * np.array([1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62])
    np.testing.assert_allclose(fused, expected)
    assert int(np.argmax(fused)) == 1


def test_rrf_absent_signal_contributes_nothing():
    fused = fuse({"bm25": np.array([0.0, 1.0]), "dense": np.array([0.9, 0.1])}, {"bm25": 1, "dense": 1}, "rrf")
    np.testing.assert_allclose(fused, [0.5 / 61, 0.5 / 61 + 0.5 / 62])
