"""Service status for people and the web page: model versions (active marked, offline metrics when the version
folder holds a ``metrics.json``), live event counts, events over time, the search mode, and recently active users."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fathom.online.engine import Engine
from fathom.online.learner import last_run
from fathom.online.leases import LEASE
from fathom.online.records import VersionRecord
from fathom.online.stats import EventSeries, event_counts, event_history, recent_users
from fathom.service.deps import EngineDep, SettingsDep, UserDataAccess
from fathom.service.settings import ServiceSettings

router = APIRouter(prefix="/status", tags=["status"])


class VersionStatus(VersionRecord):
    metrics: dict[str, Any] = {}
    """Offline metrics of the version: those registered with it, else a ``metrics.json`` saved beside the model
    (empty when there are none)."""


class Counts(BaseModel):
    items: int
    users: int
    events: int
    events_by_type: dict[str, int]
    events_last_minute: int
    events_last_hour: int


class SearchMode(BaseModel):
    encoder: str | None
    signals: list[str]
    """Signals fused by a query: ``bm25``, plus ``dense`` when an encoder is configured (no reranking)."""


class LearnerStatus(BaseModel):
    background: bool
    """True when the service learns in the background every ``interval_s`` seconds."""
    interval_s: float | None
    min_new_events: int
    new_events: int
    """Events stored since the active version was trained (a run trains once ``min_new_events`` arrived)."""
    training: bool
    """A process holds the learner lease now (it is training, or recovering after a crash)."""
    lease_holder: str | None
    lease_expires_in_s: float | None
    last_run: dict[str, Any] | None
    """The last run of any worker: ``at`` (epoch seconds), ``status`` (skipped, activated, rejected, failed),
    ``reason`` or ``error``, ``version``."""


class Status(BaseModel):
    status: str
    active: int | None
    versions: list[VersionStatus]
    counts: Counts
    search: SearchMode
    learner: LearnerStatus
    writes_need_key: bool


class EventSeriesOut(BaseModel):
    bucket_s: int
    start: float
    """Epoch seconds at which the first bucket begins (a whole minute or hour, UTC)."""
    counts: list[int]
    """Events received per bucket, oldest first; the last bucket is the current one, still filling."""


class EventHistory(BaseModel):
    now: float
    per_minute: EventSeriesOut
    """The last hour: 60 buckets of a minute."""
    per_hour: EventSeriesOut
    """The last day: 24 buckets of an hour."""


class UserSummary(BaseModel):
    user_id: str
    events: int


class Users(BaseModel):
    users: list[UserSummary]


def offline_metrics(engine: Engine, record: VersionRecord) -> dict[str, Any]:
    registered = getattr(record, "metrics", None)
    if registered:
        return dict(registered)
    path = engine.store.artefacts / record.path / "metrics.json"
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@router.get("", response_model=Status)
def status(engine: EngineDep, settings: SettingsDep) -> Status:
    versions = [VersionStatus(**{**v.model_dump(), "metrics": offline_metrics(engine, v)})
                for v in engine.store.versions()]
    active = next((v.version for v in versions if v.active), None)
    c = event_counts(engine.store)
    counts = Counts(items=c.items, users=c.users, events=c.events, events_by_type=c.by_type,
                    events_last_minute=c.last_minute, events_last_hour=c.last_hour)
    encoder = settings.search_encoder
    return Status(status="ok" if engine.bundle is not None else "no active model", active=active, versions=versions,
                  counts=counts, search=SearchMode(encoder=encoder, signals=["bm25", "dense"] if encoder else ["bm25"]),
                  learner=learner_status(engine, settings), writes_need_key=settings.write_key is not None)


def learner_status(engine: Engine, settings: ServiceSettings) -> LearnerStatus:
    store, learning = engine.store, settings.learning
    active = store.active_version()
    lease = store.lease(LEASE)
    now = time.time()
    held = lease is not None and lease[1] > now
    return LearnerStatus(background=learning.interval_s is not None, interval_s=learning.interval_s,
                         min_new_events=learning.min_new_events,
                         new_events=store.events_after(active.trained_through if active else 0),
                         training=held, lease_holder=lease[0] if held and lease else None,
                         lease_expires_in_s=round(lease[1] - now, 1) if held and lease else None,
                         last_run=last_run(store))


@router.get("/history", response_model=EventHistory)
def history(engine: EngineDep) -> EventHistory:
    """Events received per minute over the last hour and per hour over the last day (counts only, no user data)."""
    now = time.time()
    minutes, hours = event_history(engine.store, now)
    return EventHistory(now=now, per_minute=_series(minutes), per_hour=_series(hours))


def _series(series: EventSeries) -> EventSeriesOut:
    return EventSeriesOut(bucket_s=series.bucket_s, start=series.start, counts=series.counts)


@router.get("/users", response_model=Users)
def users(engine: EngineDep, _: UserDataAccess, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Users:
    """The most recently active users (for the page's user picker), most recent first."""
    return Users(users=[UserSummary(user_id=u, events=n) for u, n in recent_users(engine.store, limit)])
