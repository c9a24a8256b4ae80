"""EASE: a closed-form linear item-item autoencoder (Steck, WWW 2019)."""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.linalg.blas
import scipy.linalg.lapack
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.metrics.topk import top_k
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.base import Recommender


class EASEConfig(Config):
    reg: float = Field(250.0, gt=0.0, description="L2 weight lambda added to the Gram matrix diagonal")
    keep: int | None = Field(
        500, ge=1, description="weights kept per item (the largest in magnitude; the rest set to 0, stored sparse); "
        "None: all (dense, 4 bytes per pair of items). 500 measured within .0004 NDCG@10 of dense on MovieLens-1M "
        "and amazon_scientific at 13-32% of the size (benchmarks/results/ease_size.md)")


def ease_weights(x: sp.csr_matrix, reg: float) -> np.ndarray:
    """B = argmin ||X - XB||^2 + reg ||B||^2 subject to diag(B) = 0, in closed form.

    G = X^T X + reg I; P = G^-1; B = -P / diag(P) (column-wise); diag(B) = 0. Returns (I, I) float32.
    """
    g = gram_upper(x)  # (I, I), symmetric positive definite once reg > 0; upper triangle filled
    g[np.diag_indices_from(g)] += reg
    # inverse through a Cholesky factorisation (single precision is ample with reg > 0 and is 2-3x faster)
    factor, info = scipy.linalg.lapack.spotrf(g, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix is not positive definite (LAPACK info {info})")
    p, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inverse failed (LAPACK info {info})")
    b = np.triu(p)  # spotri fills the upper triangle only
    b += b.T  # the full symmetric P, with its diagonal doubled
    diag = b.diagonal() / 2.0  # (I,) diag(P)
    b /= -diag[None, :]
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32, copy=False)


def keep_largest(w: np.ndarray, keep: int, block_rows: int = 1024) -> sp.csr_matrix:
    """(I, I) dense -> CSR holding each row's ``keep`` largest entries by magnitude (rows in blocks, so the
    temporary index array stays small). ``keep >= I`` keeps every entry."""
    n_rows, n_cols = w.shape
    keep = min(keep, n_cols)
    indices = np.empty((n_rows, keep), np.int32)
    data = np.empty((n_rows, keep), np.float32)
    for start in range(0, n_rows, block_rows):
        block = w[start : start + block_rows]  # (b, I)
        idx = np.argpartition(-np.abs(block), keep - 1, axis=1)[:, :keep] if keep < n_cols else \
            np.broadcast_to(np.arange(n_cols), block.shape)
        idx = np.sort(idx, axis=1)
        indices[start : start + len(block)] = idx
        data[start : start + len(block)] = np.take_along_axis(block, idx, axis=1)
    indptr = np.arange(0, n_rows * keep + 1, keep, dtype=np.int64)
    out = sp.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(n_rows, n_cols))
    out.eliminate_zeros()
    return out


def gram_upper(x: sp.spmatrix, block_values: int = 1 << 24) -> np.ndarray:
    """The upper triangle of X^T X as a dense (I, I) float32 array (the strict lower triangle is zero).

    Dense blocks of users (about ``block_values`` values each) go through BLAS ``ssyrk``, which computes one
    triangle only: about twice as fast as a sparse product whose result is nearly dense, in bounded memory.
    """
    x = sp.csr_matrix(x, dtype=np.float32)
    n_items = x.shape[1]
    rows = max(1, block_values // max(n_items, 1))
    g = np.zeros((n_items, n_items), np.float32, order="F")
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows].toarray()  # (rows, I)
        g = scipy.linalg.blas.ssyrk(1.0, block.T, beta=1.0, c=g, trans=0, lower=0, overwrite_c=1)  # += B^T B
    return g


class ItemItemLinear(Recommender):
    """Models that score ``x_u W`` with a dense item-item matrix W (I, I) learnt from the training matrix X.

    Subclasses set ``self.history`` (X, CSR) and ``self.weights`` (W, dense or CSR) in ``fit``; scoring,
    similar items (symmetrised W) and the saved state are shared.
    """

    weights: np.ndarray | sp.csr_matrix

    def _score(self, users: np.ndarray) -> np.ndarray:
        out = self.history[users] @ self.weights  # (B, I)
        return out.toarray() if sp.issparse(out) else np.asarray(out)

    def item_item_weights(self) -> np.ndarray | sp.csr_matrix:
        return self.weights

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = self._check_ids(items, self.n_items, "item")
        scores = self.weights[items] + self.weights[:, items].T  # symmetrised item-item weights (B, I)
        scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
        scores[np.arange(len(items)), items] = -np.inf
        return top_k(scores, k)

    def _state(self) -> dict[str, np.ndarray]:
        weights = csr_to_state("weights", self.weights) if sp.issparse(self.weights) else {"weights": self.weights}
        return {**weights, **csr_to_state("history", self.history)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights = csr_from_state("weights", state) if "weights.data" in state else state["weights"]
        self.history = csr_from_state("history", state)


class EASE(ItemItemLinear):
    """score(u, :) = x_u B. Fitting needs O(n_items^2) memory: suited to catalogues up to a few tens of thousands;
    the fitted model keeps the ``keep`` largest weights of each item (sparse), so its size grows linearly."""

    name = "ease"
    Config = EASEConfig

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        self._begin_fit(train)
        self.history = train.csr()
        weights = ease_weights(self.history, self.config.reg)
        keep = self.config.keep
        self.weights = weights if keep is None or keep >= self.n_items else keep_largest(weights, keep)
        self.fitted = True
        return self
