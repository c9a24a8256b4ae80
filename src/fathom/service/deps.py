"""Typed dependencies of the route handlers (``Annotated`` aliases)."""

from __future__ import annotations

import os
import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Response

from fathom.online.engine import Engine
from fathom.service.metrics import Metrics
from fathom.service.settings import ServiceSettings

WORKER_HEADER = "X-Fathom-Worker"


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_engine(request: Request, response: Response) -> Engine:
    """The engine, caught up with what other worker processes changed in the store (one query when nothing
    did); the response names the worker process that answered (``X-Fathom-Worker``)."""
    engine: Engine = request.app.state.engine
    engine.refresh()
    response.headers[WORKER_HEADER] = str(os.getpid())
    return engine


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def _check_key(settings: ServiceSettings, given: str | None, what: str) -> None:
    key = settings.write_key
    if key is None:
        return
    if given is None:
        raise HTTPException(401, f"header X-API-Key is required {what}", {"WWW-Authenticate": "X-API-Key"})
    if not secrets.compare_digest(given.encode(), key.encode()):
        raise HTTPException(403, "header X-API-Key: wrong API key")


def require_write_key(settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Writes need the configured API key in ``X-API-Key`` (no key configured: writes are open)."""
    _check_key(settings, x_api_key, "for writes")


def require_user_key(settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Reads of one user's data (their events, recommendations by user id with their reasons, the list of
    active users) need the API key too when one is configured."""
    _check_key(settings, x_api_key, "to read a user's data")


WriteAccess = Annotated[None, Depends(require_write_key)]
UserDataAccess = Annotated[None, Depends(require_user_key)]
