"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

from typing import Self

import numpy as np

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.metrics.topk import top_k
from fathom.models.base import Recommender


class PopularityConfig(Config):
    """Popularity has nothing to tune."""


class Popularity(Recommender):
    """Scores each item by its number of training interactions (the same for every user).

    ``similar_items`` returns the most popular other items: popularity knows nothing else about an item.
    """

    name = "pop"
    Config = PopularityConfig

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        self._begin_fit(train)
        self.counts = train.item_counts().astype(np.float32)
        self.fitted = True
        return self

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), self.n_items)).copy()

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = self._check_ids(items, self.n_items, "item")
        scores = np.broadcast_to(self.counts, (len(items), self.n_items)).copy()
        scores[np.arange(len(items)), items] = -np.inf
        return top_k(scores, k)

    def _state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.counts = state["counts"]
