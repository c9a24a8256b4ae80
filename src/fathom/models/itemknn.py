"""Item-based k-nearest-neighbours with cosine similarity and shrinkage."""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.metrics.topk import top_k
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.base import Recommender


class ItemKNNConfig(Config):
    neighbours: int = Field(100, ge=1, description="similarities kept per item")
    shrink: float = Field(0.0, ge=0.0, description="added to the cosine denominator to damp rare pairs")


def cosine_item_similarity(x: sp.csr_matrix, shrink: float) -> np.ndarray:
    """(n_items, n_items) dense cosine similarity of the columns of ``x``, diagonal zeroed.

    sim[i, j] = <x_i, x_j> / (|x_i| |x_j| + shrink)
    """
    x = sp.csc_matrix(x, dtype=np.float32)
    co = (x.T @ x).toarray()  # (I, I)
    norms = np.sqrt(np.diag(co)).astype(np.float32)
    sim = co / (np.outer(norms, norms) + shrink + 1e-12)
    np.fill_diagonal(sim, 0.0)
    return sim.astype(np.float32)


def keep_top_neighbours(sim: np.ndarray, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each column (each target item's neighbours) as a sparse matrix."""
    n = sim.shape[0]
    k = min(k, n)
    rows = np.argpartition(-sim, k - 1, axis=0)[:k]  # (k, I): neighbour ids per column
    cols = np.broadcast_to(np.arange(n), rows.shape)
    vals = sim[rows, cols]
    m = sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(n, n), dtype=np.float32)
    m.eliminate_zeros()
    return m


class ItemKNN(Recommender):
    """score(u, j) = sum over the user's items i of sim(i, j), neighbours limited to the top ``neighbours`` per j."""

    name = "itemknn"
    Config = ItemKNNConfig

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        self._begin_fit(train)
        self.history = train.csr()
        self.sim = keep_top_neighbours(cosine_item_similarity(self.history, self.config.shrink), self.config.neighbours)
        self.fitted = True
        return self

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.history[users] @ self.sim).toarray()

    def item_item_weights(self) -> sp.spmatrix:
        return self.sim

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = self._check_ids(items, self.n_items, "item")
        scores = self.sim.T[items].toarray()  # neighbours of each query item
        scores[scores == 0] = -np.inf
        scores[np.arange(len(items)), items] = -np.inf
        return top_k(scores, k)

    def _state(self) -> dict[str, np.ndarray]:
        return {**csr_to_state("history", self.history), **csr_to_state("sim", self.sim)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.history = csr_from_state("history", state)
        self.sim = csr_from_state("sim", state)
