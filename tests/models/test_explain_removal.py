"""Reasons by removal: the cited history item is one whose removal moves the item down (its score drops by exactly
what the item contributed, for a linear model); a model that scores a known user by their own vector cites nothing
(removal changes nothing)."""

import numpy as np

from fathom.models.ease import EASE
from fathom.models.fold_in import HistoryPolicy, explain_by_removal
from fathom.models.registry import get_model_class
from tests.models.conformance import block_data


def test_linear_model_cites_an_item_whose_removal_costs_exactly_its_contribution():
    train, _ = block_data()
    model = EASE(reg=10.0).fit(train)
    history, items = np.array([3, 7, 20]), np.array([1, 2, 16])
    cited, drop = explain_by_removal(model, history, items, policy=HistoryPolicy(recency_boost=0.0))
    w = model.item_item_weights()
    w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
    for item, source, d in zip(items, cited, drop, strict=True):
        contrib = w[history, item]
        if contrib.max() > 0:
            assert source is not None and abs(d - w[source, item]) < 1e-5 and d > 0
        else:
            assert source is None and d == 0


def test_removal_lowers_the_score_of_every_cited_item():
    train, _ = block_data()
    model = get_model_class("itemknn")(neighbours=10).fit(train)
    history = np.array([3, 7, 1, 9])
    items = np.array([0, 2, 4, 5, 20])
    policy = HistoryPolicy()
    cited, drop = explain_by_removal(model, history, items, policy=policy)

    def scores(h):  # read as serving reads a history: recency weights recomputed
        recent, weights = policy.recent(h)
        return model.score_history(recent, None, None, weights)

    base = scores(history)
    for item, source, d in zip(items, cited, drop, strict=True):
        if source is not None:
            assert scores(history[history != source])[item] < base[item] and d > 0


def test_a_known_users_own_vector_gives_no_reason():
    train, test = block_data()
    model = get_model_class("bpr")(factors=8, epochs=5, progress=False).fit(train)
    cited, drop = explain_by_removal(model, np.array([3, 7]), np.array([1, 2]), user=0)
    assert cited == [None, None] and not drop.any()
    cited, _ = explain_by_removal(model, np.array([3, 7]), np.array([1, 2]))  # folded in: the history counts
    assert any(c is not None for c in cited)
