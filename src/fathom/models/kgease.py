"""KG-EASE: EASE with the catalogue's knowledge graph as side information (TextEASE's closed form over KG vectors).

``fit(train, valid, item_entities=M)`` turns the (n_items, F) item-entity matrix into one dense vector per item
(:func:`fathom.data.kg_vectors.fit_entity_map`: idf-weighted entity rows, reduced by a truncated SVD to ``dim``
columns) and fits :class:`~fathom.models.textease.TextEASE` on them: ``W = B + T D`` with B EASE's weights and
T a bilinear model of the interactions on those vectors, so items that share specific entities (a director, a
brand) lend each other weight, and an item with entities but no interactions is scored through them. The model
stays linear in the history (exact fold-in, exact explanations). With ``item_vectors`` as well (text vectors),
both sides are joined (:func:`fathom.data.kg_vectors.combine`, ``text_share`` of the dot product for the text):
the knowledge graph and the item text together. ``add_items(item_entities=rows)`` (with ``item_vectors`` when
the model was fitted with text) places new items through the same map; the old weights do not move.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from pydantic import Field

from fathom.data.interactions import Interactions
from fathom.data.kg_vectors import combine, fit_entity_map, project
from fathom.models.kg_base import check_item_entities
from fathom.models.text_base import check_item_vectors
from fathom.models.textease import TextEASE, TextEASEConfig


class KGEASEConfig(TextEASEConfig):
    dim: int = Field(256, ge=1, description="columns of the KG item vectors (truncated SVD of the entity rows)")
    text_share: float = Field(0.5, ge=0, le=1, description="share of the text vectors in the joined side vector "
                                                           "when item_vectors are given too")


class KGEASE(TextEASE):
    """TextEASE over knowledge-graph item vectors, optionally joined with text vectors (module docstring)."""

    name = "kgease"
    Config = KGEASEConfig
    config: KGEASEConfig
    reads_item_text = False
    reads_item_graph = True

    def fit(self, train: Interactions, valid: Interactions | None = None, *, item_entities: Any = None,
            item_vectors: Any = None) -> Self:
        self._begin_fit(train)
        entities = check_item_entities(item_entities, self.n_items)
        self.entity_idf, self.entity_basis = fit_entity_map(entities, self.config.dim, seed=0)
        text = None if item_vectors is None else check_item_vectors(item_vectors, self.n_items)
        self.text_dim = 0 if text is None else text.shape[1]
        self.n_entities = entities.shape[1]
        return super().fit(train, valid, item_vectors=self._side(entities, text))

    def _side(self, entities: Any, text: np.ndarray | None) -> np.ndarray:
        kg = project(entities, self.entity_idf, self.entity_basis)  # (n, dim)
        if text is None:
            return kg
        share = self.config.text_share
        return combine([text, kg], weights=[share, 1.0 - share])

    def add_items(self, item_vectors: np.ndarray | None = None, *, item_entities: Any = None) -> np.ndarray:
        """Append items known by their (m, F) entity rows (and their (m, d) text vectors when the model was
        fitted with text); returns their new item indices."""
        self._check_fitted()
        if item_entities is None:
            raise ValueError("item_entities: this model places new items through their knowledge-graph entities; "
                             "pass their (m, F) entity rows")
        rows = check_item_entities(item_entities, np.shape(item_entities)[0], self.n_entities)
        text = None
        if self.text_dim:
            text = check_item_vectors(item_vectors, rows.shape[0], self.text_dim) if item_vectors is not None \
                else None
            if text is None:
                raise ValueError(f"item_vectors: this model was fitted with {self.text_dim}-d text vectors too; "
                                 "pass the new items' text vectors")
        return super().add_items(self._side(rows, text))

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), "entity_idf": self.entity_idf, "entity_basis": self.entity_basis,
                "text_dim": np.asarray([self.text_dim], np.int64)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        super()._load_state(state)
        self.entity_idf, self.entity_basis = state["entity_idf"], state["entity_basis"]
        self.text_dim = int(state["text_dim"][0])
        self.n_entities = int(self.entity_basis.shape[0])
