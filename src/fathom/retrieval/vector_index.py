"""Vector indexes for unit-norm embeddings (inner product = cosine), behind one interface.

- :class:`ExactIndex`: brute force, one numpy matmul; exact, and fast enough up to ~10^5 vectors.
- :class:`HNSWIndex`: faiss ``IndexHNSWFlat`` (inner product), approximate, for larger collections.

Rows are numbered in order of addition. ``search`` takes an optional (N,) bool ``mask`` of allowed rows
(filters, deleted documents); HNSW applies it inside the graph walk (faiss ``IDSelectorBitmap``), and a mask
that leaves few rows falls back to exact search over them. Both keep the raw vectors, so the dense score of
any row (e.g. a BM25-only candidate in hybrid search) is exact: :meth:`VectorIndex.score_rows`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

import numpy as np

from fathom.metrics.topk import top_k

VectorIndexKind = Literal["auto", "exact", "hnsw"]


class VectorIndex(ABC):
    """Unit-norm vectors (N, d), searchable by inner product."""

    kind: str

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vectors = np.zeros((0, dim), dtype=np.float32)  # (N, d)

    def __len__(self) -> int:
        return len(self.vectors)

    def add(self, vectors: np.ndarray) -> None:
        """Append (n, d) vectors as rows N .. N + n - 1."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self.vectors = np.concatenate([self.vectors, vectors])
        self._added(vectors)

    def _added(self, vectors: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Hook for implementations that keep their own structure."""

    def score_rows(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner products of (d,) ``query`` with the given rows -> (len(rows),) float32."""
        return self.vectors[np.asarray(rows, dtype=np.int64)] @ np.asarray(query, dtype=np.float32)

    def exact_search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores = self.vectors @ np.asarray(query, dtype=np.float32)  # (N,)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
            k = min(k, int(mask.sum()))
        rows = top_k(scores, k)[0] if k > 0 else np.zeros(0, np.int64)
        rows = rows[rows >= 0]
        return rows, scores[rows]

    @abstractmethod
    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows for (d,) ``query`` -> (rows (k',) int64, scores (k',) float32), best first."""

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "vectors.npy", self.vectors, allow_pickle=False)
        (folder / "vector_index.json").write_text(json.dumps({"kind": self.kind, "dim": self.dim}))

    @staticmethod
    def load(folder: str | Path) -> VectorIndex:
        folder = Path(folder)
        meta = json.loads((folder / "vector_index.json").read_text())
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        if meta["kind"] == "hnsw" and (folder / "hnsw.faiss").exists():
            import faiss

            hnsw = HNSWIndex(meta["dim"])
            hnsw._index = faiss.read_index(str(folder / "hnsw.faiss"))
            hnsw.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            return hnsw
        index = ExactIndex(meta["dim"]) if meta["kind"] == "exact" else HNSWIndex(meta["dim"])
        index.add(vectors)
        return index


class ExactIndex(VectorIndex):
    """Brute-force inner product."""

    kind = "exact"

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.exact_search(query, k, mask)


class HNSWIndex(VectorIndex):
    """faiss HNSW graph (``m`` links per node), inner product."""

    kind = "hnsw"

    def __init__(self, dim: int, m: int = 32, ef_construction: int = 200, ef_search: int = 128) -> None:
        import faiss

        super().__init__(dim)
        self.ef_search = ef_search
        self._index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = ef_construction

    def _added(self, vectors: np.ndarray) -> None:
        self._index.add(vectors)

    def save(self, folder: str | Path) -> None:
        import faiss

        super().save(folder)
        faiss.write_index(self._index, str(Path(folder) / "hnsw.faiss"))  # faiss's own binary format

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.asarray(query, dtype=np.float32).reshape(1, self.dim)
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        if mask is not None:
            allowed = int(mask.sum())
            if allowed <= max(20 * k, 2000):
                return self.exact_search(query, k, mask)
            bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
            params = faiss.SearchParametersHNSW(
                sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), efSearch=max(self.ef_search, k)
            )
        scores, rows = self._index.search(q, k, params=params)  # (1, k) each
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]


def build_vector_index(
    vectors: np.ndarray, kind: VectorIndexKind = "auto", exact_max: int = 50_000
) -> VectorIndex:
    """A vector index over (N, d) ``vectors``: ``auto`` is exact up to ``exact_max`` rows, HNSW beyond."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if kind == "auto":
        kind = "exact" if len(vectors) <= exact_max else "hnsw"
    index: VectorIndex = ExactIndex(vectors.shape[1]) if kind == "exact" else HNSWIndex(vectors.shape[1])
    index.add(vectors)
    return index


def ann_recall_at_k(ann: VectorIndex, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-``k`` (brute force over ``ann.vectors``) that ``ann.search`` returns, over
    (B, d) ``queries``."""
    hits = []
    for q in np.asarray(queries, dtype=np.float32):
        exact_rows, _ = ann.exact_search(q, k)
        rows, _ = ann.search(q, k)
        hits.append(len(set(rows.tolist()) & set(exact_rows.tolist())) / max(len(exact_rows), 1))
    return float(np.mean(hits)) if hits else 0.0
