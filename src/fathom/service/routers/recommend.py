"""Recommendations for a known user or for an anonymous visitor's recent items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query

from fathom.online.engine import Engine, Recommendation
from fathom.service.deps import EngineDep, MetricsDep, SettingsDep, UserDataAccess, require_user_key
from fathom.service.routers._params import FilterDep, K
from fathom.service.schemas import RecommendedItem, RecommendRequest, RecommendResponse
from fathom.service.settings import ServiceSettings

router = APIRouter(prefix="/recommend", tags=["recommend"])
Why = Annotated[bool, Query(description="faithful reasons: each item cites the history item whose removal moves it "
                                        "furthest down (one extra scoring per history item, up to 20)")]


def check_k(k: int, settings: ServiceSettings) -> None:
    if k > settings.max_k:
        raise HTTPException(422, f"k: at most {settings.max_k} results per request (got {k})")


def respond(engine: Engine, recs: list[Recommendation], user_id: str | None) -> RecommendResponse:
    version = engine.bundle.version if engine.bundle is not None else 0
    return RecommendResponse(user_id=user_id, model_version=version,
                             items=[RecommendedItem(**vars(r)) for r in recs])


@router.post("", response_model=RecommendResponse)
def recommend(body: RecommendRequest, engine: EngineDep, settings: SettingsDep, metrics: MetricsDep,
              x_api_key: Annotated[str | None, Header()] = None) -> RecommendResponse:
    """Top-k for ``user_id`` (items in their events excluded; needs the API key when one is set) or for
    ``recent_items`` (fold-in, open to anyone)."""
    check_k(body.k, settings)
    if body.user_id is not None:
        require_user_key(settings, x_api_key)
        recs = engine.recommend_user(body.user_id, body.k, body.filter, why=body.why)
    else:
        recs = engine.recommend_recent(body.recent_items or [], body.k, body.filter, why=body.why)
    metrics.recommendations.labels("user" if body.user_id is not None else "anonymous").inc()
    return respond(engine, recs, body.user_id)


@router.get("/{user_id}", response_model=RecommendResponse)
def recommend_user(user_id: str, engine: EngineDep, settings: SettingsDep, metrics: MetricsDep,
                   flt: FilterDep, _: UserDataAccess, k: K = 10, why: Why = False) -> RecommendResponse:
    """Top-k for a known user; filters as ``?filter=genres=Comedy&range=release_year=1990:``; ``?why=true``
    for faithful reasons."""
    check_k(k, settings)
    recs = engine.recommend_user(user_id, k, flt, why=why)
    metrics.recommendations.labels("user").inc()
    return respond(engine, recs, user_id)
