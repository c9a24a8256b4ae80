"""Re-ranking a model's candidates for diversity (MMR) or for calibration to a user's category mix.

Both take a model's top ``candidates`` items for each user (its scores; excluded items never enter) and build the
final top-k greedily:

- :func:`mmr` (maximal marginal relevance, Carbonell & Goldstein 1998): at each position the candidate maximising
  ``(1 - diversity) * rel(i) - diversity * max_{j in list} cos(i, j)``, ``rel`` the model's score min-max scaled to
  [0, 1] over the user's candidates and cos the cosine similarity of item features (genre indicators, embeddings).
  ``diversity = 0`` keeps the model's order. ``mmr-mean`` penalises the mean similarity to the list instead.
- :func:`calibrate` (Steck, RecSys 2018): the candidate maximising ``(1 - weight) * sum rel(list + i) -
  weight * KL(p_u || q(list + i))``, p_u the user's category distribution (their history's items' categories, each
  item's categories sharing one unit), q that of the list, smoothed as ``(1 - 0.01) q + 0.01 p_u``.

:class:`Reranked` wraps a model so that ``score`` ranks the re-ranked lists first (the evaluator and
``recommend`` read it like any model): the chosen k items get scores k, k-1, ..., 1 and every other item -inf.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from fathom.data.interactions import Interactions
from fathom.metrics.topk import top_k

ALPHA = 0.01  # calibration's smoothing of the list distribution towards the user's


def _unit_rows(features: Any) -> np.ndarray:
    f = features.toarray() if sp.issparse(features) else np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    return np.divide(f, norms, out=np.zeros_like(f, dtype=np.float64), where=norms > 0)


def _relevance(scores: np.ndarray) -> np.ndarray:
    """(C,) scores min-max scaled to [0, 1] (all equal: all 1)."""
    lo, hi = scores.min(), scores.max()
    return np.ones_like(scores) if hi - lo <= 0 else (scores - lo) / (hi - lo)


def mmr(candidates: np.ndarray, scores: np.ndarray, unit: np.ndarray, k: int, diversity: float,
        penalty: Literal["max", "mean"] = "max") -> np.ndarray:
    """The k items MMR picks among ``candidates`` (C,) with model ``scores`` (C,); ``unit``: unit feature rows of
    every item (n_items, d). ``penalty="mean"``: a candidate's mean similarity to the list instead of its largest,
    which makes the greedy steps maximise relevance plus intra-list diversity (the mean pairwise distance)."""
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must lie in [0, 1], got {diversity}")
    if penalty not in ("max", "mean"):
        raise ValueError(f"penalty must be 'max' or 'mean', got {penalty!r}")
    rel = _relevance(np.asarray(scores, np.float64))
    vecs = unit[candidates]  # (C, d)
    chosen: list[int] = []
    max_sim = np.zeros(len(candidates))  # (C,) the largest similarity to an item already in the list
    sum_sim = np.zeros(len(candidates))  # (C,) the summed similarity to the list
    free = np.ones(len(candidates), bool)
    for step in range(min(k, len(candidates))):
        sim = max_sim if penalty == "max" else sum_sim / max(step, 1)
        gain = np.where(free, (1.0 - diversity) * rel - diversity * sim, -np.inf)
        best = int(np.argmax(gain))  # ties: the earlier (better-scored) candidate
        chosen.append(best)
        free[best] = False
        new = vecs @ vecs[best]
        max_sim, sum_sim = np.maximum(max_sim, new), sum_sim + new
    return candidates[chosen]


def category_distribution(items: np.ndarray, categories: sp.csr_matrix) -> np.ndarray:
    """(G,) the category mix of ``items``: each item's categories share one unit; zeros when none has any."""
    rows = categories[items]  # (m, G)
    per_item = np.asarray(rows.sum(axis=1)).ravel()
    weights = np.divide(1.0, per_item, out=np.zeros_like(per_item, dtype=np.float64), where=per_item > 0)
    mix = np.asarray(rows.multiply(weights[:, None]).sum(axis=0)).ravel()
    total = mix.sum()
    return mix / total if total > 0 else mix


def miscalibration(target: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """KL(target || mix smoothed towards target) over the target's categories; ``mix`` (G,) or (C, G) -> () or
    (C,)."""
    q = (1 - ALPHA) * np.asarray(mix) + ALPHA * target
    s = target > 0
    return (target[s] * np.log(target[s] / q[..., s])).sum(axis=-1)


def calibrate(candidates: np.ndarray, scores: np.ndarray, categories: sp.csr_matrix, target: np.ndarray, k: int,
              weight: float) -> np.ndarray:
    """The k items calibration picks among ``candidates`` (module docstring); ``target``: the user's (G,) mix."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    rel = _relevance(np.asarray(scores, np.float64))
    rows = categories[candidates]
    per_item = np.asarray(rows.sum(axis=1)).ravel()
    share = np.asarray(rows.multiply(np.divide(1.0, per_item, out=np.zeros_like(per_item, dtype=np.float64),
                                               where=per_item > 0)[:, None]).todense())  # (C, G)
    mass = np.zeros(categories.shape[1])
    total_rel = 0.0
    chosen: list[int] = []
    free = np.ones(len(candidates), bool)
    for step in range(min(k, len(candidates))):
        kl = miscalibration(target, (mass[None, :] + share) / (step + 1))  # (C,): each candidate added
        gain = np.where(free, (1.0 - weight) * (total_rel + rel) - weight * kl, -np.inf)
        best = int(np.argmax(gain))
        chosen.append(best)
        free[best] = False
        mass += share[best]
        total_rel += rel[best]
    return candidates[chosen]


class Reranked:
    """A model's lists re-ranked by :func:`mmr` or :func:`calibrate`; ``score`` puts them first (docstring).

    exclude: items never to recommend (each user's training items; a CSR (n_users, n_items) or Interactions);
    features: (n_items, d) item features for MMR, or the (n_items, G) item-category matrix for calibration;
    history: the interactions whose category mix calibration aims at (default ``exclude``)."""

    def __init__(self, model: Any, features: Any, method: Literal["mmr", "mmr-mean", "calibrate"], strength: float,
                 exclude: Any = None, k: int = 10, candidates: int = 100, history: Any = None) -> None:
        if method not in ("mmr", "mmr-mean", "calibrate"):
            raise ValueError(f"method must be 'mmr', 'mmr-mean' or 'calibrate', got {method!r}")
        self.model, self.method, self.strength, self.k, self.n_candidates = model, method, strength, k, candidates
        self.exclude = _csr(exclude)
        hist = _csr(history) if history is not None else self.exclude
        self.history = hist
        if method.startswith("mmr"):
            self.unit = _unit_rows(features)
        else:
            self.categories = sp.csr_matrix(features, dtype=np.float64)
            self.categories.data[:] = 1.0

    def score(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        base = np.array(self.model.score(users), dtype=np.float32, copy=True)  # (B, n)
        if self.exclude is not None:
            sub = self.exclude[users]
            rows = np.repeat(np.arange(len(users)), np.diff(sub.indptr))
            base[rows, sub.indices] = -np.inf
        ids, top_scores = top_k(base, self.n_candidates)  # (B, C)
        out = np.full(base.shape, -np.inf, np.float32)
        for r, user in enumerate(users):
            keep = np.isfinite(top_scores[r]) & (ids[r] >= 0)
            cand, sc = ids[r][keep], top_scores[r][keep]
            if not len(cand):
                continue
            if self.method.startswith("mmr"):
                picked = mmr(cand, sc, self.unit, self.k, self.strength, "mean" if self.method == "mmr-mean" else "max")
            else:
                seen = self.history[int(user)].indices if self.history is not None else np.array([], np.int64)
                target = category_distribution(seen, self.categories) if len(seen) else np.zeros(
                    self.categories.shape[1])
                picked = cand[: self.k] if not target.any() else calibrate(cand, sc, self.categories, target,
                                                                            self.k, self.strength)
            out[r, picked] = np.arange(len(picked), 0, -1, dtype=np.float32)
        return out


def _csr(x: Any) -> sp.csr_matrix | None:
    if x is None:
        return None
    if isinstance(x, Interactions):
        return x.csr()
    if isinstance(x, tuple | list):
        parts = [_csr(p) for p in x]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return sp.csr_matrix(total)
    return sp.csr_matrix(x)
