"""EASE: a closed-form linear item-item autoencoder (Steck, WWW 2019)."""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.base import Recommender, topk_rows


class EASEConfig(Config):
    reg: float = Field(250.0, gt=0.0, description="L2 weight lambda added to the Gram matrix diagonal")


def ease_weights(x: sp.csr_matrix, reg: float) -> np.ndarray:
    """B = argmin ||X - XB||^2 + reg ||B||^2 subject to diag(B) = 0, in closed form.

    G = X^T X + reg I; P = G^-1; B = -P / diag(P) (column-wise); diag(B) = 0. Returns (I, I) float32.
    """
    x = sp.csc_matrix(x, dtype=np.float32)
    g = (x.T @ x).toarray()  # (I, I), symmetric positive definite once reg > 0
    g[np.diag_indices_from(g)] += reg
    # inverse through a Cholesky factorisation (single precision is ample with reg > 0 and is 2-3x faster)
    factor, info = scipy.linalg.lapack.spotrf(g, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix is not positive definite (LAPACK info {info})")
    p, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inverse failed (LAPACK info {info})")
    p = np.triu(p) + np.triu(p, 1).T  # spotri fills the upper triangle only
    b = p / (-np.diag(p))[None, :]
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


class ItemItemLinear(Recommender):
    """Models that score ``x_u W`` with a dense item-item matrix W (I, I) learnt from the training matrix X.

    Subclasses set ``self.history`` (X, CSR) and ``self.weights`` (W) in ``fit``; scoring, similar items
    (symmetrised W) and the saved state are shared.
    """

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.history[users] @ self.weights)

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = self._check_ids(items, self.n_items, "item")
        scores = self.weights[items] + self.weights[:, items].T  # symmetrised item-item weights (B, I)
        scores[np.arange(len(items)), items] = -np.inf
        return topk_rows(scores, k)

    def _state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, **csr_to_state("history", self.history)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights = state["weights"]
        self.history = csr_from_state("history", state)


class EASE(ItemItemLinear):
    """score(u, :) = x_u B. Memory is O(n_items^2): suited to catalogues up to a few tens of thousands."""

    name = "ease"
    Config = EASEConfig

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        self._begin_fit(train)
        self.history = train.csr()
        self.weights = ease_weights(self.history, self.config.reg)
        self.fitted = True
        return self
