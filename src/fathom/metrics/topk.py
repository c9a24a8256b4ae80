"""Top-k selection, the one implementation: the best ``k`` columns per row, best first, ties by the lower column
index, NaN and -inf ineligible. Models (``Recommender.recommend``), the full-ranking evaluator and the vector
indexes all rank with it, so a tie never orders differently in two places."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64 (B, k), scores float32 (B, k)) of the best ``k`` entries of each row of ``scores`` (B, n), best
    first, ties by the lower index; NaN and -inf entries are ineligible: positions without an eligible entry
    (also those past ``n``) hold id -1 and score -inf. A 1-d ``scores`` (n,) gives 1-d results (k,)."""
    s = np.asarray(scores)
    one = s.ndim == 1
    s2 = s[None, :] if one else s
    if s2.ndim != 2:
        raise ValueError(f"scores must be (n,) or (B, n), got shape {s.shape}")
    cost = np.negative(s2.astype(np.result_type(s2, np.float32), copy=True))  # (B, n) lower is better
    cost[np.isnan(cost)] = np.inf
    ids, top_cost = _top_k_by_cost(cost, k)
    top = np.negative(top_cost).astype(np.float32)
    return (ids[0], top[0]) if one else (ids, top)


def _top_k_by_cost(cost: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64 (B, k), costs (B, k)) of the ``k`` lowest costs per row, ties by lower id; +inf -> id -1."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    b, n = cost.shape
    kk = min(k, n)
    if kk < n:
        part = np.argpartition(cost, kk - 1, axis=1)[:, :kk]  # (B, kk) unordered
    else:
        part = np.broadcast_to(np.arange(n), (b, n))
    part_cost = np.take_along_axis(cost, part, axis=1)  # (B, kk)
    order = np.lexsort((part, part_cost), axis=1)  # primary: cost asc, secondary: id asc
    ids = np.take_along_axis(part, order, axis=1).astype(np.int64)  # (B, kk)
    top = np.take_along_axis(part_cost, order, axis=1)  # (B, kk)
    if kk < n:
        # argpartition may cut a tie group at the k-th cost arbitrarily: for those rows keep every item
        # strictly better than the k-th cost plus the lowest-id items of the tie group.
        kth = top[:, -1:]  # (B, 1)
        tied = (cost == kth).sum(axis=1) > (top == kth).sum(axis=1)  # (B,)
        rows = np.flatnonzero(tied)
        if len(rows):
            c, t = cost[rows], kth[rows]  # (R, n), (R, 1)
            better = c < t
            equal = c == t
            room = kk - better.sum(axis=1, keepdims=True)  # (R, 1) tie slots left
            keep = better | (equal & (np.cumsum(equal, axis=1) <= room))  # exactly kk per row
            sel = np.nonzero(keep)[1].reshape(len(rows), kk)  # (R, kk) ids, ascending per row
            sel_cost = np.take_along_axis(c, sel, axis=1)
            re = np.lexsort((sel, sel_cost), axis=1)
            ids[rows] = np.take_along_axis(sel, re, axis=1)
            top[rows] = np.take_along_axis(sel_cost, re, axis=1)
    ids[np.isposinf(top)] = -1
    if kk < k:
        ids = np.pad(ids, ((0, 0), (0, k - kk)), constant_values=-1)
        top = np.pad(top, ((0, 0), (0, k - kk)), constant_values=np.inf)
    return ids, top
