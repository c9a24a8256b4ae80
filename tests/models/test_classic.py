"""Conformance and known answers for the non-neural models."""

import numpy as np
import scipy.sparse as sp

from fathom.data.interactions import Interactions
from fathom.models.ease import EASE, ease_weights, gram_upper, keep_largest
from fathom.models.itemknn import cosine_item_similarity, keep_top_neighbours
from fathom.models.popularity import Popularity
from tests.models.conformance import RecommenderConformance


class TestPopularity(RecommenderConformance):
    model_name = "pop"
    personalised = False


class TestItemKNN(RecommenderConformance):
    model_name = "itemknn"
    config = {"neighbours": 10}


class TestEASE(RecommenderConformance):
    model_name = "ease"
    config = {"reg": 5.0}


class TestEASEKeepingTheLargestWeights(RecommenderConformance):
    """The stored weights are sparse: each item keeps its 8 largest weights (of 29)."""

    model_name = "ease"
    config = {"reg": 5.0, "keep": 8}


def test_keep_largest_keeps_each_rows_largest_magnitudes():
    w = np.array([[0, -0.9, 0.1, 0.5], [0.2, 0, -0.05, 0.3], [0.7, 0.6, 0, -0.8], [0, 0, 0, 0]], np.float32)
    kept = keep_largest(w, 2, block_rows=3)  # two row blocks
    expected = np.array([[0, -0.9, 0, 0.5], [0.2, 0, 0, 0.3], [0.7, 0, 0, -0.8], [0] * 4], np.float32)
    np.testing.assert_array_equal(kept.toarray(), expected)
    np.testing.assert_array_equal(keep_largest(w, 4).toarray(), w)


def test_ease_keeps_the_dense_solutions_largest_weights_and_saves_them_sparse(tmp_path):
    rng = np.random.default_rng(3)
    x = (rng.random((60, 40)) < 0.2).astype(np.float32)
    users, items = np.nonzero(x)
    train = Interactions.from_arrays(users, items, 60, 40)
    dense, kept = EASE(reg=2.0, keep=None).fit(train), EASE(reg=2.0, keep=10).fit(train)
    assert isinstance(dense.weights, np.ndarray) and sp.issparse(kept.weights)
    np.testing.assert_allclose(kept.weights.toarray(), keep_largest(dense.weights, 10).toarray(), rtol=1e-6)
    np.testing.assert_allclose(kept.score(np.arange(60)), x @ kept.weights.toarray(), rtol=1e-5, atol=1e-6)
    small, full = kept.save(tmp_path / "kept"), dense.save(tmp_path / "dense")
    weight_bytes = lambda folder: (folder / "weights.safetensors").stat().st_size  # noqa: E731
    assert weight_bytes(small) < weight_bytes(full)
    np.testing.assert_allclose(EASE.load(small).score(np.arange(5)), kept.score(np.arange(5)), rtol=1e-6)


def test_popularity_ranks_by_count():
    train = Interactions.from_arrays(np.array([0, 1, 2, 0, 1, 0]), np.array([2, 2, 2, 1, 1, 0]), 3, 4)
    ids, scores = Popularity().fit(train).recommend(np.array([0]), k=4)
    assert ids[0].tolist() == [2, 1, 0, 3]
    assert scores[0].tolist() == [3.0, 2.0, 1.0, 0.0]


def test_cosine_similarity_with_shrink_known_answer():
    # items 0 and 1 share one user of two each: cos = 1 / (sqrt(2) * sqrt(2)) = 0.5; with shrink 2: 1 / (2 + 2)
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float32))
    np.testing.assert_allclose(cosine_item_similarity(x, 0.0)[0, 1], 0.5, rtol=1e-6)
    np.testing.assert_allclose(cosine_item_similarity(x, 2.0)[0, 1], 0.25, rtol=1e-6)
    assert cosine_item_similarity(x, 0.0)[0, 0] == 0.0


def test_neighbour_pruning_keeps_the_largest_per_column():
    sim = np.array([[0, 0.9, 0.1], [0.9, 0, 0.5], [0.1, 0.5, 0]], dtype=np.float32)
    kept = keep_top_neighbours(sim, 1).toarray()
    np.testing.assert_allclose(kept, [[0, 0.9, 0], [0.9, 0, 0.5], [0, 0, 0]], rtol=1e-6)


def test_ease_solves_its_objective():
    rng = np.random.default_rng(1)
    x = sp.csr_matrix((rng.random((50, 8)) < 0.3).astype(np.float32))
    b = ease_weights(x, 3.0).astype(np.float64)
    assert np.allclose(np.diag(b), 0)
    # KKT: (G + reg I) B - G = -P diag-multiplier -> off-diagonal gradient vanishes
    g = (x.T @ x).toarray()
    grad = (g + 3.0 * np.eye(8)) @ b - g
    off = ~np.eye(8, dtype=bool)
    assert np.abs(grad[off]).max() < 1e-4


def test_gram_upper_matches_the_sparse_product_across_user_blocks():
    rng = np.random.default_rng(2)
    x = sp.csr_matrix((rng.random((37, 9)) < 0.4).astype(np.float32) * rng.integers(1, 4, (37, 9)))
    full = (x.T @ x).toarray()
    for block_values in (9, 50, 1 << 24):  # one user per block, several users, all at once
        g = gram_upper(x, block_values)
        np.testing.assert_allclose(g, np.triu(full), rtol=1e-6)
