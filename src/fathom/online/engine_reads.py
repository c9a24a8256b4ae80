"""The engine's reads: recommendations for a known user or an anonymous visitor, similar items, with the reason
behind each (:class:`EngineReads`, a part of :class:`~fathom.online.engine.Engine`).

A user is scored from their stored history (events after training included) through the model's own
:meth:`~fathom.models.base.Recommender.score_history`, read as the engine's history policy says (the latest items
weigh more), with reasons from :meth:`~fathom.models.base.Recommender.explain`; catalogue items the model does
not know yet borrow scores through their text (:mod:`fathom.online.cold`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fathom.models.fold_in import explain_by_removal, rank_history
from fathom.online.cold import NEW_ITEM_REASON, TextNeighbours, borrowed_score, text_neighbours
from fathom.online.engine_graph import EngineGraph
from fathom.online.errors import NotFound
from fathom.online.store import Store
from fathom.online.versions import ModelBundle
from fathom.retrieval.filters import SearchFilter
from fathom.retrieval.personalise import Personaliser
from fathom.retrieval.search_index import Document, SearchIndex, SearchResult

if TYPE_CHECKING:
    from fathom.online.engine import EngineConfig

POPULAR = "popular"
PROFILE = "your overall taste: no single item you interacted with moves it"  # ?why: no removal lowers its score
BECAUSE = "because you interacted with {title}"
NEXT_AFTER = "next after {title}"  # a sequence model's prediction from the user's latest items


@dataclass
class Recommendation:
    item_id: str
    score: float
    title: str
    reason: str
    because: str | None = None  # the history item behind the reason, when there is one
    categorical: dict[str, list[str]] = field(default_factory=dict)  # the item's attributes, for item cards
    numeric: dict[str, float] = field(default_factory=dict)
    path: list[dict[str, Any]] | None = None  # knowledge-graph path from ``because`` to the item (its steps)
    path_text: str | None = None  # the path in a few words: "both: genre Crime"


class EngineReads(EngineGraph):
    """The recommendation side of the engine: state and ``_require_bundle`` from
    :class:`~fathom.online.engine.Engine`, ``search``, ``_query_vector``, ``_index`` and ``_check_filter`` from
    :class:`~fathom.online.engine_index.EngineIndex`."""

    store: Store
    config: EngineConfig
    bundle: ModelBundle | None
    index: SearchIndex | None
    _lock: threading.RLock
    _epoch: int
    _rows_key: tuple[int, int, int] | None
    _rows: np.ndarray
    _cold_ids: list[str]  # catalogue items the model does not know (valid for _rows_key)
    _neighbours: dict[str, TextNeighbours]  # of cold items, for the current bundle

    def _allowed(self, bundle: ModelBundle, flt: SearchFilter | None) -> np.ndarray:
        """(n_items,) bool over the model's items: in the catalogue now and passing ``flt``."""
        with self._lock:
            index = self._index()
            self._check_filter(flt)
            key = (bundle.version, self._epoch, len(bundle.items))
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

    def recommend_user(self, user_id: str, k: int = 10, flt: SearchFilter | None = None,
                       why: bool = False) -> list[Recommendation]:
        """Top-``k`` for a known user, every item in their stored events excluded (``why``: see
        :meth:`_recommend`)."""
        history = self.store.known_user_items(user_id)
        if history is None:
            raise NotFound(f"unknown user {user_id!r}")
        return self._attributed(self._recommend(history, k, flt, user_id, why))

    def recommend_recent(self, recent: Sequence[str], k: int = 10, flt: SearchFilter | None = None,
                         why: bool = False) -> list[Recommendation]:
        """Top-``k`` for an anonymous visitor from the items they just interacted with (most recent first)."""
        bundle, _ = self._require_bundle()
        unknown = [i for i in self.store.missing_items(recent) if i not in bundle.items]
        if unknown:
            raise NotFound(f"unknown item {unknown[0]!r}")
        return self._attributed(self._recommend(list(dict.fromkeys(recent)), k, flt, None, why))

    def _recommend(self, history_ids: list[str], k: int, flt: SearchFilter | None,
                   user_id: str | None, why: bool = False) -> list[Recommendation]:
        """The ranking of :func:`rank_history`, each item with the history item behind it: the model's own
        :meth:`~fathom.models.base.Recommender.explain`, or with ``why`` the faithful one
        (:func:`~fathom.models.fold_in.explain_by_removal`: the history item whose removal moves it furthest
        down, read again as serving reads it; costs one scoring per history item, up to 20); then the
        knowledge-graph path from that item to it where there is one."""
        bundle, popularity = self._require_bundle()
        history = bundle.items.encode([i for i in history_ids if i in bundle.items])  # (H,) recent first
        user = bundle.users.index(user_id) if user_id is not None and user_id in bundle.users else None
        ranked = rank_history(bundle.model, history, k, user, popularity, self._allowed(bundle, flt),
                              self.config.history)
        template = NEXT_AFTER if bundle.model.explanation == "next" else BECAUSE
        sources: Sequence[int | None] = ranked.sources
        if why and len(history) and len(ranked.items):
            sources, _ = explain_by_removal(bundle.model, history, ranked.items, user, popularity,
                                            self.config.history)
            template = BECAUSE
        recs = self._describe(bundle, ranked.items, ranked.scores, sources, template,
                              PROFILE if why and len(history) else POPULAR)
        recs = self._with_new_items(bundle, recs, ranked.raw, set(history_ids), k, flt)
        return self._with_paths(recs)

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
        titles = self._titles([e[0] for e in extra] + [e[2] for e in extra])
        recs = recs + [Recommendation(i, s, titles.get(i, i), NEW_ITEM_REASON.format(title=titles.get(b, b)), b)
                       for i, s, b in extra]
        return sorted(recs, key=lambda r: -r.score)[:k]  # stable: the model's order among its own items

    def _describe(self, bundle: ModelBundle, ids: np.ndarray, scores: np.ndarray, sources: Sequence[int | None],
                  template: str = BECAUSE, no_source: str = POPULAR) -> list[Recommendation]:
        item_ids = [str(x) for x in bundle.items.decode(ids)]
        source_ids = [None if s is None else str(bundle.items.decode(int(s))) for s in sources]
        titles = self._titles(item_ids + [s for s in source_ids if s is not None])
        out = []
        for item, score, src in zip(item_ids, scores, source_ids, strict=True):
            reason = template.format(title=titles.get(src, src)) if src is not None else no_source
            out.append(Recommendation(item, float(score), titles.get(item, item), reason, src))
        return out

    def _attributed(self, recs: list[Recommendation]) -> list[Recommendation]:
        """``recs`` with each item's catalogue attributes."""
        docs = self._documents([r.item_id for r in recs])
        for r in recs:
            if (doc := docs.get(r.item_id)) is not None:
                r.categorical, r.numeric = dict(doc.categorical), dict(doc.numeric)
        return recs

    def _documents(self, item_ids: Sequence[str]) -> dict[str, Document]:
        """The catalogue entries of ``item_ids`` (absent ids left out), read from the search index, which follows
        the store's catalogue revision (caught up at the start of each request: :meth:`Engine.refresh`); ids it
        lacks, or all of them while no index is loaded, are read from the store. No database round trip for what
        this process already holds."""
        ids = list(dict.fromkeys(item_ids))
        with self._lock:
            index = self.index
            found = {i: index.get(i) for i in ids if i in index} if index is not None else {}
        missing = [i for i in ids if i not in found]
        if missing:
            found.update((i, item.document()) for i, item in self.store.get_items(missing).items())
        return found

    def _titles(self, item_ids: Sequence[str]) -> dict[str, str]:
        return {i: doc.fields.get("title", "") for i, doc in self._documents(item_ids).items()}

    def personal_search(self, query: str, user_id: str, k: int = 10, flt: SearchFilter | None = None,
                        weight: float = 0.5) -> SearchResult:
        """The catalogue search with ``user_id``'s affinity (the active model's own scores) fused at ``weight``
        (:mod:`fathom.retrieval.personalise`); an empty query ranks the filtered catalogue by affinity. A user the
        model does not know gets the plain search."""
        bundle, _ = self._require_bundle()
        if user_id not in bundle.users:
            return self.search(query, k, flt)
        vector = self._query_vector(query, None)
        personaliser = Personaliser(bundle.model, bundle.users, bundle.items)
        with self._lock:
            self._check_filter(flt)
            return personaliser.search(self._index(), query, user_id, weight, k=k, filter=flt, query_vector=vector)

    def popular(self, k: int = 10, flt: SearchFilter | None = None,
                exclude: Sequence[str] = ()) -> list[Recommendation]:
        """The ``k`` items with the most events among those passing ``flt``, ``exclude`` left out."""
        bundle, popularity = self._require_bundle()
        allowed = self._allowed(bundle, flt).copy()
        allowed[bundle.items.encode([i for i in exclude if i in bundle.items])] = False
        scores = np.where(allowed, popularity, -np.inf)
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[np.isfinite(scores[order])]
        return self._attributed(self._describe(bundle, order, scores[order], [None] * len(order)))

    def similar(self, item_id: str, k: int = 10, flt: SearchFilter | None = None) -> list[Recommendation]:
        """Items most similar to ``item_id`` (see :meth:`_similar`), with their attributes."""
        return self._attributed(self._similar(item_id, k, flt))

    def _similar(self, item_id: str, k: int = 10, flt: SearchFilter | None = None) -> list[Recommendation]:
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
        title = self._titles([item_id]).get(item_id, item_id)
        recs = self._describe(bundle, ids, scores, [None] * len(ids))
        for r in recs:
            r.reason, r.because = f"similar to {title}", item_id
        return self._with_paths(recs)

    def _similar_by_text(self, item_id: str, k: int, flt: SearchFilter | None) -> list[Recommendation]:
        with self._lock:
            index = self._index()
            self._check_filter(flt)
            doc = index.get(item_id)
            result = index.search(" ".join(doc.fields.values()), k=k + 1, filter=flt)
        hits = [h for h in result.hits if h.doc_id != item_id][:k]
        title = doc.fields.get("title", item_id)
        return self._with_paths([Recommendation(str(h.doc_id), float(h.score),
                                                (h.document or {}).get("fields", {}).get("title", ""),
                                                f"text similar to {title}", item_id) for h in hits])
