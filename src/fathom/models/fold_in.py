"""Scoring one user from a history the model may not have been trained on (fold-in), and the history item
behind each score: the defaults of :meth:`Recommender.score_history` and :meth:`Recommender.explain`.

Models whose scores are linear in the history (EASE, ADMM-SLIM, ItemKNN: ``score(u) = x_u W``) expose ``W``
through :meth:`Recommender.item_item_weights`; for them fold-in is exact (any history, including events that
arrived after training, is scored as the model itself would) and each history item's contribution to each score
is known. Other models fold in through ``similar_items`` and explain through their item vectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from fathom.models.base import Recommender

HISTORY_LIMIT = 500
"""Most recent distinct items of a user that serving (and online validation, which ranks as serving does) hands
to :meth:`Recommender.score_history` and :meth:`Recommender.explain`."""


def fold_in_scores(model: Recommender, history: np.ndarray, popularity: np.ndarray | None = None,
                   depth: int = 200) -> np.ndarray:
    """(n_items,) float32 scores for a visitor whose history (model item indices) is ``history``.

    Exact for linear models; otherwise the sum of each history item's ``similar_items`` scores (``depth``
    neighbours each), items reached by none ranked after those reached, by popularity. An empty history
    gives ``popularity`` (zeros when None)."""
    history = np.unique(np.asarray(history, dtype=np.int64))
    n = model.n_items
    pop = np.zeros(n, np.float32) if popularity is None else np.asarray(popularity, dtype=np.float32)
    if len(history) == 0:
        return pop.copy()
    weights = model.item_item_weights()
    if weights is not None:  # x_u @ W for a binary x_u: the sum of the history's rows, read without the rest of W
        return np.asarray(weights[history].sum(axis=0), dtype=np.float32).ravel()
    try:
        ids, scores = model.similar_items(history, k=min(depth, n - 1))  # (H, depth)
    except NotImplementedError:
        return pop.copy()
    valid = (ids >= 0) & np.isfinite(scores)
    out = np.zeros(n, np.float32)
    np.add.at(out, ids[valid], scores[valid])
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
