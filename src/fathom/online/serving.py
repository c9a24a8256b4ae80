"""How a served model scores one user from their stored history: the policy shared by the engine (requests) and
the online learner (validation ranks held-out events exactly as users would be served).

- Sequence models (SASRec, GRU4Rec: anything with ``score_sequences``) read the user's latest items at request
  time, so an event posted a moment ago (or a brand-new user's first few events) is the last step of the
  sequence the next prediction starts from.
- Linear models (EASE, ItemKNN) fold the whole stored history in exactly
  (:func:`~fathom.online.scoring.fold_in_scores`).
- Other models score a user they were trained on with their own user representation; a user who arrived after
  training is folded in through ``similar_items`` / item vectors.

Histories are model item indices, most recent first (the order of :meth:`fathom.online.store.Store.user_items`).
"""

from __future__ import annotations

import numpy as np

from fathom.models.base import Recommender
from fathom.online.scoring import fold_in_scores, item_item_weights


def is_sequential(model: Recommender) -> bool:
    """True for next-item models that score an arbitrary item sequence (``score_sequences``)."""
    return callable(getattr(model, "score_sequences", None))


def sequence_of(model: Recommender, history: np.ndarray) -> np.ndarray:
    """(T,) int64 input sequence, oldest first, of at most ``max_len`` items, from a recent-first history."""
    max_len = int(getattr(model.config, "max_len", len(history)))
    return np.asarray(history[:max_len][::-1], dtype=np.int64)


def serve_scores(model: Recommender, history: np.ndarray, user: int | None, popularity: np.ndarray,
                 fold_in_limit: int = 500) -> np.ndarray:
    """(n_items,) float32 scores of every item of ``model`` for one user.

    history: (H,) int64 model item indices, most recent first; user: the model's index of the user when it was
    trained on them, else None; popularity: (n_items,) counts, the answer when nothing else is known."""
    history = np.asarray(history, dtype=np.int64)
    if is_sequential(model):
        if len(history) == 0:
            return np.asarray(popularity, dtype=np.float32).copy()
        return np.asarray(model.score_sequences([sequence_of(model, history).tolist()])[0], dtype=np.float32)
    if item_item_weights(model) is None and user is not None:
        return model.score(np.array([user]))[0].copy()
    return fold_in_scores(model, history[:fold_in_limit], popularity)
