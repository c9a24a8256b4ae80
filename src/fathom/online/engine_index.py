"""The engine's catalogue search index: built from the store, saved beside it stamped with the catalogue revision
it reflects, caught up from the store's change log when another process changes the catalogue, searched with the
query embedded outside the lock (:class:`EngineIndex`, a part of :class:`~fathom.online.engine.Engine`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fathom.online.cold import TextNeighbours
from fathom.online.errors import Conflict, LimitExceeded
from fathom.online.records import ItemRecord
from fathom.online.store import Store
from fathom.retrieval.filters import SearchFilter
from fathom.retrieval.lexical import LexicalConfig
from fathom.retrieval.query_understanding import CatalogueFields
from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig, SearchResult
from fathom.text.encoders import Encoder

if TYPE_CHECKING:
    from fathom.online.engine import EngineConfig

logger = logging.getLogger("fathom.online.engine")


class EngineIndex:
    """The search-index side of the engine; the engine's lock guards the index."""

    store: Store
    config: EngineConfig
    index: SearchIndex | None
    _encoder: Encoder | None
    _lock: threading.RLock
    _index_changes: int  # changes since the index was last saved
    _epoch: int  # bumped by every index change or reload
    _index_revision: int  # the store catalogue revision the index reflects
    _neighbours: dict[str, TextNeighbours]

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

    @property
    def index_folder(self) -> Path:
        """The search index, per host: in the data folder even when the model versions live in a shared one."""
        return self.store.folder / "artefacts" / "index"

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

    @property
    def catalogue_epoch(self) -> int:
        """Bumped by every change of this process's catalogue index (a cache key for what is read from it)."""
        return self._epoch

    def catalogue_fields(self) -> CatalogueFields:
        """The catalogue's numeric attribute names and categorical values (of the items present now)."""
        with self._lock:
            index = self._index()
            return CatalogueFields.from_attributes(index.attributes, index.alive())

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
