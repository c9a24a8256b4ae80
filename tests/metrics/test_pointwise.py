"""Pointwise metrics: hand-worked examples and a brute-force pairwise AUC."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.metrics.pointwise import auc, group_auc, log_loss


def pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC by definition: mean over (positive, negative) pairs of 1 if the positive is higher, 1/2 if tied."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def test_auc_hand_example_with_tie():
    # positives score 0.9, 0.8, 0.1; negatives 0.8, 0.3
    # pairs: 0.9 beats both (2), 0.8 ties 0.8 (1/2) and beats 0.3 (1), 0.1 beats neither -> 3.5 / 6
    labels = np.array([1, 0, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    assert auc(labels, scores) == pytest.approx(3.5 / 6)
    assert auc(labels.astype(bool), scores) == pytest.approx(3.5 / 6)
    assert auc([0, 1], [0.1, 0.2]) == 1.0
    assert auc([1, 0], [0.1, 0.2]) == 0.0
    assert auc([1, 0, 1, 0], [3, 3, 3, 3]) == 0.5  # all tied


@pytest.mark.parametrize("seed", range(10))
def test_auc_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    labels = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    labels[:2] = [0, 1]  # both classes present
    scores = np.round(rng.normal(size=n), 1)  # many ties
    assert auc(labels, scores) == pytest.approx(pairwise_auc(labels, scores), abs=1e-12)


def test_auc_needs_both_classes_and_valid_input():
    with pytest.raises(ValueError, match="positive and one negative"):
        auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="0/1"):
        auc([2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        auc([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="shape"):
        auc([1, 0], [0.1])


def test_group_auc_hand_example():
    # user 7: labels 1 0 0, scores 0.2 0.5 0.1 -> the positive beats 1 of 2 negatives: AUC 1/2
    # user 3: labels 1 0,   scores 0.9 0.3     -> AUC 1
    # user 5: positives only -> skipped
    groups = np.array([7, 7, 7, 3, 3, 5, 5])
    labels = np.array([1, 0, 0, 1, 0, 1, 1])
    scores = np.array([0.2, 0.5, 0.1, 0.9, 0.3, 0.4, 0.0])
    assert group_auc(groups, labels, scores) == pytest.approx((0.5 + 1.0) / 2)
    # weighted by rows: (3 * 0.5 + 2 * 1.0) / 5
    assert group_auc(groups, labels, scores, weighted=True) == pytest.approx(3.5 / 5)
    with pytest.raises(ValueError):
        group_auc(np.array([0, 1]), np.array([1, 0]), np.array([0.1, 0.2]))


@pytest.mark.parametrize("seed", range(5))
def test_group_auc_matches_per_group_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 500
    groups = rng.integers(0, 40, n)
    labels = (rng.random(n) < 0.3).astype(int)
    scores = rng.integers(0, 5, n).astype(float)  # heavy ties within groups
    per_group, sizes = [], []
    for g in np.unique(groups):
        y, s = labels[groups == g], scores[groups == g]
        if 0 < y.sum() < len(y):
            per_group.append(pairwise_auc(y, s))
            sizes.append(len(y))
    assert group_auc(groups, labels, scores) == pytest.approx(np.mean(per_group), abs=1e-12)
    assert group_auc(groups, labels, scores, weighted=True) == pytest.approx(
        np.average(per_group, weights=sizes), abs=1e-12
    )


def test_log_loss_hand_example():
    # -(ln 0.9 + ln(1 - 0.2) + ln(1e-15)) / 3, the last probability 0 clipped to 1e-15
    # = (0.1053605 + 0.2231436 + 34.5387764) / 3 = 11.6224268
    assert log_loss([1, 0, 1], [0.9, 0.2, 0.0]) == pytest.approx(11.6224268, abs=1e-7)
    # a perfectly calibrated coin: ln 2
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))
    # larger eps clips harder: p = 0 -> 0.01, so -ln(0.01) / 1
    assert log_loss([1], [0.0], eps=0.01) == pytest.approx(-np.log(0.01))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        log_loss([1, 0], [2.3, -1.0])
