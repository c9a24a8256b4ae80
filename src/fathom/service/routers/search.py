"""Catalogue search: BM25 (+ dense when configured), filters, facets and per-signal scores."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query

from fathom.online.engine import Engine
from fathom.retrieval.filters import SearchFilter
from fathom.service.deps import EngineDep, SettingsDep
from fathom.service.errors import invalid
from fathom.service.routers._params import FilterDep, K
from fathom.service.routers.recommend import check_k
from fathom.service.schemas import SearchHit, SearchRequest, SearchResponse
from fathom.service.settings import ServiceSettings

router = APIRouter(prefix="/search", tags=["search"])


def search_signals(settings: ServiceSettings) -> list[str]:
    """The signals a query fuses, the names ``weights`` may give: ``bm25``, and ``dense`` with an encoder."""
    return ["bm25", "dense"] if settings.search_encoder else ["bm25"]


def check_weights(weights: Mapping[str, float] | None, signals: list[str]) -> None:
    """422 unless every weight names a signal and is a finite number >= 0, one of them > 0."""
    if weights is None:
        return
    for name, weight in weights.items():
        if name not in signals:
            raise invalid(("body", "weights", name), f"unknown signal; known: {', '.join(signals)}")
        if not (math.isfinite(weight) and weight >= 0):
            raise invalid(("body", "weights", name), f"a weight is a finite number >= 0 (got {weight})")
    if not any(w > 0 for w in weights.values()):
        raise invalid(("body", "weights"), f"give at least one signal a weight > 0 (known: {', '.join(signals)})")


def run_search(engine: Engine, query: str, k: int, flt: SearchFilter | None, facets: list[str] | None,
               weights: dict[str, float] | None) -> SearchResponse:
    result = engine.search(query, k, flt, facets, weights)
    hits = [SearchHit(item_id=str(h.doc_id), title=(h.document or {}).get("fields", {}).get("title", ""),
                      score=float(h.score), scores={n: float(v) for n, v in h.scores.items()},
                      document=h.document or {}) for h in result.hits]
    return SearchResponse(query=query, total=result.total, hits=hits, facets=result.facets,
                          corrections=result.corrected_words)  # as typed -> as written, never index terms (stems)


@router.post("", response_model=SearchResponse)
def search(body: SearchRequest, engine: EngineDep, settings: SettingsDep) -> SearchResponse:
    check_k(body.k, settings)
    check_weights(body.weights, search_signals(settings))
    return run_search(engine, body.query, body.k, body.filter, body.facets, body.weights)


@router.get("", response_model=SearchResponse)
def search_get(engine: EngineDep, settings: SettingsDep, flt: FilterDep, q: str = "", k: K = 10,
               facet: Annotated[list[str] | None, Query(description="attribute to count, repeatable")] = None,
               ) -> SearchResponse:
    check_k(k, settings)
    return run_search(engine, q, k, flt, facet, None)
