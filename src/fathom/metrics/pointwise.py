"""Pointwise metrics of scored (user, item) pairs with binary labels: AUC, group AUC and log loss.

Pure numpy. Labels are 0/1 (or bool); scores are any real numbers where higher means "more likely positive".

- :func:`auc` is the rank-based (Mann-Whitney) AUC: tied scores share their average rank, so a tied
  positive/negative pair counts one half. It equals scikit-learn's ``roc_auc_score``.
- :func:`group_auc` is the unweighted mean of per-group (per-user) AUCs over the groups that have both a
  positive and a negative; ``weighted=True`` weights each group by its number of rows instead.
- :func:`log_loss` is the mean binary cross-entropy of probabilities clipped to ``[eps, 1 - eps]``.
"""

from __future__ import annotations

import numpy as np


def _labels(labels: np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {y.shape}")
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1 or bool")
    return y.astype(bool)


def _scores(scores: np.ndarray, n: int) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (n,):
        raise ValueError(f"scores must have shape ({n},), got {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s


def _group_average_ranks(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N,) 1-based rank of each score within its group, ascending; ties get their average rank."""
    n = len(scores)
    order = np.lexsort((scores, groups))  # by group, then score ascending
    g, s = groups[order], scores[order]
    pos = np.arange(n)
    new_group = np.r_[True, g[1:] != g[:-1]]  # (N,) first row of a group
    new_tie = new_group | np.r_[True, s[1:] != s[:-1]]  # (N,) first row of a tie run
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))  # (N,) position where the group starts
    tie_id = np.cumsum(new_tie) - 1  # (N,) index of the tie run
    tie_first = pos[new_tie]  # (T,)
    tie_last = np.r_[tie_first[1:], n] - 1  # (T,)
    avg = (tie_first + tie_last) / 2.0  # (T,) average 0-based position of each run
    ranks = np.empty(n, np.float64)
    ranks[order] = avg[tie_id] - group_start + 1.0
    return ranks


def _per_group_auc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per group: AUC (NaN without both classes), number of rows, and whether it has both classes."""
    uniq, inverse = np.unique(groups, return_inverse=True)
    ranks = _group_average_ranks(inverse, scores)
    n_groups = len(uniq)
    n_pos = np.bincount(inverse, weights=labels, minlength=n_groups)  # (G,)
    n_all = np.bincount(inverse, minlength=n_groups).astype(np.float64)  # (G,)
    n_neg = n_all - n_pos
    rank_sum = np.bincount(inverse, weights=np.where(labels, ranks, 0.0), minlength=n_groups)  # (G,)
    both = (n_pos > 0) & (n_neg > 0)
    # Mann-Whitney U of the positives over the number of (positive, negative) pairs
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    auc = np.divide(u, n_pos * n_neg, out=np.full(n_groups, np.nan), where=both)
    return auc, n_all, both


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; ties count one half. Raises ValueError when only one class is present."""
    y = _labels(labels)
    s = _scores(scores, len(y))
    value, _, both = _per_group_auc(np.zeros(len(y), np.int64), y, s)
    if not both.any():
        raise ValueError("AUC needs at least one positive and one negative label")
    return float(value[0])


def group_auc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray, weighted: bool = False) -> float:
    """Mean per-group AUC over groups (e.g. users) with both classes; ``weighted`` weights groups by size.

    Raises ValueError when no group has both a positive and a negative.
    """
    y = _labels(labels)
    s = _scores(scores, len(y))
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise ValueError(f"groups must have shape {y.shape}, got {g.shape}")
    value, size, both = _per_group_auc(g, y, s)
    if not both.any():
        raise ValueError("group AUC needs a group with both a positive and a negative label")
    weights = size[both] if weighted else np.ones(both.sum())
    return float(np.average(value[both], weights=weights))


def log_loss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-15) -> float:
    """Mean of -(y log p + (1 - y) log(1 - p)) with p clipped to [eps, 1 - eps]."""
    y = _labels(labels)
    if len(y) == 0:
        raise ValueError("log loss of no rows")
    p = _scores(probabilities, len(y))
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("probabilities must lie in [0, 1] (pass a sigmoid of logits, not logits)")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))
