"""What every knowledge-graph-aware recommender shares: the item-entity matrix it reads, checked and grown.

A KG-aware model (``reads_item_graph = True``) is fitted with ``item_entities``: the (n_items, F) item-entity
matrix of the catalogue's knowledge graph (:meth:`fathom.data.kg.KnowledgeGraph.item_entities`, row i = item
index i, any non-zero is a link), covering items without training interactions too (cold items), which the
model then places through their entities. ``add_items(item_entities=rows)`` appends items known only by their
(m, F) entity rows (the same F columns), so an item added after training is scored at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp


def check_item_entities(item_entities: Any, n_items: int, n_features: int | None = None) -> sp.csr_matrix:
    """``item_entities`` as a 0/1 float32 CSR (n_items, F); ValueError naming what is wrong."""
    if item_entities is None:
        raise ValueError("item_entities: this model reads the knowledge graph; pass the catalogue's (n_items, F) "
                         "item-entity matrix (fathom.data.kg.KnowledgeGraph.item_entities)")
    m = sp.csr_matrix(item_entities, dtype=np.float32)
    if m.shape[0] != n_items:
        raise ValueError(f"item_entities has {m.shape[0]} rows, expected {n_items}: one row per item index")
    if n_features is not None and m.shape[1] != n_features:
        raise ValueError(f"item_entities has {m.shape[1]} columns, the model was trained on {n_features} entities")
    m.eliminate_zeros()
    m.data[:] = 1.0
    return m


class KGAware:
    """Mixin for :class:`~fathom.models.base.Recommender` subclasses that read an item-entity matrix."""

    reads_item_graph: ClassVar[bool] = True
    item_entities: sp.csr_matrix  # (n_items, F)
    n_items: int

    def _set_item_entities(self, item_entities: Any) -> None:
        self.item_entities = check_item_entities(item_entities, self.n_items)

    def add_items(self, item_vectors: np.ndarray | None = None, *, item_entities: Any = None) -> np.ndarray:
        """Append items known only by their (m, F) entity rows; returns their new item indices."""
        self._check_fitted()  # type: ignore[attr-defined]
        if item_entities is None:
            raise ValueError("item_entities: this model places new items through their knowledge-graph entities; "
                             "pass their (m, F) entity rows")
        rows = sp.csr_matrix(item_entities)
        new = check_item_entities(rows, rows.shape[0], self.item_entities.shape[1])
        first = self.n_items
        self.item_entities = sp.vstack([self.item_entities, new], format="csr")
        self.n_items += new.shape[0]
        self._grow_items(new)
        return np.arange(first, self.n_items, dtype=np.int64)

    def _grow_items(self, new: sp.csr_matrix) -> None:
        raise NotImplementedError
