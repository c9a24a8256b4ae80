"""Event ingestion, one at a time or in batches (one transaction per batch).

A client that retries after a lost acknowledgement sends the same ``Idempotency-Key`` header: the events are
stored once, and the retry is answered with the count first stored and ``Idempotency-Replayed: true``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response

from fathom.online.records import EventRecord
from fathom.service.deps import EngineDep, MetricsDep, SettingsDep, WriteAccess
from fathom.service.schemas import EventBatch, Stored

router = APIRouter(prefix="/events", tags=["events"])

IdempotencyKey = Annotated[str | None, Header(
    min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
    description="any unique string per batch (e.g. a UUID): a retry with the same key stores nothing again")]


def _store(engine: EngineDep, events: list[EventRecord], key: str | None, response: Response,
           metrics: MetricsDep) -> Stored:
    stored, replayed = engine.ingest(events, key)
    if replayed:
        response.headers["Idempotency-Replayed"] = "true"
    else:
        metrics.events.inc(stored)
    return Stored(stored=stored)


@router.post("", response_model=Stored, status_code=201)
def add_event(event: EventRecord, engine: EngineDep, metrics: MetricsDep, response: Response, _: WriteAccess,
              idempotency_key: IdempotencyKey = None) -> Stored:
    return _store(engine, [event], idempotency_key, response, metrics)


@router.post("/batch", response_model=Stored, status_code=201)
def add_events(batch: EventBatch, engine: EngineDep, settings: SettingsDep, metrics: MetricsDep, response: Response,
               _: WriteAccess, idempotency_key: IdempotencyKey = None) -> Stored:
    if len(batch.events) > settings.max_batch:
        raise HTTPException(422, f"events: at most {settings.max_batch} events per batch (got {len(batch.events)})")
    return _store(engine, batch.events, idempotency_key, response, metrics)
