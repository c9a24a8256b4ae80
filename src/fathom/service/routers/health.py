"""Liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fathom.service.deps import EngineDep, MetricsDep
from fathom.service.metrics import CONTENT_TYPE
from fathom.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(engine: EngineDep) -> Health:
    store, bundle = engine.store, engine.bundle
    return Health(status="ok" if bundle is not None else "no active model",
                  model_version=bundle.version if bundle is not None else None,
                  items=len(engine.index or []), users=store.user_count(), events=store.event_count())


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(engine: EngineDep, metrics: MetricsDep) -> Response:
    metrics.model_version.set(engine.bundle.version if engine.bundle is not None else 0)
    metrics.catalogue_items.set(len(engine.index or []))
    return Response(metrics.render(), media_type=CONTENT_TYPE)
