"""TextMean, the zero-training text baseline: conformance, and its known answer (the mean of history vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.data.interactions import Interactions
from fathom.models.textmean import TextMean
from tests.models.conformance import RecommenderConformance


class TestTextMeanConformance(RecommenderConformance):
    model_name = "textmean"


def test_scores_are_cosines_to_the_weighted_history_mean():
    vectors = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]  # item 4 reads like item 0
    train = Interactions.from_arrays(np.array([0, 0, 1]), np.array([0, 1, 2]), 2, 5, timestamp=np.array([1, 2, 1]))
    model = TextMean().fit(train, item_vectors=vectors)
    expected = np.array([1, 1, 0, 0, 1]) / np.sqrt(2)
    np.testing.assert_allclose(model.score(np.array([0]))[0], expected, rtol=1e-6)
    recent = TextMean(half_life=1.0).fit(train, item_vectors=vectors)  # item 1 is the latest: weight 1, item 0: 0.5
    np.testing.assert_allclose(recent.score(np.array([0]))[0], np.array([0.5, 1, 0, 0, 0.5]) / np.sqrt(1.25),
                               rtol=1e-6)
    assert model.explain(np.array([1, 0]), np.array([4, 3])) [0] == 0


def test_fit_names_missing_or_misshapen_item_vectors():
    train = Interactions.from_arrays(np.array([0]), np.array([0]), 1, 3)
    with pytest.raises(ValueError, match="item_vectors: this model reads item text"):
        TextMean().fit(train)
    with pytest.raises(ValueError, match=r"shape \(2, 4\), expected \(3, d\)"):
        TextMean().fit(train, item_vectors=np.ones((2, 4)))
    bad = np.ones((3, 4))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2 is not finite"):
        TextMean().fit(train, item_vectors=bad)
