"""Pure scoring helpers for serving: fold-in of a history the model was not trained on, and reasons.

Some models score a user as a linear function of the items in their history (EASE: ``x_u B``; ItemKNN:
``x_u S``). For them, fold-in is exact: any history, including events that arrived after training, is scored
as the model itself would, and the contribution of each history item to each score is known, which gives
"because you interacted with X" reasons. Other models fold in through ``similar_items`` (summing each history
item's neighbour scores) or their item vectors.

The Recommender contract has no method for the item-item weights, so :data:`LINEAR_WEIGHTS` names the attribute
holding them per model; a contract hook (``item_item_weights()``) would replace this table.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fathom.models.base import Recommender

# model name -> attribute with the (n_items, n_items) weights W such that score(u) = x_u @ W
LINEAR_WEIGHTS: dict[str, str] = {"ease": "weights", "admmslim": "weights", "itemknn": "sim"}


def item_item_weights(model: Recommender) -> np.ndarray | sp.spmatrix | None:
    """The model's (n_items, n_items) item-item weights when its scores are linear in the history, else None."""
    attr = LINEAR_WEIGHTS.get(model.name)
    return getattr(model, attr, None) if attr else None


def affinity(model: Recommender, history: np.ndarray) -> np.ndarray | None:
    """(H, n_items) float32: how much each history item adds to (or, without linear weights, how similar it
    is to) each item; None when the model knows nothing item-to-item (e.g. popularity)."""
    history = np.asarray(history, dtype=np.int64)
    weights = item_item_weights(model)
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


def fold_in_scores(model: Recommender, history: np.ndarray, popularity: np.ndarray,
                   depth: int = 200) -> np.ndarray:
    """(n_items,) float32 scores for a visitor whose history (model item indices) is ``history``.

    Exact for linear models; otherwise the sum of each history item's ``similar_items`` scores (``depth``
    neighbours each), items reached by none ranked after those reached, by popularity. An empty history
    gives ``popularity``."""
    history = np.unique(np.asarray(history, dtype=np.int64))
    n = model.n_items
    pop = np.asarray(popularity, dtype=np.float32)
    if len(history) == 0:
        return pop.copy()
    weights = item_item_weights(model)
    if weights is not None:  # x_u @ W for a binary x_u: the sum of the history's rows, read without the rest of W
        rows = weights[history]  # (H, n)
        total = rows.sum(axis=0)
        return np.asarray(total, dtype=np.float32).ravel()
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


def top_contributors(aff: np.ndarray | None, history: np.ndarray, items: np.ndarray) -> list[int | None]:
    """For each item, the history item contributing most to it (``aff`` from :func:`affinity`), or None when
    no history item contributes positively (then the item is there for its popularity)."""
    if aff is None or len(history) == 0:
        return [None] * len(items)
    cols = aff[:, np.asarray(items, dtype=np.int64)]  # (H, R)
    best = cols.argmax(axis=0)  # (R,)
    return [int(history[b]) if cols[b, r] > 0 else None for r, b in enumerate(best)]
