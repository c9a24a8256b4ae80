"""What every text-aware recommender shares: the item text vectors it reads, checked, saved and grown.

A text-aware model (``reads_item_text = True``) is fitted with ``item_vectors``: the (n_items, d) float32 text
vectors of the catalogue (:func:`fathom.text.item_text.encode_items`), row i = item index i, covering items with
no training interaction too (cold items). :class:`TextAware` keeps them as ``self.item_text``, saves them with
the weights (``item_text``) and implements ``add_items``: new rows are appended and ``n_items`` grows, so an item
added to the catalogue after training is scored from its text at once. A model whose item representation has
more than the text (an ID embedding) implements ``_grow_items(m)`` to extend its own arrays.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


def check_item_vectors(item_vectors: Any, n_items: int, dim: int | None = None) -> np.ndarray:
    """``item_vectors`` as a C-contiguous float32 (n_items, d) matrix; ValueError naming what is wrong."""
    if item_vectors is None:
        raise ValueError("item_vectors: this model reads item text; pass the catalogue's (n_items, d) text "
                         "vectors (fathom.text.item_text.encode_items)")
    v = np.ascontiguousarray(item_vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape[0] != n_items:
        raise ValueError(f"item_vectors has shape {v.shape}, expected ({n_items}, d): one row per item index")
    if dim is not None and v.shape[1] != dim:
        raise ValueError(f"item_vectors has {v.shape[1]} columns, the model reads {dim}-d text vectors")
    if not np.isfinite(v).all():
        bad = int(np.flatnonzero(~np.isfinite(v).all(axis=1))[0])
        raise ValueError(f"item_vectors row {bad} is not finite")
    return v


class TextAware:
    """Mixin for :class:`~fathom.models.base.Recommender` subclasses that read item text vectors."""

    reads_item_text: ClassVar[bool] = True
    item_text: np.ndarray  # (n_items, d) float32
    n_items: int

    def _set_item_text(self, item_vectors: Any) -> None:
        self.item_text = check_item_vectors(item_vectors, self.n_items)

    def add_items(self, item_vectors: np.ndarray | None = None, *, item_entities: Any = None) -> np.ndarray:
        """Append items known only by their (m, d) text vectors; returns their new item indices."""
        self._check_fitted()  # type: ignore[attr-defined]
        if item_vectors is None:
            raise ValueError("item_vectors: this model scores new items from their text; pass their (m, d) text "
                             "vectors" + (" (it does not read knowledge-graph entities)" if item_entities is not None
                                          else ""))
        new = check_item_vectors(item_vectors, len(item_vectors), self.item_text.shape[1])
        first = self.n_items
        self.item_text = np.concatenate([self.item_text, new])
        self.n_items += len(new)
        self._grow_items(len(new))
        return np.arange(first, self.n_items, dtype=np.int64)

    def _grow_items(self, m: int) -> None:
        """Extend the model's own per-item arrays by ``m`` rows (nothing when items are read from text only)."""
