"""Model versions: list, activate one, roll back the last activation."""

from __future__ import annotations

from fastapi import APIRouter

from fathom.online.records import VersionRecord
from fathom.service.deps import EngineDep, WriteAccess
from fathom.service.schemas import ModelsOut

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelsOut)
def list_versions(engine: EngineDep) -> ModelsOut:
    active = engine.store.active_version()
    return ModelsOut(active=active.version if active else None, versions=engine.store.versions())


@router.post("/{version}/activate", response_model=VersionRecord)
def activate(version: int, engine: EngineDep, _: WriteAccess) -> VersionRecord:
    return engine.activate(version)


@router.post("/rollback", response_model=VersionRecord)
def rollback(engine: EngineDep, _: WriteAccess) -> VersionRecord:
    return engine.rollback()
