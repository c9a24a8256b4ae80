"""The contract's history hooks: fold-in exact for linear models, through similar_items otherwise; reasons."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.data.interactions import Interactions
from fathom.models.ease import EASE
from fathom.models.fold_in import contributions, fold_in_scores, top_contributors
from fathom.models.itemknn import ItemKNN
from fathom.models.popularity import Popularity


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 300)
    items = (users % 3) * 5 + rng.integers(0, 5, 300)  # three blocks of five items
    return Interactions.from_arrays(users, items, 30, 15)


@pytest.mark.parametrize("model", [EASE(reg=5.0), ItemKNN(neighbours=5)], ids=["ease", "itemknn"])
def test_fold_in_is_exact_for_linear_models(model, train):
    model.fit(train)
    assert model.item_item_weights() is not None
    csr = train.csr()
    for user in (0, 7, 29):
        history = csr[user].indices
        expected = model.score(np.array([user]))[0]
        np.testing.assert_allclose(model.score_history(history), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.score_history(history, user=user), expected, rtol=1e-5, atol=1e-6)
        contrib = contributions(model, history)
        np.testing.assert_allclose(contrib.sum(axis=0), expected, rtol=1e-5, atol=1e-6)
        top = np.argsort(-expected)[:3]
        assert model.explain(history, top) == top_contributors(contrib, history, top)
        assert all(s in history for s in model.explain(history, top) if s is not None)


def test_fold_in_through_similar_items_and_empty_history(train):
    model = Popularity().fit(train)
    pop = train.item_counts().astype(np.float32)
    assert model.item_item_weights() is None and contributions(model, np.array([0])) is None
    np.testing.assert_array_equal(model.score_history(np.array([], dtype=np.int64), popularity=pop), pop)
    scores = fold_in_scores(model, np.array([0, 1]), pop, depth=14)
    assert np.argsort(-scores)[:3].tolist() == np.argsort(-pop, kind="stable")[:3].tolist()
    assert model.explain(np.array([0, 1]), np.array([2, 3])) == [None, None]


def test_top_contributors_pick_the_history_item_adding_most():
    contrib = np.array([[0.5, 0.0, -1.0], [0.1, 0.2, -0.5]], dtype=np.float32)  # (H=2 history items, 3 items)
    assert top_contributors(contrib, np.array([10, 11]), np.array([0, 1, 2])) == [10, 11, None]
    assert top_contributors(None, np.array([10]), np.array([0, 1])) == [None, None]


def test_weighted_fold_in_is_the_weighted_row_sum_and_recency_weights_decay(train):
    from fathom.models.fold_in import HistoryPolicy, recency_weights

    model = EASE(reg=5.0).fit(train)
    history = np.array([4, 11, 2, 11])  # most recent first; 11 again further back counts once, at its first place
    w = np.array([3.0, 2.0, 0.5, 9.0], dtype=np.float32)
    expected = 3.0 * model.weights[4] + 2.0 * model.weights[11] + 0.5 * model.weights[2]
    np.testing.assert_allclose(model.score_history(history, weights=w), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(recency_weights(4, 0.0, 3.0), np.ones(4))
    np.testing.assert_allclose(recency_weights(3, 10.0, 1.0), [11.0, 6.0, 3.5])  # 1 + 10 * 2^-r
    recent, weights = HistoryPolicy(limit=2, recency_boost=1.0, recency_half_life=1.0).recent(history)
    assert recent.tolist() == [4, 11] and weights.tolist() == [2.0, 1.5]
    with pytest.raises(ValueError, match="weights has shape"):
        model.score_history(history, weights=w[:2])
    # the latest item's block rises to the top when it weighs more
    mixed = np.array([12, 0, 1, 2, 3])  # latest: block 2 (items 10-14); before it four items of block 0
    assert np.argmax(np.where(np.isin(np.arange(15), mixed), -np.inf, model.score_history(mixed))) < 5
    boosted = model.score_history(mixed, weights=recency_weights(5, 30.0, 1.0))
    assert 10 <= np.argmax(np.where(np.isin(np.arange(15), mixed), -np.inf, boosted)) < 15
