"""Hybrid fusion of several relevance signals over one candidate set, as pure functions.

Every signal is a (M,) score array over the same M candidates (e.g. BM25 and dense cosine). Two rules:

- convex (default): ``fused = sum_s w_s * minmax(score_s)`` with weights normalised to sum to 1, where
  ``minmax`` maps the signal's candidate scores linearly onto [0, 1] (all equal -> 1 if positive, else 0).
- rrf: reciprocal rank fusion, ``fused = sum_s w_s / (k + rank_s)`` with ``rank_s`` the 1-based rank of the
  candidate under signal s among the candidates (k = 60, Cormack et al. 2009). Signals listed in
  ``absent_zero`` give no contribution to candidates whose raw score is 0 (a document BM25 did not match is
  not ranked by BM25 at all).

Extra signals (a per-user preference, a popularity prior) join by adding another named array and weight.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

import numpy as np

FusionMethod = Literal["convex", "rrf"]


def minmax(scores: np.ndarray) -> np.ndarray:
    """(M,) -> (M,) float64 in [0, 1]; a constant array maps to 1 where positive, else 0."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    lo, hi = float(s.min()), float(s.max())
    if hi - lo <= 1e-12:
        return (s > 0).astype(np.float64)
    return (s - lo) / (hi - lo)


def _normalised_weights(signals: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(signals)
    if unknown:
        raise ValueError(f"weights for unknown signals: {sorted(unknown)}")
    w = {name: float(weights.get(name, 0.0)) for name in signals}
    if any(v < 0 for v in w.values()):
        raise ValueError("fusion weights must be non-negative")
    total = sum(w.values())
    if total <= 0:
        raise ValueError("at least one fusion weight must be positive")
    return {name: v / total for name, v in w.items()}


def convex_fusion(signals: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Min-max normalised convex combination; (M,) per signal -> (M,) float64."""
    w = _normalised_weights(signals, weights)
    m = len(next(iter(signals.values()))) if signals else 0
    fused = np.zeros(m, dtype=np.float64)
    for name, s in signals.items():
        if w[name]:
            fused += w[name] * minmax(s)
    return fused


def ranks(scores: np.ndarray) -> np.ndarray:
    """(M,) scores -> (M,) 1-based ranks, best first; ties keep candidate order."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    r = np.empty(len(order), dtype=np.int64)
    r[order] = np.arange(1, len(order) + 1)
    return r


def rrf_fusion(
    signals: Mapping[str, np.ndarray],
    weights: Mapping[str, float] | None = None,
    k: int = 60,
    absent_zero: Collection[str] = (),
) -> np.ndarray:
    """Weighted reciprocal rank fusion; (M,) per signal -> (M,) float64."""
    w = _normalised_weights(signals, weights if weights is not None else dict.fromkeys(signals, 1.0))
    m = len(next(iter(signals.values()))) if signals else 0
    fused = np.zeros(m, dtype=np.float64)
    for name, s in signals.items():
        contrib = w[name] / (k + ranks(s))
        if name in absent_zero:
            contrib = np.where(np.asarray(s) > 0, contrib, 0.0)
        fused += contrib
    return fused


def fuse(
    signals: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    method: FusionMethod = "convex",
    rrf_k: int = 60,
    absent_zero: Collection[str] = ("bm25",),
) -> np.ndarray:
    """Dispatch to :func:`convex_fusion` or :func:`rrf_fusion`."""
    if method == "convex":
        return convex_fusion(signals, weights)
    if method == "rrf":
        return rrf_fusion(signals, weights, rrf_k, absent_zero=[a for a in absent_zero if a in signals])
    raise ValueError(f"unknown fusion method {method!r}")
