"""Top-k ranking metrics as pure, vectorised functions of a hit matrix: the one definition of each metric in
Fathom (recommendation evaluation, search evaluation through :mod:`fathom.metrics.queries`, model validation).

Every metric takes

- ``hits``: (B, K) bool or float; row ``u`` is user ``u``'s ranked list, best first, and ``hits[u, i]`` is
  true (non-zero) when the item at rank ``i + 1`` is relevant. Gains are binary.
- ``n_relevant``: (B,) int, the user's number of relevant (test) items, hit or not.
- ``k``: the cutoff; ``None`` means ``K``. A cutoff beyond ``K`` (a list shorter than ``k``, e.g. a catalogue
  smaller than ``k``) counts the missing positions as misses.

and returns per-user values, float64 (B,), so that callers choose how to average.

Users with no relevant item (``n_relevant == 0``) get 0 from every metric, without dividing by zero. The
ranking evaluator (:mod:`fathom.metrics.evaluator`) never passes such users: it evaluates only users with at
least one test item.

Definitions, with ``h_i`` the hit at rank ``i`` (1-based), ``R`` = ``n_relevant``:

- precision@k = sum_{i<=k} h_i / k (always divided by ``k``, as trec_eval's ``P_k`` does)
- recall@k = sum_{i<=k} h_i / R (trec_eval ``recall_k``)
- f1@k = 2 P R / (P + R), per user, 0 when both are 0
- ndcg@k = sum_{i<=k} h_i / log2(i + 1), divided by the ideal DCG of min(R, k) hits (trec_eval ``ndcg_cut_k``);
  :func:`graded_ndcg_at_k` is the same with graded gains (the grade of each ranked item, over the DCG of the
  grades in ideal order)
- mrr@k = 1 / (rank of the first hit) if it is within ``k``, else 0 (trec_eval ``recip_rank`` on the list
  truncated to ``k``)
- hit@k = 1 if any hit within ``k`` (trec_eval ``success_k``)
- map@k = sum_{i<=k} P@i h_i / D. The default normaliser is D = min(R, k), as RecBole's ``MAP@K``: a perfect
  list scores 1 even when ``R > k``. ``normalizer="relevant"`` uses D = R, as trec_eval's ``map_cut_k`` and
  ranx's ``map@k``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

MapNormalizer = Literal["min", "relevant"]


def _prepare(hits: np.ndarray, n_relevant: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated (B, k) float64 hits (zero-padded past K), (B,) float64 n_relevant, and k."""
    h = np.asarray(hits)
    if h.ndim != 2:
        raise ValueError(f"hits must be a (B, K) matrix, got shape {h.shape}")
    b, width = h.shape
    r = np.asarray(n_relevant)
    if r.shape != (b,):
        raise ValueError(f"n_relevant must have shape ({b},), got {r.shape}")
    if b and r.min() < 0:
        raise ValueError("n_relevant must be non-negative")
    k = width if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    h = h.astype(bool)
    if b and (h.sum(axis=1) > r).any():
        raise ValueError("a row of hits has more hits than its n_relevant")
    h = h[:, :k].astype(np.float64)  # (B, min(K, k))
    if width < k:
        h = np.pad(h, ((0, 0), (0, k - width)))  # (B, k)
    return h, r.astype(np.float64), k


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0, else 0."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) share of the first ``k`` positions that are hits."""
    h, _, k = _prepare(hits, n_relevant, k)
    return h.sum(axis=1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) share of the user's relevant items found in the first ``k`` positions."""
    h, r, _ = _prepare(hits, n_relevant, k)
    return _safe_divide(h.sum(axis=1), r)


def f1_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) harmonic mean of precision@k and recall@k, per user."""
    h, r, k = _prepare(hits, n_relevant, k)
    n_hit = h.sum(axis=1)
    # 2PR / (P + R) with P = n / k and R = n / r simplifies to 2n / (k + r); k >= 1, so never 0 / 0
    return 2.0 * n_hit / (k + r)


def _discount(k: int) -> np.ndarray:
    """(k,) 1 / log2(i + 1) for ranks i = 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) DCG of the first ``k`` positions over the ideal DCG of min(n_relevant, k) hits."""
    h, r, k = _prepare(hits, n_relevant, k)
    discount = _discount(k)  # (k,)
    ideal = np.concatenate(([0.0], np.cumsum(discount)))  # (k + 1,) ideal DCG of 0..k hits
    return _safe_divide(h @ discount, ideal[np.minimum(r, k).astype(np.int64)])


def graded_ndcg_at_k(gains: np.ndarray, ideal_gains: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) nDCG with graded gains: ``gains`` (B, K) the grade of the item at each rank (0: not relevant),
    ``ideal_gains`` (B, J) every relevant grade of the row (any order, zero-padded). With 0/1 grades it equals
    :func:`ndcg_at_k`."""
    g = np.asarray(gains, dtype=np.float64)
    ideal = -np.sort(-np.asarray(ideal_gains, dtype=np.float64), axis=1)  # (B, J) best first
    if g.ndim != 2 or ideal.shape[0] != g.shape[0]:
        raise ValueError(f"gains (B, K) and ideal_gains (B, J) must have the same rows, got {g.shape}, {ideal.shape}")
    k = g.shape[1] if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    g = np.pad(g[:, :k], ((0, 0), (0, max(0, k - g.shape[1]))))  # (B, k)
    ideal = np.pad(ideal[:, :k], ((0, 0), (0, max(0, k - ideal.shape[1]))))  # (B, k)
    discount = _discount(k)
    return _safe_divide(np.maximum(g, 0) @ discount, np.maximum(ideal, 0) @ discount)


def mrr_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) 1 / rank of the first hit within ``k``, 0 without one."""
    h, _, _ = _prepare(hits, n_relevant, k)
    any_hit = h.any(axis=1)
    first = np.argmax(h, axis=1)  # 0 where there is no hit; masked below
    return np.where(any_hit, 1.0 / (first + 1.0), 0.0)


def hit_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(B,) 1 when any of the first ``k`` positions is a hit, else 0."""
    h, _, _ = _prepare(hits, n_relevant, k)
    return h.any(axis=1).astype(np.float64)


def map_at_k(
    hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None, normalizer: MapNormalizer = "min"
) -> np.ndarray:
    """(B,) average precision at ``k``: sum of precision@i at each hit i <= k, over min(R, k) or R.

    ``normalizer="min"`` (default) divides by min(n_relevant, k) as RecBole does; ``"relevant"`` divides by
    n_relevant as trec_eval's ``map_cut_k`` and ranx do.
    """
    h, r, k = _prepare(hits, n_relevant, k)
    precision_at_i = np.cumsum(h, axis=1) / np.arange(1, k + 1)  # (B, k)
    total = (precision_at_i * h).sum(axis=1)  # (B,)
    if normalizer == "min":
        return _safe_divide(total, np.minimum(r, k))
    if normalizer == "relevant":
        return _safe_divide(total, r)
    raise ValueError(f"normalizer must be 'min' or 'relevant', got {normalizer!r}")


def coverage(topk_ids: np.ndarray, n_items: int) -> float:
    """Share of the ``n_items`` catalogue items that appear in at least one list; -1 entries are padding."""
    ids = np.asarray(topk_ids)
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    ids = ids[ids >= 0]
    if ids.size and ids.max() >= n_items:
        raise ValueError(f"item id {ids.max()} is outside [0, {n_items})")
    seen = np.zeros(n_items, dtype=bool)
    seen[ids] = True
    return float(seen.mean())


MetricFn = Callable[[np.ndarray, np.ndarray, int | None], np.ndarray]

#: Per-user top-k metrics by name, as the ranking evaluator names them ("map" uses the min(R, k) normaliser).
RANKING_METRICS: dict[str, MetricFn] = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "f1": f1_at_k,
    "ndcg": ndcg_at_k,
    "mrr": mrr_at_k,
    "hit": hit_at_k,
    "map": map_at_k,
}
