"""Re-ranking for diversity (MMR) and calibration, against hand-worked answers; the wrapper ranks its lists first
and never returns an excluded item."""

import numpy as np
import pytest
import scipy.sparse as sp

from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import Evaluator
from fathom.models.diversify import Reranked, calibrate, category_distribution, mmr

# items 0 and 1 are alike (category A), item 2 is B, item 3 is A and B
CATS = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [1, 1]], np.float64))
UNIT = CATS.toarray() / np.linalg.norm(CATS.toarray(), axis=1, keepdims=True)


def test_mmr_keeps_the_order_without_diversity_and_skips_look_alikes_with_it():
    cand, scores = np.array([0, 1, 2]), np.array([1.0, 0.9, 0.5])
    assert mmr(cand, scores, UNIT, 3, 0.0).tolist() == [0, 1, 2]
    # second pick with diversity 0.7: item 1 gains 0.3 * 0.8 - 0.7 * 1 < 0, item 2 gains 0.3 * 0 - 0 = 0
    assert mmr(cand, scores, UNIT, 2, 0.7).tolist() == [0, 2]
    with pytest.raises(ValueError, match="diversity"):
        mmr(cand, scores, UNIT, 2, 1.5)


def test_category_mix_and_calibration_follow_the_users_history():
    np.testing.assert_allclose(category_distribution(np.array([0, 3]), CATS), [0.75, 0.25])
    target = np.array([0.5, 0.5])
    cand, scores = np.array([0, 1, 2]), np.array([1.0, 0.9, 0.1])
    assert calibrate(cand, scores, CATS, target, 2, 0.0).tolist() == [0, 1]  # by score alone
    assert calibrate(cand, scores, CATS, target, 2, 0.9).tolist() == [0, 2]  # half A, half B


def test_reranked_lists_come_first_and_exclusions_never_appear():
    class Fixed:
        def score(self, users):
            return np.tile(np.array([4.0, 3.0, 2.0, 1.0], np.float32), (len(users), 1))

    train = Interactions.from_arrays(np.array([0, 1]), np.array([1, 2]), 2, 4)
    wrapped = Reranked(Fixed(), UNIT, "mmr", 0.9, exclude=train, k=2, candidates=3)
    scores = wrapped.score(np.array([0, 1]))
    assert np.isneginf(scores[0, 1]) and np.isneginf(scores[1, 2])
    assert np.argsort(-scores[0])[:2].tolist() == [0, 2]  # user 0: 0 (A), then B rather than A-and-B
    test = Interactions.from_arrays(np.array([0, 1]), np.array([2, 3]), 2, 4)
    result = Evaluator(test, exclude=(train,), ks=(2,), metrics=("hit",))(wrapped)
    # user 1 (item 2 excluded): 0, then 3 (cosine 0.71 to item 0) rather than its look-alike 1 (cosine 1)
    lists = Evaluator(test, exclude=(train,), ks=(2,), metrics=("hit",)).top_lists(wrapped)
    assert lists.tolist() == [[0, 2], [0, 3]]
    assert result["hit@2"] == pytest.approx(1.0)  # both test items (2 and 3) are reached only by re-ranking
    cal = Reranked(Fixed(), CATS, "calibrate", 0.9, exclude=train, k=2, candidates=3)
    assert set(np.flatnonzero(np.isfinite(cal.score(np.array([0]))[0]))) <= {0, 2, 3}
    with pytest.raises(ValueError, match="method"):
        Reranked(Fixed(), UNIT, "shuffle", 0.5)


def test_mean_penalty_weighs_every_item_of_the_list():
    # list so far [0 (A), 2 (B)]; candidate 3 (A+B) has cosine .71 to both, candidate 1 (A) 1 and 0:
    # max penalty: 3 -> .71, 1 -> 1; mean penalty: 3 -> .71, 1 -> .5, so the mean prefers the look-alike 1
    cand, scores = np.array([0, 2, 1, 3]), np.array([1.0, 0.9, 0.5, 0.5])
    picked_max = mmr(cand, scores, UNIT, 3, 0.6, "max").tolist()
    picked_mean = mmr(cand, scores, UNIT, 3, 0.6, "mean").tolist()
    assert picked_max == [0, 2, 3] and picked_mean == [0, 2, 1]
    with pytest.raises(ValueError, match="penalty"):
        mmr(cand, scores, UNIT, 3, 0.6, "median")


def test_miscalibration_is_the_smoothed_kl_divergence():
    from fathom.models.diversify import ALPHA, miscalibration

    target, mix = np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])
    q = (1 - ALPHA) * mix + ALPHA * target
    assert miscalibration(target, mix) == pytest.approx(0.5 * np.log(0.5 / q[0]) + 0.5 * np.log(0.5 / q[1]))
    np.testing.assert_allclose(miscalibration(target, np.stack([mix, target])), [miscalibration(target, mix), 0.0])
