"""Hybrid retrieval: BM25 and dense candidates merged, scored by every signal, fused, cut to k.

:func:`hybrid_search` is the one ranking core shared by the BEIR evaluation and :class:`SearchIndex`:

1. candidates: the top ``candidates`` rows by BM25 (score > 0) and the top ``candidates`` by dense similarity
   (vector index, possibly approximate), both restricted to ``mask``;
2. every candidate gets every signal's exact score (BM25 from the full score vector, dense as an exact inner
   product with the stored vector, extra signals from their (N,) arrays);
3. the signals are fused (:mod:`fathom.retrieval.fusion`), and the best ``k`` are returned as :class:`Hit`
   objects that keep each signal's raw score, so a caller can see why a document ranks where it does.

Extra signals come in two kinds: ``extra`` arrays score every row (N,) and also contribute their own top rows as
candidates; ``rescore`` functions (:data:`CandidateSignal`) score only the candidates the other signals found,
e.g. a user's affinity from a recommender, which should reorder matches rather than add non-matching items.

With a single weighted signal the fused score is that signal's raw score. A reranking stage (e.g. a
cross-encoder) plugs in after this as a :class:`Reranker` over the top hits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fathom.config import Config
from fathom.metrics.topk import top_k
from fathom.retrieval.fusion import FusionMethod, fuse
from fathom.retrieval.vector_index import VectorIndex

# (M,) candidate rows -> (M,) float scores of those rows
CandidateSignal = Callable[[np.ndarray], np.ndarray]


class HybridConfig(Config):
    """Fusion rule, per-signal weights and candidate depth (per signal)."""

    fusion: FusionMethod = "convex"
    weights: dict[str, float] = {"bm25": 0.5, "dense": 0.5}
    rrf_k: int = 60
    candidates: int = 100


@dataclass
class Hit:
    """One result: its row, fused score and the raw score of each signal (``scores["fused"]`` too)."""

    row: int
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    doc_id: str | None = None
    document: dict | None = None


class Reranker(Protocol):
    """A later stage that reorders the top hits of a query (e.g. a cross-encoder)."""

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]: ...


def _bm25_candidates(scores: np.ndarray, n: int, mask: np.ndarray | None) -> np.ndarray:
    ok = scores > 0
    if mask is not None:
        ok &= mask
    rows = np.flatnonzero(ok)
    if len(rows) > n:
        part = np.argpartition(-scores[rows], n - 1)[:n]
        rows = rows[part]
    return rows


def hybrid_search(
    k: int,
    config: HybridConfig,
    bm25_scores: np.ndarray | None = None,
    query_vector: np.ndarray | None = None,
    vector_index: VectorIndex | None = None,
    mask: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
    weights: Mapping[str, float] | None = None,
    rescore: Mapping[str, CandidateSignal] | None = None,
) -> list[Hit]:
    """Top-``k`` hits by fused score. ``bm25_scores``: (N,); ``query_vector``: (d,) with ``vector_index``;
    ``mask``: (N,) bool of allowed rows; ``extra``: more (N,) signals; ``rescore``: signals computed on the
    candidates only (they add none); ``weights`` overrides ``config.weights`` for this request. Signals without
    a weight, or without data, are left out."""
    weights = dict(config.weights if weights is None else weights)
    rescore = dict(rescore or {})
    available = {"bm25": bm25_scores is not None, "dense": query_vector is not None and vector_index is not None}
    available.update({name: True for name in extra or {}})
    available.update({name: True for name in rescore})
    active = {s: w for s, w in weights.items() if w > 0 and available.get(s, False)}
    if not active:
        raise ValueError(f"no signal with a positive weight among those available: {sorted(available)}")

    parts: list[np.ndarray] = []
    if "bm25" in active:
        parts.append(_bm25_candidates(bm25_scores, config.candidates, mask))
    if "dense" in active:
        parts.append(vector_index.search(query_vector, config.candidates, mask)[0])
    for name in active:
        if name not in ("bm25", "dense") and name not in rescore:
            s = np.where(mask, extra[name], -np.inf) if mask is not None else np.asarray(extra[name], np.float64)
            best = top_k(s, config.candidates)[0]
            parts.append(best[best >= 0])
    rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)  # (M,)
    if len(rows) == 0:
        return []

    signals: dict[str, np.ndarray] = {}
    if bm25_scores is not None:
        signals["bm25"] = np.asarray(bm25_scores[rows], dtype=np.float64)
    if available["dense"]:
        signals["dense"] = np.asarray(vector_index.score_rows(query_vector, rows), dtype=np.float64)
    for name, arr in (extra or {}).items():
        signals[name] = np.asarray(arr[rows], dtype=np.float64)
    for name, fn in rescore.items():
        signals[name] = np.asarray(fn(rows), dtype=np.float64)
    return fuse_candidates(rows, signals, active, config, k)


def fuse_candidates(
    rows: np.ndarray, signals: Mapping[str, np.ndarray], active: Mapping[str, float], config: HybridConfig, k: int
) -> list[Hit]:
    """Fuse the ``active`` (name -> positive weight) signals over candidate ``rows`` (M,), each signal (M,), and
    return the best ``k`` hits (ties by lower row) carrying every signal's score."""
    if len(active) == 1:
        fused = signals[next(iter(active))]
    else:
        fused = fuse({s: signals[s] for s in active}, active, config.fusion, config.rrf_k)
    order = np.lexsort((rows, -fused))[:k]
    return [
        Hit(
            row=int(rows[i]),
            score=float(fused[i]),
            scores={**{name: float(v[i]) for name, v in signals.items()}, "fused": float(fused[i])},
        )
        for i in order
    ]


def apply_reranker(query: str, hits: Sequence[Hit], reranker: Reranker | None, depth: int) -> list[Hit]:
    """Rerank the first ``depth`` hits with ``reranker`` (if any); the rest keep their order after them."""
    hits = list(hits)
    if reranker is None or depth <= 0:
        return hits
    return list(reranker.rerank(query, hits[:depth])) + hits[depth:]
