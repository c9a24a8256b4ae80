"""Event ingestion, one at a time or in batches (one transaction per batch)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from fathom.online.records import EventRecord
from fathom.service.deps import EngineDep, MetricsDep, SettingsDep, WriteAccess
from fathom.service.schemas import EventBatch, Stored

router = APIRouter(prefix="/events", tags=["events"])


@router.post("", response_model=Stored, status_code=201)
def add_event(event: EventRecord, engine: EngineDep, metrics: MetricsDep, _: WriteAccess) -> Stored:
    stored = engine.ingest([event])
    metrics.events.inc(stored)
    return Stored(stored=stored)


@router.post("/batch", response_model=Stored, status_code=201)
def add_events(batch: EventBatch, engine: EngineDep, settings: SettingsDep, metrics: MetricsDep,
               _: WriteAccess) -> Stored:
    if len(batch.events) > settings.max_batch:
        raise HTTPException(422, f"events: at most {settings.max_batch} events per batch (got {len(batch.events)})")
    stored = engine.ingest(batch.events)
    metrics.events.inc(stored)
    return Stored(stored=stored)
