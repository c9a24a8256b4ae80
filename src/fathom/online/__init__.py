"""Real-time state: the embedded store (catalogue, users, events, model versions), model versions loaded for
serving, fold-in scoring and the engine that the web service calls."""

from fathom.online.engine import Engine, EngineConfig
from fathom.online.errors import Conflict, NoActiveModel, NotFound
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.store import Store

__all__ = [
    "Conflict", "Engine", "EngineConfig", "EventRecord", "ItemRecord", "NoActiveModel", "NotFound", "Store",
    "VersionRecord",
]
