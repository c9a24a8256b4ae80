"""Scoring one user from a history the model may not have been trained on (fold-in), and the history item
behind each score: the defaults of :meth:`Recommender.score_history` and :meth:`Recommender.explain`.

Models whose scores are linear in the history (EASE, ADMM-SLIM, ItemKNN: ``score(u) = x_u W``) expose ``W``
through :meth:`Recommender.item_item_weights`; for them fold-in is exact (any history, including events that
arrived after training, is scored as the model itself would) and each history item's contribution to each score
is known. Other models fold in through ``similar_items`` and explain through their item vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config
from fathom.metrics.topk import top_k

if TYPE_CHECKING:
    from fathom.models.base import Recommender

# chosen on validation users of benchmarks/click_replay.py (MovieLens-1M, EASE); the measured gain is in
# benchmarks/results/click_replay.md
RECENCY_BOOST, RECENCY_HALF_LIFE = 30.0, 3.0


class HistoryPolicy(Config):
    """How serving reads a user's history, shared by the engine (requests) and the online learner (validation
    ranks held-out events as users would be served): the ``limit`` most recent distinct items, the item of rank
    r (0 = the latest) weighted ``1 + recency_boost * 2 ** (-r / recency_half_life)`` where the model folds the
    history in. The defaults were chosen on a replay of MovieLens-1M users' latest events
    (``benchmarks/click_replay.py``); ``recency_boost: 0`` counts every item once."""

    limit: int = Field(500, ge=1)
    recency_boost: float = Field(RECENCY_BOOST, ge=0)
    recency_half_life: float = Field(RECENCY_HALF_LIFE, gt=0)

    def recent(self, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the history's ``limit`` most recent items, their weights), from a most-recent-first history."""
        recent = np.asarray(history, dtype=np.int64)[: self.limit]
        return recent, recency_weights(len(recent), self.recency_boost, self.recency_half_life)


def recency_weights(n: int, boost: float, half_life: float) -> np.ndarray:
    """(n,) float32 weights of a history, most recent first: ``1 + boost * 2 ** (-rank / half_life)`` (rank 0 =
    the latest item), so the latest items count up to ``1 + boost`` times as much as old ones; boost 0: all 1."""
    return (1.0 + boost * np.exp2(-np.arange(n) / half_life)).astype(np.float32)


def fold_in_scores(model: Recommender, history: np.ndarray, popularity: np.ndarray | None = None,
                   depth: int = 200, weights: np.ndarray | None = None) -> np.ndarray:
    """(n_items,) float32 scores for a visitor whose history (model item indices) is ``history``.

    Exact for linear models (``x_u @ W`` with ``x_u`` holding each history item's weight, 1 by default);
    otherwise the weighted sum of each history item's ``similar_items`` scores (``depth`` neighbours each),
    items reached by none ranked after those reached, by popularity. ``weights``: (H,) per history item (e.g.
    :func:`recency_weights`); an item listed twice counts once, at its first place. An empty history gives
    ``popularity`` (zeros when None)."""
    history = np.asarray(history, dtype=np.int64)
    w = np.ones(len(history), np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
    if w.shape != history.shape:
        raise ValueError(f"weights has shape {w.shape}, the history {history.shape}")
    history, first = np.unique(history, return_index=True)
    w = w[first]
    n = model.n_items
    pop = np.zeros(n, np.float32) if popularity is None else np.asarray(popularity, dtype=np.float32)
    if len(history) == 0:
        return pop.copy()
    item_weights = model.item_item_weights()
    if item_weights is not None:  # x_u @ W: the weighted sum of the history's rows, read without the rest of W
        rows = item_weights[history]  # (H, n)
        return np.asarray(rows.T @ w, dtype=np.float32).ravel()
    try:
        ids, scores = model.similar_items(history, k=min(depth, n - 1))  # (H, depth)
    except NotImplementedError:
        return pop.copy()
    valid = (ids >= 0) & np.isfinite(scores)
    out = np.zeros(n, np.float32)
    np.add.at(out, ids[valid], (scores * w[:, None])[valid])
    reached = np.zeros(n, bool)
    reached[ids[valid]] = True
    if (~reached).any():
        floor = out[reached].min() if reached.any() else 0.0
        tiebreak = pop / (pop.max() + 1.0) if pop.size and pop.max() > 0 else np.zeros(n, np.float32)
        out[~reached] = floor - 1.0 - 1.0 / (1.0 + tiebreak[~reached])
    return out


def contributions(model: Recommender, history: np.ndarray) -> np.ndarray | None:
    """(H, n_items) float32: how much each history item adds to (linear models) or how similar it is to (item
    vectors, cosine) each item; None when the model knows nothing item-to-item (e.g. popularity)."""
    history = np.asarray(history, dtype=np.int64)
    weights = model.item_item_weights()
    if weights is not None:
        rows = weights[history]
        return (rows.toarray() if sp.issparse(rows) else np.asarray(rows)).astype(np.float32)
    vectors = model.item_vectors()
    if vectors is None:
        return None
    vectors = np.asarray(vectors, dtype=np.float32)  # (n_items, d)
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    unit = vectors / norms[:, None]
    return unit[history] @ unit.T  # (H, n_items) cosine


def top_contributors(contrib: np.ndarray | None, history: np.ndarray, items: np.ndarray) -> list[int | None]:
    """For each item, the history item contributing most to it (``contrib`` from :func:`contributions`), or None
    when no history item contributes positively (then the item is there for its popularity)."""
    if contrib is None or len(history) == 0:
        return [None] * len(items)
    cols = contrib[:, np.asarray(items, dtype=np.int64)]  # (H, R)
    best = cols.argmax(axis=0)  # (R,)
    return [int(history[b]) if cols[b, r] > 0 else None for r, b in enumerate(best)]


@dataclass
class Ranked:
    """One user's ranking: ``items`` (R,) model item indices, best first; ``scores`` (R,); ``sources`` the history
    item behind each (or None); ``raw`` (n_items,) every item's score before exclusions."""

    items: np.ndarray
    scores: np.ndarray
    sources: list[int | None]
    raw: np.ndarray


def rank_history(model: Recommender, history: np.ndarray, k: int, user: int | None = None,
                 popularity: np.ndarray | None = None, allowed: np.ndarray | None = None,
                 policy: HistoryPolicy | None = None) -> Ranked:
    """The one read path of a deployed model: a user's top ``k`` from their history (model item indices, most
    recent first), as the service (``GET /recommend``) and ``fathom recommend`` both rank it. The history is read
    as ``policy`` says and scored by :meth:`Recommender.score_history`; equal scores go by ``popularity``; items
    in the history, and those outside ``allowed`` (n_items,) bool, are left out; reasons come from
    :meth:`Recommender.explain`."""
    history = np.asarray(history, dtype=np.int64)
    recent, weights = (policy or HistoryPolicy()).recent(history)
    scores = model.score_history(recent, user, popularity, weights)  # (n_items,)
    pop = None if popularity is None else np.asarray(popularity, dtype=np.float32)
    if pop is not None and pop.size and pop.max() > 0:
        scores = scores + 1e-6 * pop / pop.max()
    raw = scores.copy()
    mask = np.ones(model.n_items, bool) if allowed is None else np.array(allowed, dtype=bool)
    mask[history] = False
    scores[~mask] = -np.inf
    ids, top = top_k(scores, k)
    keep = ids >= 0
    ids, top = ids[keep], top[keep]
    return Ranked(ids, top, model.explain(recent, ids), raw)


def explain_by_removal(model: Recommender, history: np.ndarray, items: np.ndarray, user: int | None = None,
                       popularity: np.ndarray | None = None, policy: HistoryPolicy | None = None,
                       max_history: int = 20) -> tuple[list[int | None], np.ndarray]:
    """Faithful reasons for any model: for each of ``items``, the history item (among the ``max_history`` most
    recent) whose removal moves the item furthest down the ranking when the history without it is read again
    exactly as serving reads it (``policy``'s recent items and recency weights, recomputed, then
    :meth:`Recommender.score_history` with the same ``user`` and ``popularity``; history items are never ranked),
    ties and items no removal moves down going to the largest drop in score; returns the cited items and their
    score drops (R,). None where no removal lowers the score (the item is there by the user's profile or
    popularity). ``history``: most recent first, as :func:`rank_history` takes it."""
    history = np.asarray(history, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    policy = policy or HistoryPolicy()

    def ranked(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        recent, weights = policy.recent(h)
        scores = np.asarray(model.score_history(recent, user, popularity, weights), dtype=np.float64)
        allowed = np.ones(len(scores), bool)
        allowed[h] = False
        pool = np.sort(scores[allowed])
        ranks = len(pool) - np.searchsorted(pool, scores[items], side="right")  # items scored above each
        return scores[items], ranks

    base, base_rank = ranked(history)
    best: list[int | None] = [None] * len(items)
    drop = np.zeros(len(items), np.float64)
    fall = np.zeros(len(items), np.int64)
    for j in range(min(len(history), max_history)):
        scores, ranks = ranked(np.delete(history, j))
        d, f = base - scores, ranks - base_rank
        better = (d > 1e-7) & ((f > fall) | ((f == fall) & (d > drop)))
        for r in np.flatnonzero(better):
            best[r] = int(history[j])
        drop, fall = np.where(better, d, drop), np.where(better, f, fall)
    return best, drop
