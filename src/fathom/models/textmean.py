"""TextMean: the zero-training text baseline. A user is the mean of their history's item text vectors.

``score(u) = cos(mean_{i in history(u)} w_i t_i, t_j)`` for every item j, with ``t`` the items' unit text vectors
and ``w`` recency weights (``half_life``: the item ``r`` places before the latest counts ``2 ** (-r / half_life)``;
None: all equal). Nothing is learnt from behaviour: the baseline that shows what training adds, and a model that
ranks cold items (never interacted with) exactly like warm ones. Explanations: the history item whose text is
closest to the recommended item's.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from pydantic import Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.sequence import Sequences
from fathom.models.text_base import TextAware


class TextMeanConfig(Config):
    half_life: float | None = Field(None, gt=0, description="recency half-life in items; None: every item equal")


def _weights(n: int, half_life: float | None) -> np.ndarray:
    """(n,) float32 weights of a most-recent-first history."""
    if half_life is None:
        return np.ones(n, np.float32)
    return np.exp2(-np.arange(n) / half_life).astype(np.float32)


class TextMean(TextAware, Recommender):
    """Users as the (recency-weighted) mean of their history's text vectors; no training."""

    name = "textmean"
    Config = TextMeanConfig
    config: TextMeanConfig

    def fit(self, train: Interactions, valid: Interactions | None = None, *, item_vectors: Any = None) -> Self:
        self._begin_fit(train)
        self._set_item_text(item_vectors)
        seqs = Sequences.from_interactions(train)  # each user's items, oldest first
        self.user_vectors = np.zeros((self.n_users, self.item_text.shape[1]), np.float32)  # (U, d)
        for u in np.flatnonzero(seqs.lengths() > 0):
            self.user_vectors[u] = self._profile(seqs[u][::-1].astype(np.int64))  # most recent first
        self.fitted = True
        return self

    def _profile(self, history: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(d,) unit profile of a most-recent-first history (each item once, at its latest place)."""
        history, first = np.unique(history, return_index=True)
        w = _weights(int(first.max()) + 1, self.config.half_life)[first] if weights is None else weights[first]
        profile = w @ self.item_text[history]  # (d,)
        norm = float(np.linalg.norm(profile))
        return profile / norm if norm > 0 else profile

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors[users] @ self.item_text.T  # (B, n)

    def score_history(self, history: np.ndarray, user: int | None = None,
                      popularity: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """The profile of ``history`` (its own recency weights unless ``weights`` are given); an empty history
        gives ``popularity``."""
        self._check_fitted()
        history = self._check_ids(np.asarray(history, dtype=np.int64), self.n_items, "history item")
        if len(history) == 0:
            return np.zeros(self.n_items, np.float32) if popularity is None else np.asarray(popularity, np.float32)
        w = None if weights is None else np.asarray(weights, dtype=np.float32)
        return (self.item_text @ self._profile(history, w)).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_text

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_text": self.item_text, "user_vectors": self.user_vectors}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_text, self.user_vectors = state["item_text"], state["user_vectors"]
