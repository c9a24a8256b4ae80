"""The engine behind the web service: the store, the active model version and the catalogue search index.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from fathom.config import Config
from fathom.models.base import topk_rows
from fathom.models.fold_in import HISTORY_LIMIT
from fathom.online.cold import NEW_ITEM_REASON, TextNeighbours, borrowed_score, text_neighbours
from fathom.online.errors import Conflict, LimitExceeded, NoActiveModel, NotFound
from fathom.online.processes import lease_owner
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.store import Store
from fathom.online.versions import ModelBundle, forget_in_version_folders, load_version
from fathom.retrieval.filters import SearchFilter
from fathom.retrieval.lexical import LexicalConfig
from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig, SearchResult
from fathom.text.encoders import Encoder, EncoderName

if TYPE_CHECKING:
    from fathom.online.learning import LearningConfig, LearningReport

logger = logging.getLogger(__name__)

POPULAR = "popular"
BECAUSE = "because you interacted with {title}"
NEXT_AFTER = "next after {title}"  # a sequence model's prediction from the user's latest items


class EngineConfig(Config):
    encoder: EncoderName | None = None
    """Dense encoder of the search index; None: lexical (BM25) search only."""
    fold_in_limit: int = HISTORY_LIMIT
    """Most recent distinct items of a user used for fold-in scoring and reasons."""
    text_fields: dict[str, float] = {"title": 2.0, "description": 1.0}
    new_item_neighbours: int = 10
    """Known items whose scores a catalogue item unknown to the model borrows (by text similarity)."""
    durable_commits: bool = False
    """Every write reaches the disk before it is acknowledged (SQLite ``synchronous=FULL``): an acknowledged
    event survives a power cut too, at some ingestion speed. Off: it survives the process being killed."""
    max_attribute_names: int = Field(256, ge=1)
    """Most distinct attribute names (categorical and numeric together) in the catalogue: each name costs memory
    and time in every search, so an upsert that would add more is refused."""


@dataclass
class Recommendation:
    item_id: str
    score: float
    title: str
    reason: str
    because: str | None = None  # the history item behind the reason, when there is one


class Engine:
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
        self._rows_key: tuple[int, int] | None = None
        self._rows = np.zeros(0, np.int64)
        self._cold_ids: list[str] = []  # catalogue items the model does not know (valid for _rows_key)
        self._neighbours: dict[str, TextNeighbours] = {}  # of cold items, for the current bundle
        self._model_lock = threading.Lock()
        self._forget_revision = 0  # the store's forget revision the loaded bundle reflects
        self.learner = None  # an OnlineLearner once start_learner() ran

    @classmethod
    def open(cls, folder: str | Path, config: EngineConfig | None = None, encoder: Encoder | None = None) -> Engine:
        config = config or EngineConfig()
        engine = cls(Store(folder, durable=config.durable_commits), config, encoder)
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

    def _sync_index(self) -> None:
        with self._lock:
            revision, changed = self.store.catalogue_changes(self._index_revision)
            if revision == self._index_revision:
                return
            if changed is None:  # the change log does not reach back far enough: rebuild from the store
                self.index = self.build_index()
            else:
                index = self._index()
                items = self.store.get_items(changed)
                gone = [i for i in changed if i not in items and i in index]
                if gone:
                    index.delete(gone)
                if items:
                    index.add([item.document() for item in items.values()])
                for item_id in changed:
                    self._neighbours.pop(item_id, None)
            self._index_revision = revision
            self._index_changes += 1
            self._epoch += 1

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

    def _require_bundle(self) -> tuple[ModelBundle, np.ndarray]:
        bundle, popularity = self.bundle, self._popularity
        if bundle is None or popularity is None:
            raise NoActiveModel("no model version is active: activate one (POST /models/{version}/activate)")
        return bundle, popularity

    def start_learner(self, config: LearningConfig, log: Callable[[str], None] | None = None) -> None:
        """Run the online learner in a background thread every ``config.interval_s`` seconds."""
        from fathom.online.learner import OnlineLearner

        self.stop_learner()
        self.learner = OnlineLearner(self.store, config, log=log)
        self.learner.start()

    def stop_learner(self) -> None:
        if self.learner is not None:
            self.learner.stop()
            self.learner = None

    def learn(self, config: LearningConfig, force: bool = False) -> LearningReport:
        """One online-learning run now (see :func:`fathom.online.learning.learn_once`); the new version is
        served at once when it was activated."""
        from fathom.online.learner import run_exclusive

        report = run_exclusive(self.store, config, force)
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

    # ------------------------------------------------------------------------------------------- search index
    @property
    def index_folder(self) -> Path:
        return self.store.artefacts / "index"

    def build_index(self) -> SearchIndex:
        lexical = LexicalConfig(field_weights=dict(self.config.text_fields))
        index = SearchIndex(SearchIndexConfig(encoder=self.config.encoder, lexical=lexical), self._encoder)
        index.add([item.document() for item in self.store.items()])
        return index

    def load_index(self) -> None:
        """The saved index when it matches the store's catalogue revision, else one rebuilt from the store."""
        folder, revision = self.index_folder, self.store.catalogue_revision
        stamp = folder / "revision.txt"
        index = None
        if stamp.is_file() and stamp.read_text().strip() == str(revision):
            try:
                index = SearchIndex.load(folder, self._encoder)
            except (OSError, ValueError) as exc:  # unreadable (e.g. written by an older release): rebuild it
                logger.warning("search index %s could not be read (%s); rebuilding it from the store", folder,
                               str(exc).splitlines()[0])
                stamp.unlink(missing_ok=True)
            if index is not None and index.config.encoder != self.config.encoder:  # another encoder: rebuild
                index = None
                stamp.unlink()
        if index is None:
            index = self.build_index()
        with self._lock:
            self.index = index
            self._index_changes = 0
            self._index_revision = revision
            self._epoch += 1
        if not stamp.is_file() or stamp.read_text().strip() != str(revision):
            self.save_index()

    def save_index(self) -> None:
        """Save the index, stamped with the catalogue revision it reflects; when another process changed the
        catalogue meanwhile, no stamp is written, so that the next start rebuilds the index from the store."""
        with self._lock:
            stamp = self.index_folder / "revision.txt"
            stamp.unlink(missing_ok=True)
            self._index().save(self.index_folder)
            if self._index_revision == self.store.catalogue_revision:
                stamp.write_text(str(self._index_revision))
            self._index_changes = 0

    def _index(self) -> SearchIndex:
        if self.index is None:
            raise Conflict("the search index is not loaded")
        return self.index

    def _check_filter(self, flt: SearchFilter | None, facets: Sequence[str] | None = None) -> None:
        attrs = self._index().attributes
        for kind, names, known in (("filter.equals", flt.equals if flt else {}, attrs.categorical_names),
                                   ("filter.ranges", flt.ranges if flt else {}, attrs.numeric_names),
                                   ("facets", facets or (), attrs.categorical_names)):
            for name in names:
                if name not in known:
                    raise ValueError(f"{kind}.{name}: unknown catalogue attribute; known: {', '.join(known)}")

    def _allowed(self, bundle: ModelBundle, flt: SearchFilter | None) -> np.ndarray:
        """(n_items,) bool over the model's items: in the catalogue now and passing ``flt``."""
        with self._lock:
            index = self._index()
            self._check_filter(flt)
            key = (bundle.version, self._epoch)
            if self._rows_key != key:  # model item -> index row, -1 for items no longer in the catalogue
                self._rows = np.array([index.row_of.get(i, -1) for i in bundle.items.ids], dtype=np.int64)
                known = set(bundle.items.ids)
                self._cold_ids = [i for i in index.row_of if i not in known]
                self._rows_key = key
            rows = self._rows
            ok = rows >= 0
            if flt is not None and not flt.empty:
                ok &= index.attributes.mask(flt)[np.maximum(rows, 0)]
            return ok

    # ------------------------------------------------------------------------------------------- writes
    def upsert_items(self, items: Sequence[ItemRecord]) -> int:
        if not items:
            return 0
        self._check_attribute_names(items)
        count = self.store.upsert_items(items)
        self._sync_index()  # this change and any other process's since the last request
        return count

    def _check_attribute_names(self, items: Sequence[ItemRecord]) -> None:
        """LimitExceeded when ``items`` would take the catalogue past ``max_attribute_names`` distinct names."""
        self._sync_index()
        with self._lock:
            attrs = self._index().attributes
            known = set(attrs.categorical_names) | set(attrs.numeric_names)
        new = sorted({n for i in items for n in (*i.categorical, *i.numeric)} - known)
        limit = self.config.max_attribute_names
        if len(known) + len(new) > limit:
            shown = ", ".join(repr(n) for n in new[:3]) + (f" and {len(new) - 3} more" if len(new) > 3 else "")
            raise LimitExceeded(f"categorical/numeric: {len(new)} new attribute names ({shown}) would make "
                                f"{len(known) + len(new)} in the catalogue; the limit is {limit} "
                                "(setting max_attribute_names, FATHOM_MAX_ATTRIBUTE_NAMES)")

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
    def recommend_user(self, user_id: str, k: int = 10, flt: SearchFilter | None = None) -> list[Recommendation]:
        """Top-``k`` for a known user, every item in their stored events excluded."""
        if not self.store.has_user(user_id):
            raise NotFound(f"unknown user {user_id!r}")
        return self._recommend(self.store.user_items(user_id), k, flt, user_id)

    def recommend_recent(self, recent: Sequence[str], k: int = 10,
                         flt: SearchFilter | None = None) -> list[Recommendation]:
        """Top-``k`` for an anonymous visitor from the items they just interacted with (most recent first)."""
        bundle, _ = self._require_bundle()
        unknown = [i for i in self.store.missing_items(recent) if i not in bundle.items]
        if unknown:
            raise NotFound(f"unknown item {unknown[0]!r}")
        return self._recommend(list(dict.fromkeys(recent)), k, flt, None)

    def _recommend(self, history_ids: list[str], k: int, flt: SearchFilter | None,
                   user_id: str | None) -> list[Recommendation]:
        bundle, popularity = self._require_bundle()
        model = bundle.model
        history = bundle.items.encode([i for i in history_ids if i in bundle.items])  # (H,) recent first
        allowed = self._allowed(bundle, flt).copy()
        allowed[history] = False
        recent = history[: self.config.fold_in_limit]
        user = bundle.users.index(user_id) if user_id is not None and user_id in bundle.users else None
        scores = model.score_history(recent, user, popularity)  # (n_items,)
        if popularity.max() > 0:  # equal scores (e.g. items no history item reaches) go by popularity
            scores = scores + 1e-6 * popularity / popularity.max()
        raw = scores.copy()
        scores[~allowed] = -np.inf
        ids, top = topk_rows(scores[None, :], k)
        keep = ids[0] >= 0
        ids, top = ids[0][keep], top[0][keep]
        template = NEXT_AFTER if model.explanation == "next" else BECAUSE
        recs = self._describe(bundle, ids, top, model.explain(recent, ids), template)
        return self._with_new_items(bundle, recs, raw, set(history_ids), k, flt)

    def _with_new_items(self, bundle: ModelBundle, recs: list[Recommendation], scores: np.ndarray,
                        seen: set[str], k: int, flt: SearchFilter | None) -> list[Recommendation]:
        """``recs`` merged with the catalogue items the model does not know, scored through their text."""
        with self._lock:
            index = self._index()
            cold = [i for i in self._cold_ids if i not in seen and i in index]
            if flt is not None and not flt.empty and cold:
                mask = index.attributes.mask(flt)
                cold = [i for i in cold if mask[index.row_of[i]]]
            for item_id in cold:
                if item_id not in self._neighbours:
                    self._neighbours[item_id] = text_neighbours(index, item_id, bundle.items,
                                                                self.config.new_item_neighbours)
            neighbours = {i: self._neighbours[i] for i in cold}
        extra = []
        for item_id, nb in neighbours.items():
            score, source = borrowed_score(scores, nb)
            if np.isfinite(score):
                extra.append((item_id, score, str(bundle.items.decode(source))))
        if not extra:
            return recs
        titles = self.store.titles([e[0] for e in extra] + [e[2] for e in extra])
        recs = recs + [Recommendation(i, s, titles.get(i, i), NEW_ITEM_REASON.format(title=titles.get(b, b)), b)
                       for i, s, b in extra]
        return sorted(recs, key=lambda r: -r.score)[:k]  # stable: the model's order among its own items

    def _describe(self, bundle: ModelBundle, ids: np.ndarray, scores: np.ndarray, sources: Sequence[int | None],
                  template: str = BECAUSE) -> list[Recommendation]:
        item_ids = [str(x) for x in bundle.items.decode(ids)]
        source_ids = [None if s is None else str(bundle.items.decode(int(s))) for s in sources]
        titles = self.store.titles(item_ids + [s for s in source_ids if s is not None])
        out = []
        for item, score, src in zip(item_ids, scores, source_ids, strict=True):
            reason = template.format(title=titles.get(src, src)) if src is not None else POPULAR
            out.append(Recommendation(item, float(score), titles.get(item, item), reason, src))
        return out

    def similar(self, item_id: str, k: int = 10, flt: SearchFilter | None = None) -> list[Recommendation]:
        """Items most similar to ``item_id``: the model's neighbours when it knows the item, else items whose
        text matches its title (a new catalogue item)."""
        bundle, _ = self._require_bundle()
        with self._lock:
            in_catalogue = item_id in self._index()
        if item_id not in bundle.items:
            if not in_catalogue:
                raise NotFound(f"unknown item {item_id!r}")
            return self._similar_by_text(item_id, k, flt)
        allowed = self._allowed(bundle, flt)
        n = bundle.model.n_items
        depth = n - 1 if flt is not None and not flt.empty else min(n - 1, max(4 * k, 50))
        ids, scores = bundle.model.similar_items(np.array([bundle.items.index(item_id)]), k=max(depth, 1))
        keep = (ids[0] >= 0) & np.isfinite(scores[0])
        keep[keep] &= allowed[ids[0][keep]]
        ids, scores = ids[0][keep][:k], scores[0][keep][:k]
        title = self.store.titles([item_id]).get(item_id, item_id)
        recs = self._describe(bundle, ids, scores, [None] * len(ids))
        for r in recs:
            r.reason, r.because = f"similar to {title}", item_id
        return recs

    def _similar_by_text(self, item_id: str, k: int, flt: SearchFilter | None) -> list[Recommendation]:
        with self._lock:
            index = self._index()
            self._check_filter(flt)
            doc = index.get(item_id)
            result = index.search(" ".join(doc.fields.values()), k=k + 1, filter=flt)
        hits = [h for h in result.hits if h.doc_id != item_id][:k]
        title = doc.fields.get("title", item_id)
        return [Recommendation(str(h.doc_id), float(h.score), (h.document or {}).get("fields", {}).get("title", ""),
                               f"text similar to {title}", item_id) for h in hits]

    def search(self, query: str, k: int = 10, flt: SearchFilter | None = None, facets: Sequence[str] | None = None,
               weights: dict[str, float] | None = None) -> SearchResult:
        """The catalogue search. The query is embedded before the engine's lock is taken, through the encoder's
        batcher, so that concurrent queries are embedded together while only the index lookup is serialised."""
        vector = self._query_vector(query, weights)
        with self._lock:
            self._check_filter(flt, facets)
            return self._index().search(query, k=k, filter=flt, facets=facets, weights=weights, query_vector=vector)

    def _query_vector(self, query: str, weights: dict[str, float] | None) -> np.ndarray | None:
        index = self.index
        if index is None or index.vectors is None or index.encoder is None or not query.strip():
            return None
        if (weights if weights is not None else index.config.hybrid.weights).get("dense", 0) <= 0:
            return None
        return index.encoder.encode_query(query)
