"""Items as dense vectors of their knowledge-graph entities, for models that read item side vectors.

An item's one-hop entities (:meth:`KnowledgeGraph.item_entities`) are weighted by inverse document frequency (an
entity shared by few items says more than a genre shared by half the catalogue), each row normalised, and the
(n_items, F) matrix reduced by a truncated SVD to ``dim`` columns (kept whole when F <= dim); rows are unit
length, an item with no kept entity gets a zero row. The same map turns a new item's entities into its vector
(:meth:`KGVectors.transform`), so a model that reads side vectors (``add_items``) scores it before anyone
interacts with it. :func:`combine` joins text and KG vectors into one side vector per item.

Saved as ``kg_vectors.json`` (feature keys, settings) and ``kg_vectors.npz`` (idf, basis), no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from fathom.data.kg import KnowledgeGraph


@dataclass(eq=False)
class KGVectors:
    """The map from an item's entities to its vector: ``features`` (F entity keys), ``idf`` (F,), ``basis``
    (F, dim) float32 (the identity's columns when F <= dim)."""

    features: list[str]
    idf: np.ndarray
    basis: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    @classmethod
    def fit(cls, graph: KnowledgeGraph, item_ids: Sequence[Any], dim: int = 256, min_items: int = 2,
            max_share: float = 0.5, seed: int = 0) -> tuple[KGVectors, np.ndarray]:
        """The map fitted on the catalogue ``item_ids`` (row i = item index i) and the (n_items, dim) vectors."""
        incidence, kept = graph.item_entities(item_ids, min_items=min_items, max_share=max_share)  # (n, F)
        if incidence.shape[1] == 0:
            raise ValueError("knowledge graph: no entity links at least two items; nothing to build vectors from")
        idf, basis = fit_entity_map(incidence, dim, seed)
        out = cls([graph.keys[int(e)] for e in kept], idf, basis)
        return out, project(incidence, idf, basis)

    def transform(self, graph: KnowledgeGraph, item_ids: Sequence[Any]) -> np.ndarray:
        """(m, dim) vectors of items by their entities in ``graph`` (entities unknown to the map are ignored)."""
        col = {k: j for j, k in enumerate(self.features)}
        rows, cols = [], []
        for r, item in enumerate(item_ids):
            if not graph.has_item(item):
                continue
            for e in graph.neighbours(graph.item(item)):
                j = col.get(graph.keys[int(e)])
                if j is not None:
                    rows.append(r), cols.append(j)
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(item_ids), len(self.features)))
        m.data[:] = 1.0
        return project(m, self.idf, self.basis)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "kg_vectors.json").write_text(json.dumps({"format": "fathom-kg-vectors/1",
                                                            "features": self.features}, ensure_ascii=False))
        np.savez(folder / "kg_vectors.npz", idf=self.idf, basis=self.basis)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> KGVectors:
        folder = Path(folder)
        meta = json.loads((folder / "kg_vectors.json").read_text())
        with np.load(folder / "kg_vectors.npz", allow_pickle=False) as arrays:
            return cls(meta["features"], arrays["idf"], arrays["basis"])


def fit_entity_map(incidence: sp.spmatrix, dim: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(idf (F,), basis (F, dim')) for an (n, F) item-entity matrix: inverse document frequencies and the top
    right singular vectors of the idf-weighted, row-normalised matrix (the identity when F <= dim)."""
    incidence = sp.csr_matrix(incidence, dtype=np.float32)
    n, f = incidence.shape
    df = np.asarray((incidence > 0).sum(axis=0)).ravel()
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)  # (F,)
    if f <= dim:
        return idf, np.eye(f, dtype=np.float32)
    from scipy.sparse.linalg import svds

    weighted = _normalise_rows(sp.csr_matrix(incidence @ sp.diags(idf)))
    v0 = np.random.default_rng(seed).normal(size=min(weighted.shape))
    _, _, vt = svds(weighted.astype(np.float64), k=dim, v0=v0)  # vt: (dim, F)
    return idf, np.ascontiguousarray(vt[::-1].T, dtype=np.float32)  # largest singular value first


def project(incidence: sp.spmatrix, idf: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(n, dim) unit rows: the idf-weighted, row-normalised entity rows through ``basis``; empty rows stay zero."""
    m = sp.csr_matrix(incidence, dtype=np.float32, copy=True)
    m.data[:] = 1.0
    v = np.asarray(_normalise_rows(sp.csr_matrix(m @ sp.diags(idf))) @ basis, dtype=np.float32)  # (n, dim)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def combine(parts: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """One side vector per item from several (n, d_k) blocks (e.g. text and KG): each block's rows made unit
    length, scaled by the square root of its weight (its share of the dot product), concatenated, and the result
    made unit length again; an item empty in every block keeps a zero row."""
    if not parts:
        raise ValueError("combine: no vectors given")
    n = len(parts[0])
    if any(len(p) != n for p in parts):
        raise ValueError(f"combine: every block needs one row per item, got {[len(p) for p in parts]}")
    weights = [1.0] * len(parts) if weights is None else list(weights)
    blocks = []
    for p, w in zip(parts, weights, strict=True):
        p = np.asarray(p, dtype=np.float32)
        norms = np.linalg.norm(p, axis=1, keepdims=True)
        blocks.append(np.sqrt(w) * np.divide(p, norms, out=np.zeros_like(p), where=norms > 0))
    out = np.concatenate(blocks, axis=1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def _normalise_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ m, dtype=np.float32)
