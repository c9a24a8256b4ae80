"""TextEASE: EASE whose item-item weights are extended through the items' text, so a cold item has weights too.

``score(u) = x_u W`` with ``W = B + T D`` and the diagonal of W zero:

- B (n, n): EASE's weights on the interactions (:func:`fathom.models.ease.ease_weights`, ridge ``reg``);
- T = Ē M Ē^T (n, n): a bilinear text model, Ē the item text vectors centred on their catalogue mean (n, d) and
  M (d, d) the ridge regression of the interactions on the users' text profiles, in closed form
  (:func:`text_map`): ``M = argmin ||X - X Ē M Ē^T||^2 + lam ||M||^2``, ``lam = text_reg * s1 * s2`` with s1, s2
  the largest eigenvalues of (X Ē)^T (X Ē) and Ē^T Ē (so ``text_reg`` does not depend on the data's scale);
- D = diag(w): ``w_j = text_weight`` for an item with training interactions, ``cold_weight`` for one without (an
  item never interacted with, or added later by ``add_items``), whose column of B is zero: its score comes from
  its text alone.

The model is linear in the history, so ``item_item_weights`` is W itself: fold-in of any history and the
explanations are exact. ``add_items`` appends rows and columns of T computed from the new items' text; the old
weights are unchanged. Memory is O(n_items^2), as EASE.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.ease import ItemItemLinear, ease_weights
from fathom.models.text_base import TextAware


class TextEASEConfig(Config):
    reg: float = Field(200.0, gt=0, description="EASE's L2 weight on the interaction part B")
    text_reg: float = Field(1e-4, gt=0, description="ridge on the text map M, as a share of the largest "
                                                    "eigenvalue product s1 * s2 (scale-free)")
    text_weight: float = Field(1.0, ge=0, description="weight of the text part T in an item's column when the "
                                                      "item has training interactions")
    cold_weight: float = Field(1.0, ge=0, description="weight of T in the column of an item without training "
                                                      "interactions (its only source of score)")
    # defaults: the validation choice on amazon_scientific (benchmarks/results/text-rec/general_tuning.md)


def text_map(x: sp.spmatrix, text: np.ndarray, text_reg: float) -> np.ndarray:
    """M = argmin ||X - X E M E^T||_F^2 + lam ||M||_F^2 in closed form, lam = text_reg * s1 * s2 (module docstring).

    x: (U, n) interactions; text: (n, d) item vectors (already centred). The normal equations
    ``K M L + lam M = K`` (K = A^T A, A = X E, L = E^T E) diagonalise in the eigenbases K = U1 S1 U1^T and
    L = U2 S2 U2^T: ``M = U1 [(S1 U1^T U2) / (s1 s2^T + lam)] U2^T``. Returns (d, d) float32."""
    e = np.asarray(text, dtype=np.float64)  # (n, d)
    a = np.asarray(sp.csr_matrix(x, dtype=np.float64) @ e)  # (U, d) users' summed text
    s1, u1 = np.linalg.eigh(a.T @ a)  # (d,), (d, d)
    s2, u2 = np.linalg.eigh(e.T @ e)
    lam = text_reg * max(float(s1[-1]) * float(s2[-1]), np.finfo(np.float64).tiny)
    inner = (s1[:, None] * (u1.T @ u2)) / (np.outer(s1, s2) + lam)  # (d, d)
    return (u1 @ inner @ u2.T).astype(np.float32)


class TextEASE(TextAware, ItemItemLinear):
    """EASE plus a closed-form text part; cold and added items are scored from their text (module docstring)."""

    name = "textease"
    Config = TextEASEConfig
    config: TextEASEConfig

    def fit(self, train: Interactions, valid: Interactions | None = None, *, item_vectors: Any = None) -> Self:
        self._begin_fit(train)
        self._set_item_text(item_vectors)
        cfg = self.config
        self.history = train.csr()  # (U, n)
        self.text_mean = self.item_text.mean(axis=0)  # (d,) kept: added items are centred on the same mean
        self.text_map = text_map(self.history, self.item_text - self.text_mean, cfg.text_reg)  # (d, d)
        self.warm = (train.item_counts() > 0).astype(np.uint8)  # (n,)
        weights = ease_weights(self.history, cfg.reg)  # (n, n)
        weights += self._text_part(np.arange(self.n_items), np.arange(self.n_items))
        np.fill_diagonal(weights, 0.0)
        self.weights = weights
        self.fitted = True
        return self

    def _column_weights(self, cols: np.ndarray) -> np.ndarray:
        """(C,) the text part's weight in each of the columns ``cols``."""
        return np.where(self.warm[cols] > 0, self.config.text_weight, self.config.cold_weight).astype(np.float32)

    def _text_part(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(R, C) float32 block of T D: Ē_rows M Ē_cols^T, each column scaled by its text weight."""
        centred = self.item_text - self.text_mean  # (n, d)
        block = (centred[rows] @ self.text_map) @ centred[cols].T  # (R, d) @ (d, C)
        return (block * self._column_weights(cols)[None, :]).astype(np.float32)

    def _grow_items(self, m: int) -> None:
        old = self.n_items - m
        self.warm = np.concatenate([self.warm, np.zeros(m, np.uint8)])
        every, new = np.arange(self.n_items), np.arange(old, self.n_items)
        weights = np.zeros((self.n_items, self.n_items), np.float32)
        weights[:old, :old] = self.weights
        weights[:, new] = self._text_part(every, new)  # (n, m) the new columns, cold: their text only
        weights[new, :old] = self._text_part(new, np.arange(old))  # (m, old) the new items as history
        weights[new, new] = 0.0
        self.weights = weights
        self.history = sp.csr_matrix((self.history.data, self.history.indices, self.history.indptr),
                                     shape=(self.history.shape[0], self.n_items))

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_text

    def _state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "item_text": self.item_text, "text_mean": self.text_mean,
                "text_map": self.text_map, "warm": self.warm, **csr_to_state("history", self.history)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights, self.item_text = state["weights"], state["item_text"]
        self.text_mean, self.text_map, self.warm = state["text_mean"], state["text_map"], state["warm"]
        self.history = csr_from_state("history", state)
