"""Model versions: list (with each version's offline metrics), train a candidate now (online learning),
activate one, roll back the last activation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from fathom.online.learning import LearningReport
from fathom.online.records import VersionRecord
from fathom.service.deps import EngineDep, SettingsDep, WriteAccess
from fathom.service.schemas import ModelsOut, TrainRequest

router = APIRouter(prefix="/models", tags=["models"])

Version = Annotated[int, Path(ge=1, lt=2**63, description="a model version number (a 64-bit row id in the store)")]


@router.get("", response_model=ModelsOut)
def list_versions(engine: EngineDep) -> ModelsOut:
    active = engine.store.active_version()
    return ModelsOut(active=active.version if active else None, versions=engine.store.versions())


@router.post("/{version}/activate", response_model=VersionRecord)
def activate(version: Version, engine: EngineDep, _: WriteAccess) -> VersionRecord:
    return engine.activate(version)


@router.post("/rollback", response_model=VersionRecord)
def rollback(engine: EngineDep, _: WriteAccess) -> VersionRecord:
    return engine.rollback()


@router.post("/train", response_model=LearningReport)
def train(engine: EngineDep, settings: SettingsDep, _: WriteAccess, body: TrainRequest | None = None) -> LearningReport:
    """Train a candidate on the events stored since the active version, validate it against the active version on
    held-out recent events and activate it when it is not worse (409 while another run is training)."""
    body = body or TrainRequest()
    overrides = {k: v for k, v in body.model_dump(exclude={"force"}).items() if v is not None}
    return engine.learn(settings.learning.replace(**overrides), force=body.force)
