"""Fusion weights chosen on validation queries instead of a fixed 0.5 / 0.5.

A convex fusion of two signals (BM25 and dense by default) has one free number: the second signal's weight ``w``
(the first gets ``1 - w``). :func:`choose_fusion_weights` tries ``w`` on a grid (0, 0.1, ..., 1 by default) and
keeps the one with the best mean nDCG@k on validation queries with judgements. It needs, per query, the candidate
documents and every signal's raw score on them (:class:`QueryCandidates`), gathered once: ranking the same
candidates under each weight is then a few microseconds per query.

The candidates are those :func:`fathom.retrieval.hybrid.hybrid_search` fuses: the union of each signal's top
``HybridConfig.candidates`` documents. Ranking that union reproduces search at every grid point, the end points
included: at ``w = 0`` the union ordered by the first signal starts with that signal's own top list (up to documents
tied at the candidate depth, which one signal's list may keep and the union another).

Where to get the candidates:

- from a :class:`~fathom.retrieval.search_index.SearchIndex`: :func:`index_candidates`, or in one call
  :func:`tune_index_weights`, whose choice gives the index's config (``choice.hybrid_config(...)``) or a
  per-request ``weights=``;
- from BM25 score vectors and a vector index (as the benchmarks hold them): :func:`search_candidates`.

Ties between grid points (equal validation nDCG) go to the weight nearest the even split, then the lower one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import field_validator

from fathom.config import Config
from fathom.metrics.queries import query_ndcg
from fathom.retrieval.fusion import fuse
from fathom.retrieval.hybrid import Hit, HybridConfig, hybrid_search
from fathom.retrieval.vector_index import VectorIndex

if TYPE_CHECKING:  # pragma: no cover - typing only
    from fathom.retrieval.search_index import SearchIndex


class FusionTuningConfig(Config):
    """The two signals fused, the grid of the second one's weight, and the nDCG cut-off."""

    signals: tuple[str, str] = ("bm25", "dense")
    grid: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))  # weight of signals[1]
    k: int = 10

    @field_validator("grid")
    @classmethod
    def _in_unit_interval(cls, grid: tuple[float, ...]) -> tuple[float, ...]:
        if not grid or any(not 0.0 <= w <= 1.0 for w in grid):
            raise ValueError(f"grid weights must lie in [0, 1], got {grid}")
        return grid


@dataclass
class QueryCandidates:
    """One query's candidates: document ids (M,), each signal's raw score on them (name -> (M,)) and, when known,
    their index rows (M,), which break ties as search does (lower row first)."""

    doc_ids: list[str]
    signals: dict[str, np.ndarray]
    rows: np.ndarray | None = None

    def ranking(self, weights: Mapping[str, float], hybrid: HybridConfig | None = None) -> list[str]:
        """Document ids by fused score (``hybrid``'s fusion rule), best first; ties keep candidate order. Signals
        with weight 0 are left out; a single one ranks by its raw score, as :func:`hybrid_search` does."""
        hybrid = hybrid or HybridConfig()
        active = {s: w for s, w in weights.items() if w > 0}
        if not active:
            raise ValueError("at least one fusion weight must be positive")
        if len(active) == 1:
            fused = np.asarray(self.signals[next(iter(active))], dtype=np.float64)
        else:
            fused = fuse({s: self.signals[s] for s in active}, active, hybrid.fusion, hybrid.rrf_k)
        if self.rows is None:
            order = np.argsort(-fused, kind="stable")  # (M,)
        else:
            order = np.lexsort((self.rows, -fused))  # (M,)
        return [self.doc_ids[i] for i in order]


@dataclass
class FusionChoice:
    """The chosen weights, their validation nDCG, and the whole grid as (weight of the second signal, nDCG)."""

    weights: dict[str, float]
    ndcg: float
    n_queries: int
    grid: list[tuple[float, float]] = field(default_factory=list)

    def hybrid_config(self, base: HybridConfig | None = None) -> HybridConfig:
        """``base`` (default :class:`HybridConfig`) with the chosen weights."""
        return (base or HybridConfig()).replace(weights=dict(self.weights))

    def to_dict(self) -> dict:
        return {"weights": self.weights, "ndcg": self.ndcg, "n_queries": self.n_queries,
                "grid": [list(p) for p in self.grid]}


def pair_weights(w: float, signals: tuple[str, str] = ("bm25", "dense")) -> dict[str, float]:
    """``w`` for the second signal, ``1 - w`` for the first, rounded to 6 places (0.7 gives 0.3, not 0.300...04)."""
    return {signals[0]: round(1.0 - w, 6), signals[1]: round(w, 6)}


def grid_ndcg(
    candidates: Mapping[str, QueryCandidates],
    qrels: Mapping[str, Mapping[str, int]],
    config: FusionTuningConfig | None = None,
    hybrid: HybridConfig | None = None,
) -> list[tuple[float, float]]:
    """Mean nDCG@k over the queries of ``candidates`` at every grid weight: [(weight of signals[1], nDCG)]."""
    config = config or FusionTuningConfig()
    out = []
    for w in config.grid:
        weights = pair_weights(w, config.signals)
        scores = [query_ndcg(c.ranking(weights, hybrid), qrels.get(q, {}), config.k) for q, c in candidates.items()]
        out.append((w, float(np.mean(scores)) if scores else 0.0))
    return out


def choose_fusion_weights(
    candidates: Mapping[str, QueryCandidates],
    qrels: Mapping[str, Mapping[str, int]],
    config: FusionTuningConfig | None = None,
    hybrid: HybridConfig | None = None,
) -> FusionChoice:
    """The grid weight with the best mean validation nDCG@k (see the module docstring for ties)."""
    config = config or FusionTuningConfig()
    if not candidates:
        raise ValueError("no validation queries to choose fusion weights on")
    grid = grid_ndcg(candidates, qrels, config, hybrid)
    best = max(s for _, s in grid)
    tied = [w for w, s in grid if s >= best - 1e-12]
    w = min(tied, key=lambda v: (abs(v - 0.5), v))
    return FusionChoice(pair_weights(w, config.signals), best, len(candidates), grid)


def candidates_from_hits(hits: Sequence[Hit], doc_ids: Sequence[str] | None = None) -> QueryCandidates:
    """Candidates from hits that carry every signal's raw score (``hit.scores``; ``"fused"`` is dropped). Ids are
    ``hit.doc_id``, else ``doc_ids[hit.row]``, else the row as a string."""
    names = sorted({n for h in hits for n in h.scores if n != "fused"})
    ids = [h.doc_id if h.doc_id is not None else (doc_ids[h.row] if doc_ids is not None else str(h.row))
           for h in hits]
    signals = {n: np.array([h.scores.get(n, 0.0) for h in hits], dtype=np.float64) for n in names}
    return QueryCandidates(ids, signals, np.array([h.row for h in hits], dtype=np.int64))


def search_candidates(
    bm25_scores: np.ndarray,
    query_vector: np.ndarray,
    vector_index: VectorIndex,
    doc_ids: Sequence[str],
    hybrid: HybridConfig | None = None,
) -> QueryCandidates:
    """One query's BM25 + dense candidates, as :func:`hybrid_search` gathers them: ``bm25_scores`` (N,),
    ``query_vector`` (d,) searched in ``vector_index``; ``doc_ids`` (N,) names the rows."""
    hybrid = hybrid or HybridConfig()
    hits = hybrid_search(2 * hybrid.candidates, hybrid, bm25_scores, query_vector, vector_index,
                         weights={"bm25": 1.0, "dense": 1.0})
    return candidates_from_hits(hits, doc_ids)


def index_candidates(index: SearchIndex, queries: Mapping[str, str]) -> dict[str, QueryCandidates]:
    """Each query's BM25 + dense candidates in ``index`` (query id -> text), with both raw scores."""
    depth = 2 * index.config.hybrid.candidates
    out = {}
    for qid, text in queries.items():
        hits = index.search(text, k=depth, weights={"bm25": 1.0, "dense": 1.0}, facets=[]).hits
        out[qid] = candidates_from_hits(hits)
    return out


def tune_index_weights(
    index: SearchIndex,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    config: FusionTuningConfig | None = None,
) -> FusionChoice:
    """BM25 / dense weights for ``index`` chosen on validation ``queries`` (id -> text) judged by ``qrels``
    (id -> document id -> grade). Use them per request (``index.search(q, weights=choice.weights)``) or keep them
    in the config (``index.config.replace(hybrid=choice.hybrid_config(index.config.hybrid))``)."""
    if index.encoder is None:
        raise ValueError("the index has no dense encoder: there is nothing to fuse BM25 with")
    return choose_fusion_weights(index_candidates(index, queries), qrels, config, index.config.hybrid)
