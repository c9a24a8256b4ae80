"""Beyond-accuracy metrics of top-k lists: coverage, popularity bias, concentration, novelty, diversity, fairness.

Every function reads the (U, k) int64 matrix of the items recommended to U users (best first; -1 pads a short list
and is ignored), which :meth:`fathom.metrics.evaluator.Evaluator.top_lists` returns for a model, plus what the
metric needs about the catalogue: ``counts`` (n_items,) the training interactions of each item, ``features`` an
(n_items, d) item representation (genre indicators or embeddings).

The five that RecBole 1.2.1 also implements follow its definitions exactly where they are the usual ones, and say
where they are not; ``benchmarks/peers/recbole_beyond.py`` checks them against RecBole's own code on the same lists:

- :func:`item_coverage`: share of the catalogue in at least one list (RecBole ItemCoverage; RecBole's evaluator
  divides by ``n_items + 1`` because it counts its padding item).
- :func:`average_popularity`: mean over users of the mean training count of their list (RecBole
  AveragePopularity).
- :func:`gini_index`: Gini coefficient of how often each catalogue item is recommended, items never recommended
  counting zero (RecBole GiniIndex). 0 = every item equally often, towards 1 = a few items everywhere.
- :func:`shannon_entropy`: entropy (nats) of the recommended-item distribution. RecBole's ShannonEntropy divides
  this by the number of distinct items recommended; ``per_item=True`` gives RecBole's figure.
- :func:`tail_percentage`: mean share of each list in the long tail: the ``tail`` share (default 10%) of the items
  with training interactions that have the fewest (ties by item id), or with ``tail`` > 1 the items with at most
  that many interactions (RecBole TailPercentage with its ``tail_ratio``).

And: :func:`novelty` (mean self-information ``-log2(count / n_train_users)`` of recommended items),
:func:`intra_list_diversity` (mean pairwise cosine distance within a list), :func:`group_gap` (a per-user metric's
mean by user group, e.g. gender or age band, and the largest difference between groups).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fathom.metrics.ranking import coverage


def _lists(top: np.ndarray) -> np.ndarray:
    top = np.asarray(top)
    if top.ndim != 2 or not np.issubdtype(top.dtype, np.integer):
        raise ValueError(f"top-k lists must be a 2-d integer matrix (users, k), got {top.dtype} {top.shape}")
    return top.astype(np.int64)


def item_coverage(top: np.ndarray, n_items: int) -> float:
    return coverage(_lists(top), n_items)


def _per_position(values: np.ndarray, valid: np.ndarray) -> float:
    """Mean over users of the mean over each user's (valid) list positions."""
    n = valid.sum(axis=1)
    sums = np.where(valid, values, 0.0).sum(axis=1)
    kept = n > 0
    return float(np.mean(sums[kept] / n[kept])) if kept.any() else 0.0


def average_popularity(top: np.ndarray, counts: np.ndarray) -> float:
    top = _lists(top)
    counts = np.asarray(counts, dtype=np.float64)
    return _per_position(counts[np.maximum(top, 0)], top >= 0)


def _frequencies(top: np.ndarray, n_items: int) -> np.ndarray:
    top = _lists(top)
    return np.bincount(top[top >= 0], minlength=n_items).astype(np.float64)


def gini_index(top: np.ndarray, n_items: int) -> float:
    freq = np.sort(_frequencies(top, n_items))  # non-decreasing, zeros for items never recommended
    total = freq.sum()
    if total == 0:
        return 0.0
    idx = np.arange(1, n_items + 1)
    return float(np.sum((2 * idx - n_items - 1) * freq) / (n_items * total))


def shannon_entropy(top: np.ndarray, n_items: int, per_item: bool = False) -> float:
    freq = _frequencies(top, n_items)
    freq = freq[freq > 0]
    if not len(freq):
        return 0.0
    p = freq / freq.sum()
    h = float(-(p * np.log(p)).sum())
    return h / len(freq) if per_item else h


def tail_items(counts: np.ndarray, tail: float = 0.1) -> np.ndarray:
    """(n_items,) bool: the long tail (module docstring), among items with at least one training interaction."""
    counts = np.asarray(counts)
    seen = np.flatnonzero(counts > 0)
    out = np.zeros(len(counts), bool)
    if tail > 1:
        out[seen[counts[seen] <= tail]] = True
        return out
    if tail <= 0:
        raise ValueError(f"tail must be a share in (0, 1] or a count above 1, got {tail}")
    order = seen[np.lexsort((seen, counts[seen]))]  # fewest first, ties by item id
    out[order[: max(int(len(seen) * tail), 1)]] = True
    return out


def tail_percentage(top: np.ndarray, counts: np.ndarray, tail: float = 0.1) -> float:
    top = _lists(top)
    return _per_position(tail_items(counts, tail)[np.maximum(top, 0)].astype(np.float64), top >= 0)


def novelty(top: np.ndarray, counts: np.ndarray, n_train_users: int) -> float:
    """Mean self-information (bits) of the recommended items: ``-log2(max(count, 1) / n_train_users)``."""
    top = _lists(top)
    info = -np.log2(np.maximum(np.asarray(counts, np.float64), 1.0) / n_train_users)
    return _per_position(info[np.maximum(top, 0)], top >= 0)


def intra_list_diversity(top: np.ndarray, features: Any) -> float:
    """Mean over users of the mean pairwise cosine distance (1 - cosine) between the items of a list; items with
    an all-zero feature row are at distance 1 from everything. ``features``: (n_items, d) dense or sparse."""
    import scipy.sparse as sp

    top = _lists(top)
    f = features.toarray() if sp.issparse(features) else np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    unit = np.divide(f, norms, out=np.zeros_like(f, dtype=np.float64), where=norms > 0)
    out = []
    for row in top:
        items = row[row >= 0]
        m = len(items)
        if m < 2:
            continue
        v = unit[items]  # (m, d)
        sims = v @ v.T
        out.append(1.0 - (sims.sum() - np.trace(sims)) / (m * (m - 1)))
    return float(np.mean(out)) if out else 0.0


def group_gap(values: np.ndarray, groups: Sequence[Any]) -> dict[str, Any]:
    """A per-user metric's mean by group and the largest difference between two groups' means."""
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    if len(values) != len(groups):
        raise ValueError(f"one group per user: {len(values)} values, {len(groups)} groups")
    means = {str(g): float(values[groups == g].mean()) for g in np.unique(groups)}
    sizes = {str(g): int((groups == g).sum()) for g in np.unique(groups)}
    gap = max(means.values()) - min(means.values()) if means else 0.0
    return {"by group": means, "users": sizes, "gap": float(gap)}


def beyond_accuracy(top: np.ndarray, counts: np.ndarray, n_train_users: int, features: Any = None,
                    tail: float = 0.1) -> dict[str, float]:
    """Every list metric above at once (``features`` for diversity, when given), keyed by name@k."""
    top = _lists(top)
    n_items, k = len(counts), top.shape[1]
    out = {f"coverage@{k}": item_coverage(top, n_items), f"avg_popularity@{k}": average_popularity(top, counts),
           f"tail_share@{k}": tail_percentage(top, counts, tail), f"gini@{k}": gini_index(top, n_items),
           f"entropy@{k}": shannon_entropy(top, n_items), f"novelty@{k}": novelty(top, counts, n_train_users)}
    if features is not None:
        out[f"diversity@{k}"] = intra_list_diversity(top, features)
    return out
