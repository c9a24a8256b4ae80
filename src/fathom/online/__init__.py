"""Real-time state: the embedded store (catalogue, users, events, model versions), model versions loaded for
serving, the engine that the web service calls, and online learning (candidates
trained on new events, validated against the active version, activated when not worse)."""

from fathom.online.engine import Engine, EngineConfig
from fathom.online.errors import Conflict, NoActiveModel, NotFound
from fathom.online.learner import OnlineLearner, run_exclusive
from fathom.online.learning import LearningConfig, LearningReport, learn_once
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.store import Store

__all__ = [
    "Conflict", "Engine", "EngineConfig", "EventRecord", "ItemRecord", "LearningConfig", "LearningReport",
    "NoActiveModel", "NotFound", "OnlineLearner", "Store", "VersionRecord", "learn_once", "run_exclusive",
]
