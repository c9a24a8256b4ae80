"""The engine's knowledge graph: reasons that name a path a person can check at a glance
(``Fargo -[genre]-> Crime <-[genre]- Heat``), a part of :class:`~fathom.online.engine.Engine`.

Where the graph comes from, first found wins:

1. the folder :attr:`EngineConfig.kg <fathom.online.engine.EngineConfig.kg>` names (``fathom serve --kg DIR``,
   ``FATHOM_KG``): a graph written by ``fathom kg build``, read once;
2. the data folder's ``kg/`` when it holds one (``fathom serve --from-run`` copies a run's);
3. the catalogue itself: each categorical attribute links an item to its values (genres, brand, director), a
   numeric ``year`` or ``release_year`` to its decade (:func:`catalogue_graph`); built when a reason first needs
   it and again after the catalogue changed, so upserted items have paths too.

A recommendation whose reason cites an item (the history item behind it, or the item a similar-items list is
for) gets the shortest, most specific path between the two within two hops (:meth:`KnowledgeGraph.reason`), when
there is one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from fathom.data.kg import RELATION_NAMES, KnowledgeGraph
from fathom.online.records import ItemRecord
from fathom.online.store import Store

if TYPE_CHECKING:
    from fathom.online.engine import EngineConfig
    from fathom.online.engine_reads import Recommendation

logger = logging.getLogger(__name__)

KG_FOLDER = "kg"
"""The data folder's sub-folder read for a knowledge graph when none is configured."""
YEAR_ATTRIBUTES = ("year", "release_year")


def catalogue_graph(items: Sequence[ItemRecord]) -> KnowledgeGraph | None:
    """A graph from catalogue items' attributes: every categorical attribute read as a list (an item links to
    each value), ``year`` / ``release_year`` to its decade; None when the items have no such attribute."""
    rows: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    for item in items:
        row: dict[str, Any] = {"item_id": item.item_id, "title": item.title}
        for name, values in item.categorical.items():
            row[name] = [values] if isinstance(values, str) else list(values)
            kinds[name] = "list"
        for name in YEAR_ATTRIBUTES:
            if name in item.numeric and kinds.get(name, "decade") == "decade":
                row[name] = item.numeric[name]
                kinds[name] = "decade"
        rows.append(row)
    if not kinds:
        return None
    frame = pd.DataFrame(rows, columns=["item_id", "title", *sorted(kinds)])
    specs = [{"name": c, "kind": kinds[c], "relation": _relation(c)} for c in sorted(kinds)]
    return KnowledgeGraph.from_catalog(frame, specs)


def _relation(attribute: str) -> str:
    return RELATION_NAMES.get(attribute, attribute.replace("_", " "))


class EngineGraph:
    """The knowledge-graph side of the engine: ``store``, ``config``, ``_lock`` and ``_epoch`` (bumped by every
    catalogue change) from :class:`~fathom.online.engine.Engine`."""

    store: Store
    config: EngineConfig
    _lock: threading.RLock
    _epoch: int
    _graph: KnowledgeGraph | None
    _graph_key: tuple[str, int] | None  # (source, catalogue epoch) the graph was built for

    def graph_folder(self) -> Path | None:
        """The folder the graph is read from (1. and 2. above), None when it is built from the catalogue."""
        if self.config.kg is not None:
            return Path(self.config.kg)
        own = self.store.folder / KG_FOLDER
        return own if (own / "kg.json").is_file() else None

    def knowledge_graph(self) -> KnowledgeGraph | None:
        """The graph (see the module docstring); None when there is none to read or build."""
        folder = self.graph_folder()
        key = (str(folder), -1) if folder is not None else ("catalogue", self._epoch)
        with self._lock:
            if self._graph_key != key:
                if folder is not None:
                    self._graph = KnowledgeGraph.load(folder)
                    logger.info("knowledge graph from %s: %d entities, %d triples", folder,
                                self._graph.n_entities, len(self._graph.triples))
                else:
                    self._graph = catalogue_graph(self.store.items())
                self._graph_key = key
            return self._graph

    def _with_paths(self, recs: list[Recommendation], source: str | None = None) -> list[Recommendation]:
        """``recs`` with the graph path from the item each cites (``source`` for all when given, else its own
        ``because``) to it: its steps and its short text (``both: genre Crime``)."""
        graph = self.knowledge_graph()
        if graph is None:
            return recs
        for r in recs:
            cited = source if source is not None else r.because
            if cited is None or cited == r.item_id:
                continue
            found = graph.reason(cited, r.item_id)
            if found is not None:
                r.path, r.path_text = found["steps"], found["text"]
        return recs
