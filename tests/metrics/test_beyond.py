"""Beyond-accuracy metrics against hand-computed answers (and RecBole's definitions where it has them)."""

import numpy as np
import pytest
import scipy.sparse as sp

from fathom.data.interactions import Interactions
from fathom.metrics.beyond import (
    average_popularity,
    beyond_accuracy,
    gini_index,
    group_gap,
    intra_list_diversity,
    item_coverage,
    novelty,
    shannon_entropy,
    tail_items,
    tail_percentage,
)
from fathom.metrics.evaluator import Evaluator

TOP = np.array([[0, 1], [0, 2], [0, -1]])  # three users, k = 2; the last list is one item short
COUNTS = np.array([10, 4, 1, 0, 2])  # training interactions of 5 items


def test_coverage_popularity_and_tail_by_hand():
    assert item_coverage(TOP, 5) == pytest.approx(3 / 5)
    assert average_popularity(TOP, COUNTS) == pytest.approx(((10 + 4) / 2 + (10 + 1) / 2 + 10) / 3)
    # items with interactions: 0, 1, 2, 4 -> the 10% tail is max(int(0.4), 1) = 1 item: the fewest, item 2
    assert tail_items(COUNTS).tolist() == [False, False, True, False, False]
    assert tail_percentage(TOP, COUNTS) == pytest.approx((0 + 0.5 + 0) / 3)
    assert tail_items(COUNTS, tail=2).tolist() == [False, False, True, False, True]  # at most 2 interactions
    with pytest.raises(ValueError, match="tail"):
        tail_items(COUNTS, tail=0)


def test_gini_and_entropy_by_hand():
    # recommended: item 0 three times, 1 once, 2 once; 5 items -> sorted frequencies 0, 0, 1, 1, 3 (total 5)
    expected_gini = sum((2 * i - 5 - 1) * f for i, f in zip(range(1, 6), [0, 0, 1, 1, 3], strict=True)) / (5 * 5)
    assert gini_index(TOP, 5) == pytest.approx(expected_gini)
    assert gini_index(np.array([[0], [1], [2], [3], [4]]), 5) == pytest.approx(0.0)  # perfectly even
    p = np.array([3, 1, 1]) / 5
    assert shannon_entropy(TOP, 5) == pytest.approx(-(p * np.log(p)).sum())
    assert shannon_entropy(TOP, 5, per_item=True) == pytest.approx(-(p * np.log(p)).sum() / 3)


def test_novelty_diversity_and_group_gap_by_hand():
    assert novelty(np.array([[2]]), COUNTS, n_train_users=8) == pytest.approx(3.0)  # -log2(1 / 8)
    feats = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [0, 0], [1, 1]], np.float32))
    assert intra_list_diversity(np.array([[0, 1], [0, 2]]), feats) == pytest.approx((0.0 + 1.0) / 2)
    assert intra_list_diversity(np.array([[0, 4, 2]]), feats) == pytest.approx(
        1 - 2 * (np.sqrt(0.5) + 0 + np.sqrt(0.5)) / 6)
    gap = group_gap(np.array([0.2, 0.4, 0.9]), ["F", "F", "M"])
    assert gap["by group"] == pytest.approx({"F": 0.3, "M": 0.9}) and gap["gap"] == pytest.approx(0.6)
    assert gap["users"] == {"F": 2, "M": 1}
    with pytest.raises(ValueError, match="one group per user"):
        group_gap(np.array([0.1]), ["F", "M"])
    with pytest.raises(ValueError, match="2-d integer"):
        item_coverage(np.array([0.5, 1.5]), 5)


def test_top_lists_are_the_evaluators_lists():
    class Fixed:
        def score(self, users):
            return np.tile(np.array([5.0, 4.0, 3.0, 2.0, 1.0], np.float32), (len(users), 1))

    train = Interactions.from_arrays(np.array([0, 1]), np.array([0, 1]), 3, 5)
    test = Interactions.from_arrays(np.array([0, 1, 2]), np.array([2, 3, 4]), 3, 5)
    ev = Evaluator(test, exclude=(train,), ks=(2,), metrics=("ndcg", "coverage"), batch_size=2)
    lists = ev.top_lists(Fixed())
    assert lists.tolist() == [[1, 2], [0, 2], [0, 1]]  # each user's training item removed
    assert ev(Fixed())["coverage@2"] == pytest.approx(item_coverage(lists, 5))
    out = beyond_accuracy(lists, COUNTS, n_train_users=3, features=np.eye(5))
    assert set(out) == {"coverage@2", "avg_popularity@2", "tail_share@2", "gini@2", "entropy@2", "novelty@2",
                        "diversity@2"} and out["diversity@2"] == pytest.approx(1.0)
