"""Fold-in scoring and reasons: exact for linear models, through similar_items otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.data.interactions import Interactions
from fathom.models.ease import EASE
from fathom.models.itemknn import ItemKNN
from fathom.models.popularity import Popularity
from fathom.online.scoring import affinity, fold_in_scores, item_item_weights, top_contributors


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 300)
    items = (users % 3) * 5 + rng.integers(0, 5, 300)  # three blocks of five items
    return Interactions.from_arrays(users, items, 30, 15)


@pytest.mark.parametrize("model", [EASE(reg=5.0), ItemKNN(neighbours=5)], ids=["ease", "itemknn"])
def test_fold_in_is_exact_for_linear_models(model, train):
    model.fit(train)
    assert item_item_weights(model) is not None
    csr = train.csr()
    for user in (0, 7, 29):
        history = csr[user].indices
        np.testing.assert_allclose(fold_in_scores(model, history, np.zeros(15)), model.score(np.array([user]))[0],
                                   rtol=1e-5, atol=1e-6)
        aff = affinity(model, history)
        np.testing.assert_allclose(aff.sum(axis=0), model.score(np.array([user]))[0], rtol=1e-5, atol=1e-6)


def test_fold_in_through_similar_items_and_empty_history(train):
    model = Popularity().fit(train)
    pop = train.item_counts().astype(np.float32)
    assert item_item_weights(model) is None and affinity(model, np.array([0])) is None
    np.testing.assert_array_equal(fold_in_scores(model, np.array([], dtype=np.int64), pop), pop)
    scores = fold_in_scores(model, np.array([0, 1]), pop, depth=14)
    assert np.argsort(-scores)[:3].tolist() == np.argsort(-pop, kind="stable")[:3].tolist()


def test_top_contributors_pick_the_history_item_adding_most():
    aff = np.array([[0.5, 0.0, -1.0], [0.1, 0.2, -0.5]], dtype=np.float32)  # (H=2 history items, 3 items)
    assert top_contributors(aff, np.array([10, 11]), np.array([0, 1, 2])) == [10, 11, None]
    assert top_contributors(None, np.array([10]), np.array([0, 1])) == [None, None]
