"""The engine behind the web service: the store, the active model version and the catalogue search index.
Its reads live in :mod:`fathom.online.engine_reads`, its search index in :mod:`fathom.online.engine_index`.

Reads see writes at once: recommendations exclude every item in the store's events for the user (including
events that arrived after training) and score the user from that history through the model's own
:meth:`~fathom.models.base.Recommender.score_history` (linear models fold it in exactly, sequence models read it
as their input sequence), with reasons from :meth:`~fathom.models.base.Recommender.explain`; a catalogue item
that is upserted is searchable at the next request, and recommendable through its text until a model knows it
(:mod:`fathom.online.cold`).

Several processes serve one store consistently: :meth:`Engine.refresh` (run before every request) compares the
store's catalogue revision and active version with this process's copies, re-reads the items changed since (from
the store's change log) and loads a newly activated version, so a change made through one worker is seen by every
worker at its next request. Thread-safe within a process: the model is swapped atomically; index reads and writes
share a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from fathom.config import Config
from fathom.models.fold_in import HistoryPolicy
from fathom.online.cold import TextNeighbours
from fathom.online.engine_index import EngineIndex
from fathom.online.engine_reads import EngineReads, Recommendation
from fathom.online.errors import NoActiveModel, NotFound
from fathom.online.processes import lease_owner
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.store import Store
from fathom.online.versions import ModelBundle, forget_in_version_folders, load_version
from fathom.retrieval.search_index import SearchIndex
from fathom.text.encoders import Encoder, EncoderName

if TYPE_CHECKING:
    from fathom.online.learning import LearningConfig, LearningReport

logger = logging.getLogger(__name__)

__all__ = ["Engine", "EngineConfig", "Recommendation"]

class EngineConfig(Config):
    encoder: EncoderName | None = None
    """Dense encoder of the search index; None: lexical (BM25) search only."""
    history: HistoryPolicy = HistoryPolicy()
    """How a user's history is read: its most recent items, recent ones weighted more (also what the online
    learner validates with)."""
    text_fields: dict[str, float] = {"title": 2.0, "description": 1.0}
    new_item_neighbours: int = 10
    """Known items whose scores a catalogue item unknown to the model borrows (by text similarity)."""
    durable_commits: bool = False
    """Every write reaches the disk before it is acknowledged (SQLite ``synchronous=FULL``): an acknowledged
    event survives a power cut too, at some ingestion speed. Off: it survives the process being killed."""
    store_url: str | None = None
    """The store: None for the embedded SQLite store in the data folder, or a ``postgresql://`` URL (the data
    folder then holds the artefacts only)."""
    artefacts_dir: Path | None = None
    """Where model versions are saved and loaded (default ``DATA/artefacts``); hosts serving one PostgreSQL store
    share one (a network mount)."""
    kg: Path | None = None
    """A knowledge-graph folder (``fathom kg build``) whose paths explain recommendations; None: the data folder's
    ``kg/`` when it holds one, else a graph built from the catalogue's attributes
    (:mod:`fathom.online.engine_graph`)."""
    max_attribute_names: int = Field(256, ge=1)
    """Most distinct attribute names (categorical and numeric together) in the catalogue: each name costs memory
    and time in every search, so an upsert that would add more is refused."""


class Engine(EngineIndex, EngineReads):
    """Answers recommend / similar / search requests and applies catalogue, event and model changes."""

    def __init__(self, store: Store, config: EngineConfig | None = None, encoder: Encoder | None = None) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self._encoder = encoder
        self._lock = threading.RLock()
        self.bundle: ModelBundle | None = None
        self.index: SearchIndex | None = None
        self._popularity: np.ndarray | None = None
        self._index_changes = 0  # changes since the index was last saved
        self._epoch = 0  # bumped by every index change or reload
        self._index_revision = -1  # the store catalogue revision the index reflects
        self._rows_key: tuple[int, int, int] | None = None
        self._grown_key: tuple[int, int] | None = None  # (version, epoch) the bundle was last grown for
        self._rows = np.zeros(0, np.int64)
        self._cold_ids: list[str] = []  # catalogue items the model does not know (valid for _rows_key)
        self._neighbours: dict[str, TextNeighbours] = {}  # of cold items, for the current bundle
        self._model_lock = threading.Lock()
        self._forget_revision = 0  # the store's forget revision the loaded bundle reflects
        self.learner = None  # an OnlineLearner once start_learner() ran
        self._graph = None  # the knowledge graph behind path reasons (engine_graph), loaded when first needed
        self._graph_key = None

    @classmethod
    def open(cls, folder: str | Path, config: EngineConfig | None = None, encoder: Encoder | None = None) -> Engine:
        config = config or EngineConfig()
        engine = cls(Store(folder, durable=config.durable_commits, url=config.store_url,
                           artefacts=config.artefacts_dir), config, encoder)
        engine.reload_model()
        engine.load_index()
        return engine

    def close(self) -> None:
        self.stop_learner()
        if self._index_changes:
            owner = lease_owner(str(id(self)))
            if self.store.try_lease("index-save", owner, 120.0):  # one worker at a time writes the index folder
                try:
                    self.save_index()
                finally:
                    self.store.release_lease("index-save", owner)
        self.store.close()

    # ------------------------------------------------------------------------------------------- consistency
    def refresh(self) -> None:
        """Catch up with changes other processes made to the store: items upserted or deleted since this
        process's index revision, and the active model version. One cheap query when nothing changed."""
        revision, active, forgotten = self.store.state()
        if revision != self._index_revision:
            self._sync_index()
        current = self.bundle.version if self.bundle is not None else None
        if active != current or forgotten != self._forget_revision:
            with self._model_lock:
                current = self.bundle.version if self.bundle is not None else None
                if current != active or forgotten != self._forget_revision:
                    self.reload_model()

    # ------------------------------------------------------------------------------------------- models
    def reload_model(self) -> None:
        """Load the store's active model version (none: recommendations answer 503 until one is activated),
        the users deleted since it was trained left out of its vocabulary."""
        self._forget_revision = self.store.state()[2]
        record = self.store.active_version()
        self._set_bundle(load_version(self.store, record) if record is not None else None)

    def _set_bundle(self, bundle: ModelBundle | None) -> None:
        popularity = None
        if bundle is not None:
            counts = self.store.item_popularity()
            popularity = np.array([counts.get(i, 0) for i in bundle.items.ids], dtype=np.float32)
        with self._lock:
            self.bundle, self._popularity = bundle, popularity
            self._neighbours = {}
            self._grown_key = None

    def _require_bundle(self) -> tuple[ModelBundle, np.ndarray]:
        bundle, popularity = self.bundle, self._popularity
        if bundle is None or popularity is None:
            raise NoActiveModel("no model version is active: activate one (POST /models/{version}/activate)")
        if bundle.model.reads_item_text and self._grown_key != (bundle.version, self._epoch):
            return self._grow_bundle()
        return bundle, popularity

    def _grow_bundle(self) -> tuple[ModelBundle, np.ndarray]:
        """A text-aware model also scores the catalogue items it was not trained on, from their text
        (:func:`fathom.online.item_text.grow_bundle`); done once per model version and catalogue change."""
        from fathom.online.item_text import grow_bundle

        with self._lock:
            bundle, popularity = self.bundle, self._popularity
            assert bundle is not None and popularity is not None
            key = (bundle.version, self._epoch)
            if self._grown_key != key:
                grown = grow_bundle(bundle, self.store, list(self._index().row_of))
                if grown is not None:
                    added = len(grown.items) - len(bundle.items)
                    popularity = np.concatenate([popularity, np.zeros(added, np.float32)])
                    self.bundle, self._popularity, bundle = grown, popularity, grown
                    logger.info("model version %d scores %d new catalogue item(s) from their text", bundle.version,
                                added)
                self._grown_key = key
            return bundle, popularity

    def start_learner(self, config: LearningConfig, log: Callable[[str], None] | None = None) -> None:
        """Run the online learner in a background thread every ``config.interval_s`` seconds."""
        from fathom.online.learner import OnlineLearner

        self.stop_learner()
        self.learner = OnlineLearner(self.store, config, log=log, history=self.config.history)
        self.learner.start()

    def stop_learner(self) -> None:
        if self.learner is not None:
            self.learner.stop()
            self.learner = None

    def learn(self, config: LearningConfig, force: bool = False) -> LearningReport:
        """One online-learning run now (see :func:`fathom.online.learning.learn_once`); the new version is
        served at once when it was activated."""
        from fathom.online.learner import run_exclusive

        report = run_exclusive(self.store, config, force, history=self.config.history)
        self.refresh()
        return report

    def activate(self, version: int) -> VersionRecord:
        record = self.store.version(version)
        bundle = load_version(self.store, record)  # load first: a broken version never becomes active
        record = self.store.activate(version)
        self._set_bundle(bundle)
        return record

    def rollback(self) -> VersionRecord:
        record = self.store.rollback()
        self._set_bundle(load_version(self.store, record))
        return record

    # ------------------------------------------------------------------------------------------- writes
    def upsert_items(self, items: Sequence[ItemRecord]) -> int:
        if not items:
            return 0
        self._check_attribute_names(items)
        count = self.store.upsert_items(items)
        self._sync_index()  # this change and any other process's since the last request
        return count

    def delete_item(self, item_id: str) -> None:
        self.store.delete_item(item_id)
        self._sync_index()

    def ingest(self, events: Sequence[EventRecord], key: str | None = None) -> tuple[int, bool]:
        """Store events in one transaction; every item must be in the catalogue (NotFound names the first).
        ``key``: an idempotency key (see :meth:`Store.add_events`): a batch stored before is answered as it was
        then, whatever changed in the catalogue since. Returns (stored, replayed)."""
        if key is not None and (stored := self.store.replayed(key, events)) is not None:
            return stored, True
        missing = self.store.missing_items(e.item_id for e in events)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise NotFound(f"unknown item {missing[0]!r}{more}: add it with PUT /items/{{item_id}} first")
        return self.store.add_events_once(events, key)

    def delete_user(self, user_id: str) -> int:
        """Delete a user with their events and forget them in every model version: their id leaves each
        version's vocabulary (on disk, and in the served model at once; other workers at their next request),
        so the vector learned for them is reached by no id, and later versions never hold it. Returns the
        number of events removed."""
        removed = self.store.delete_user(user_id)
        forget_in_version_folders(self.store, user_id)
        with self._model_lock:
            self.reload_model()
        return removed

    # ------------------------------------------------------------------------------------------- reads
