"""The one top-k selection: best first, ties by the lower index, NaN and -inf ineligible, padding -1."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.metrics.topk import top_k


def _reference(row: np.ndarray, k: int) -> list[int]:
    eligible = [i for i in range(len(row)) if np.isfinite(row[i]) or row[i] == np.inf]
    ranked = sorted(eligible, key=lambda i: (-row[i], i))[:k]
    return ranked + [-1] * (k - len(ranked))


def test_top_k_matches_a_sort_on_rows_full_of_ties():
    rng = np.random.default_rng(1)
    for _ in range(300):
        b, n = int(rng.integers(1, 12)), int(rng.integers(1, 25))
        scores = rng.integers(0, 4, (b, n)).astype(np.float32)  # many ties
        scores[rng.random((b, n)) < 0.2] = -np.inf
        scores[rng.random((b, n)) < 0.05] = np.nan
        k = int(rng.integers(1, 30))
        ids, top = top_k(scores, k)
        assert ids.shape == top.shape == (b, k) and ids.dtype == np.int64 and top.dtype == np.float32
        for r in range(b):
            assert ids[r].tolist() == _reference(scores[r], k)
            assert np.array_equal(top[r][ids[r] >= 0], scores[r][ids[r][ids[r] >= 0]])
            assert np.isneginf(top[r][ids[r] < 0]).all()


def test_one_dimensional_scores_and_bad_k():
    ids, top = top_k(np.array([0.1, 0.5, 0.5, 0.9]), 3)
    assert ids.tolist() == [3, 1, 2] and top.tolist() == pytest.approx([0.9, 0.5, 0.5])
    assert top_k(np.array([1.0]), 3)[0].tolist() == [0, -1, -1]
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.array([1.0]), 0)
