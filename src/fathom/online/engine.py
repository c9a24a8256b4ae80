"""The engine behind the web service: the store, the active model version and the catalogue search index.

Reads see writes at once: recommendations exclude every item in the store's events for the user (including
events that arrived after training) and fold those events into the scores of linear models; a catalogue item
that is upserted is searchable (and recommendable, once the model knows it) at the next request.

Thread-safe within a process: the model is swapped atomically; index reads and writes share a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fathom.config import Config
from fathom.models.base import topk_rows
from fathom.online.errors import Conflict, NoActiveModel, NotFound
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.scoring import affinity, fold_in_scores, item_item_weights, top_contributors
from fathom.online.store import Store
from fathom.online.versions import ModelBundle, load_version
from fathom.retrieval.filters import SearchFilter
from fathom.retrieval.lexical import LexicalConfig
from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig, SearchResult
from fathom.text.encoders import Encoder, EncoderName

POPULAR = "popular"


class EngineConfig(Config):
    encoder: EncoderName | None = None
    """Dense encoder of the search index; None: lexical (BM25) search only."""
    fold_in_limit: int = 500
    """Most recent distinct items of a user used for fold-in scoring and reasons."""
    text_fields: dict[str, float] = {"title": 2.0, "description": 1.0}


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

    @classmethod
    def open(cls, folder: str | Path, config: EngineConfig | None = None, encoder: Encoder | None = None) -> Engine:
        engine = cls(Store(folder), config, encoder)
        engine.reload_model()
        engine.load_index()
        return engine

    def close(self) -> None:
        if self._index_changes:
            self.save_index()
        self.store.close()

    # ------------------------------------------------------------------------------------------- models
    def reload_model(self) -> None:
        """Load the store's active model version (none: recommendations answer 503 until one is activated)."""
        record = self.store.active_version()
        self._set_bundle(load_version(self.store, record) if record is not None else None)

    def _set_bundle(self, bundle: ModelBundle | None) -> None:
        popularity = None
        if bundle is not None:
            counts = self.store.item_popularity()
            popularity = np.array([counts.get(i, 0) for i in bundle.items.ids], dtype=np.float32)
        self.bundle, self._popularity = bundle, popularity

    def _require_bundle(self) -> tuple[ModelBundle, np.ndarray]:
        bundle, popularity = self.bundle, self._popularity
        if bundle is None or popularity is None:
            raise NoActiveModel("no model version is active: activate one (POST /models/{version}/activate)")
        return bundle, popularity

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
        if stamp.is_file() and stamp.read_text().strip() == str(revision):
            index = SearchIndex.load(folder, self._encoder)
        else:
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
        count = self.store.upsert_items(items)
        with self._lock:
            self._index().add([item.document() for item in items])
            self._index_changes += 1
            self._index_revision += 1  # one store revision per upsert_items call
            self._epoch += 1
        return count

    def delete_item(self, item_id: str) -> None:
        self.store.delete_item(item_id)
        with self._lock:
            index = self._index()
            if item_id in index:
                index.delete([item_id])
            self._index_changes += 1
            self._index_revision += 1
            self._epoch += 1

    def ingest(self, events: Sequence[EventRecord]) -> int:
        """Store events in one transaction; every item must be in the catalogue (NotFound names the first)."""
        missing = self.store.missing_items(e.item_id for e in events)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise NotFound(f"unknown item {missing[0]!r}{more}: add it with PUT /items/{{item_id}} first")
        return self.store.add_events(events)

    def delete_user(self, user_id: str) -> int:
        return self.store.delete_user(user_id)

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
        if item_item_weights(model) is None and user_id is not None and user_id in bundle.users:
            scores = model.score(np.array([bundle.users.index(user_id)]))[0].copy()  # (n_items,)
        else:
            scores = fold_in_scores(model, recent, popularity)
        if popularity.max() > 0:  # equal scores (e.g. items no history item reaches) go by popularity
            scores = scores + 1e-6 * popularity / popularity.max()
        scores[~allowed] = -np.inf
        ids, top = topk_rows(scores[None, :], k)
        keep = ids[0] >= 0
        ids, top = ids[0][keep], top[0][keep]
        sources = top_contributors(affinity(model, recent) if len(recent) else None, recent, ids)
        return self._describe(bundle, ids, top, sources)

    def _describe(self, bundle: ModelBundle, ids: np.ndarray, scores: np.ndarray,
                  sources: Sequence[int | None]) -> list[Recommendation]:
        item_ids = [str(x) for x in bundle.items.decode(ids)]
        source_ids = [None if s is None else str(bundle.items.decode(int(s))) for s in sources]
        titles = self.store.titles(item_ids + [s for s in source_ids if s is not None])
        out = []
        for item, score, src in zip(item_ids, scores, source_ids, strict=True):
            reason = f"because you interacted with {titles.get(src, src)}" if src is not None else POPULAR
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
        with self._lock:
            self._check_filter(flt, facets)
            return self._index().search(query, k=k, filter=flt, facets=facets, weights=weights)
