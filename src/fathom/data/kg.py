"""A knowledge graph over a catalogue: typed (head, relation, tail) triples between named entities.

Items are entities too (key ``item:<id>``, named by their title), so a path between two items reads as a person
would check it: ``Fargo -[directed by]-> Joel Coen <-[directed by]- Blood Simple``. Graphs come from

- a catalogue's columns (:meth:`KnowledgeGraph.from_catalog`): a list column (genres, cast) links an item to each
  value, a path column (a category path) to each level (levels linked by ``subcategory of``), a year column to its
  decade, any other column to its value; readable names are the values themselves;
- triples and item links in RecBole's atomic files (:meth:`KnowledgeGraph.from_triples`, e.g. the Freebase graph
  of MovieLens-100K: ``.kg`` head/relation/tail and ``.link`` item/entity), whose entities have no names (their
  ids are shown) while linked items take their titles;
- :meth:`KnowledgeGraph.merge` of several.

What the models read is :meth:`KnowledgeGraph.item_entities`: the (n_items, n_features) 0/1 matrix of each item's
one-hop entities (a feature kept when it links at least ``min_items`` and at most ``max_share`` of the items).
Saved as ``kg.json`` (entities, names, types, relations) and ``kg_triples.npy`` (int32), no pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from fathom.config import Config

ColumnKind = Literal["list", "path", "decade", "value"]
#: how a column is read when its kind is not given, by name
DEFAULT_KINDS: dict[str, ColumnKind] = {
    "genres": "list", "genre": "list", "cast": "list", "actors": "list", "directors": "list", "director": "list",
    "writers": "list", "tags": "list", "keywords": "list", "categories": "path", "category": "path",
    "year": "decade", "release_year": "decade", "brand": "value", "studio": "value", "language": "value",
}
#: readable relation names, by column
RELATION_NAMES: dict[str, str] = {
    "genres": "genre", "genre": "genre", "cast": "stars", "actors": "stars", "directors": "directed by",
    "director": "directed by", "writers": "written by", "categories": "category", "category": "category",
    "year": "decade", "release_year": "decade", "brand": "brand", "tags": "tag", "keywords": "keyword",
}
SUBCATEGORY = "subcategory of"


class KGColumn(Config):
    """How one catalogue column becomes entities."""

    name: str = Field(..., min_length=1, description="the catalogue column")
    kind: ColumnKind | None = Field(None, description="list | path | decade | value (None: guessed from the name)")
    separator: str = Field(",", min_length=1, description="between the values of a list or the levels of a path "
                                                          "held as one string")
    max_values: int | None = Field(None, ge=1, description="keep the first values of a list (top-billed cast)")
    relation: str | None = Field(None, description="the relation's readable name (default from the column)")

    def resolved_kind(self) -> ColumnKind:
        return self.kind or DEFAULT_KINDS.get(self.name, "value")

    def resolved_relation(self) -> str:
        return self.relation or RELATION_NAMES.get(self.name, self.name.replace("_", " "))


@dataclass(eq=False)
class KnowledgeGraph:
    """Entities (key, readable name, type) and int32 (T, 3) triples (head, relation, tail) over their indices."""

    keys: list[str]
    names: list[str]
    types: list[str]
    relations: list[str]
    triples: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False)
    _adjacency: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    _edges: dict[tuple[int, int], tuple[int, bool]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {k: i for i, k in enumerate(self.keys)}
        if len(self._index) != len(self.keys):
            raise ValueError("knowledge graph: entity keys must be unique")
        self.triples = np.asarray(self.triples, dtype=np.int32).reshape(-1, 3)
        if len(self.triples) and (self.triples[:, [0, 2]].max() >= len(self.keys) or self.triples.min() < 0
                                  or self.triples[:, 1].max() >= len(self.relations)):
            raise ValueError("knowledge graph: a triple names an entity or relation that does not exist")

    # ---- building -------------------------------------------------------------------------------------------
    @classmethod
    def from_catalog(cls, frame: pd.DataFrame, columns: Sequence[str | KGColumn | Mapping[str, Any]] | None = None,
                     id_column: str = "item_id", name_column: str | None = "title") -> KnowledgeGraph:
        """A graph from catalogue columns (default: every column with a known kind, :data:`DEFAULT_KINDS`)."""
        if id_column not in frame.columns:
            raise ValueError(f"catalogue has no {id_column!r} column (columns: {sorted(frame.columns)})")
        if columns is None:
            columns = [c for c in frame.columns if c in DEFAULT_KINDS]
            if not columns:
                raise ValueError(f"no column of a known kind among {sorted(frame.columns)}; name them "
                                 f"(e.g. columns=['brand', 'categories'])")
        specs = [c if isinstance(c, KGColumn) else KGColumn(name=c) if isinstance(c, str) else KGColumn(**c)
                 for c in columns]
        missing = [s.name for s in specs if s.name not in frame.columns]
        if missing:
            raise ValueError(f"KG column(s) {missing} are not catalogue columns: {sorted(frame.columns)}")
        builder = _Builder()
        names = frame[name_column] if name_column and name_column in frame.columns else None
        for row, item_id in enumerate(frame[id_column]):
            title = _text(names.iloc[row]) if names is not None else ""
            builder.entity(item_key(item_id), title or str(item_id), "item")
        for spec in specs:
            relation, kind = spec.resolved_relation(), spec.resolved_kind()
            for item_id, value in zip(frame[id_column], frame[spec.name], strict=True):
                head = builder.entity(item_key(item_id), str(item_id), "item")
                for key, name, parent in _entities(spec, kind, value):
                    tail = builder.entity(key, name, spec.name)
                    builder.triple(head, relation, tail)
                    if parent is not None:
                        builder.triple(tail, SUBCATEGORY, builder.index[parent])
        return builder.graph()

    @classmethod
    def from_triples(cls, triples: pd.DataFrame, links: pd.DataFrame | None = None,
                     item_names: Mapping[Any, str] | None = None, prefix: str = "fb") -> KnowledgeGraph:
        """A graph from (head, relation, tail) rows (the first three columns) and item links (item, entity):
        a linked entity becomes the item itself; other entities are keyed ``<prefix>:<id>``."""
        if triples.shape[1] < 3:
            raise ValueError(f"triples need three columns (head, relation, tail), got {list(triples.columns)}")
        item_of: dict[str, Any] = {}
        if links is not None:
            if links.shape[1] < 2:
                raise ValueError(f"links need two columns (item, entity), got {list(links.columns)}")
            item_of = {str(e): i for i, e in zip(links.iloc[:, 0], links.iloc[:, 1], strict=True)}
        builder = _Builder()
        names = {item_key(k): str(v) for k, v in (item_names or {}).items()}
        for item in item_of.values():
            builder.entity(item_key(item), names.get(item_key(item), str(item)), "item")

        def node(raw: Any, relation: str) -> int:
            raw = str(raw)
            if raw in item_of:
                key = item_key(item_of[raw])
                return builder.entity(key, names.get(key, key[5:]), "item")
            return builder.entity(f"{prefix}:{raw}", raw, relation.split(".")[-1] if "." in relation else prefix)

        for h, r, t in zip(triples.iloc[:, 0], triples.iloc[:, 1], triples.iloc[:, 2], strict=True):
            relation = str(r)
            builder.triple(node(h, relation), relation, node(t, relation))
        return builder.graph()

    @classmethod
    def merge(cls, *graphs: KnowledgeGraph) -> KnowledgeGraph:
        """One graph with every entity (by key; the first readable name wins) and every distinct triple."""
        builder = _Builder()
        for g in graphs:
            local = [builder.entity(k, n, t) for k, n, t in zip(g.keys, g.names, g.types, strict=True)]
            for h, r, t in g.triples:
                builder.triple(local[h], g.relations[r], local[t])
        return builder.graph()

    # ---- reading --------------------------------------------------------------------------------------------
    def entity(self, key: str) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no entity {key!r} in the knowledge graph") from None

    def item(self, item_id: Any) -> int:
        return self.entity(item_key(item_id))

    def has_item(self, item_id: Any) -> bool:
        return item_key(item_id) in self._index

    @property
    def n_entities(self) -> int:
        return len(self.keys)

    @cached_property
    def n_items(self) -> int:
        """Entities that are items."""
        return sum(t == "item" for t in self.types)

    def summary(self) -> dict[str, Any]:
        types = pd.Series(self.types).value_counts()
        rels = pd.Series(self.triples[:, 1]).map(dict(enumerate(self.relations))).value_counts()
        return {"entities": self.n_entities, "items": int(types.get("item", 0)), "triples": len(self.triples),
                "relations": len(self.relations), "entity types": {str(k): int(v) for k, v in types.items()},
                "triples by relation": {str(k): int(v) for k, v in rels.head(20).items()}}

    def adjacency(self) -> sp.csr_matrix:
        """(E, E) undirected adjacency; a value is 1 + the index of a relation joining the pair."""
        if self._adjacency is None:
            h, r, t = self.triples[:, 0], self.triples[:, 1], self.triples[:, 2]
            rows, cols = np.concatenate([h, t]), np.concatenate([t, h])
            data = np.concatenate([r, r]).astype(np.int32) + 1
            adj = sp.csr_matrix((data, (rows, cols)), shape=(self.n_entities, self.n_entities))
            adj.sum_duplicates()  # parallel relations add up; relation_between reads the triples instead
            self._adjacency = adj
        return self._adjacency

    def neighbours(self, node: int) -> np.ndarray:
        adj = self.adjacency()
        return adj.indices[adj.indptr[node]:adj.indptr[node + 1]]

    def relation_between(self, a: int, b: int) -> tuple[str, bool]:
        """(relation name, True when the triple reads a -> b) of a triple joining ``a`` and ``b`` (the first
        such triple, a forward one before a backward one)."""
        if self._edges is None:
            edges: dict[tuple[int, int], tuple[int, bool]] = {}
            for h, r, t in reversed(self.triples.tolist()):  # reversed: the first triple of a pair wins
                edges[(t, h)] = (r, False)
            for h, r, t in reversed(self.triples.tolist()):  # forward readings win over backward ones
                edges[(h, t)] = (r, True)
            self._edges = edges
        found = self._edges.get((int(a), int(b)))
        if found is None:
            raise KeyError(f"no triple joins {self.keys[a]!r} and {self.keys[b]!r}")
        return self.relations[found[0]], found[1]

    def item_neighbours(self, item_id: Any, limit: int = 50) -> list[dict[str, Any]]:
        """An item's one-hop entities: relation, entity, and how many other items share it."""
        node = self.item(item_id)
        out = []
        for other in self.neighbours(node)[:limit]:
            relation, _ = self.relation_between(node, int(other))
            sharing = int(sum(self.types[x] == "item" for x in self.neighbours(int(other)))) - 1
            out.append({"relation": relation, "entity": self.names[other], "key": self.keys[other],
                        "type": self.types[other], "other items": max(sharing, 0)})
        return out

    def paths(self, a: int, b: int, max_hops: int = 4, limit: int = 10, max_degree: int = 2000) -> list[list[int]]:
        """Shortest paths (node lists) from ``a`` to ``b`` of at most ``max_hops`` edges, up to ``limit`` of them,
        the most specific first (fewest items sharing the nodes in between); nodes with more than ``max_degree``
        neighbours are not passed through (hubs explain nothing). Walks meet in the middle: half the hops from
        each end."""
        if a == b:
            return [[a]]
        degree = np.diff(self.adjacency().indptr)
        half = (max_hops + 1) // 2
        from_a, from_b = self._walks(a, half, degree, max_degree), self._walks(b, max_hops - half, degree, max_degree)
        for hops in range(1, max_hops + 1):
            left, right = (hops + 1) // 2, hops // 2
            ends: dict[int, list[list[int]]] = {}
            for walk in from_b[right]:
                ends.setdefault(walk[-1], []).append(walk)
            found = []
            for walk in from_a[left]:
                middle = walk[-1]
                if 0 < left < hops and degree[middle] > max_degree:
                    continue
                for back in ends.get(middle, ()):
                    path = walk + back[-2::-1]
                    if len(set(path)) == len(path):
                        found.append(path)
            if found:
                return sorted(found, key=lambda p: (sum(int(degree[x]) for x in p[1:-1]), p))[:limit]
        return []

    def _walks(self, start: int, depth: int, degree: np.ndarray, max_degree: int) -> list[list[list[int]]]:
        """Simple walks from ``start`` by length (0..depth), not passing through hubs."""
        adj = self.adjacency()
        layers = [[[start]]]
        for _ in range(depth):
            following = []
            for walk in layers[-1]:
                last = walk[-1]
                if len(walk) > 1 and degree[last] > max_degree:
                    continue
                following.extend(walk + [int(n)] for n in adj.indices[adj.indptr[last]:adj.indptr[last + 1]]
                                 if int(n) not in walk)
            layers.append(following)
        return layers

    def describe_path(self, path: Sequence[int]) -> str:
        """``A -[rel]-> B <-[rel]- C`` with readable names (:meth:`steps` written out)."""
        steps = self.steps(path)
        return " ".join([steps[0]["name"]] + [
            f"-[{s['relation']}]-> {s['name']}" if s["forward"] else f"<-[{s['relation']}]- {s['name']}"
            for s in steps[1:]])

    def steps(self, path: Sequence[int]) -> list[dict[str, Any]]:
        """A path's nodes as dicts: ``name``, ``type``, and, from the second on, the ``relation`` of the edge that
        reaches it and ``forward`` (True when the triple reads previous -> this node)."""
        out: list[dict[str, Any]] = [{"name": self.names[path[0]], "type": self.types[path[0]]}]
        for x, y in zip(path, path[1:], strict=False):
            relation, forward = self.relation_between(x, y)
            out.append({"name": self.names[y], "type": self.types[y], "relation": relation, "forward": forward})
        return out

    def reason(self, history_item: Any, item: Any, max_hops: int = 2) -> dict[str, Any] | None:
        """Why ``item`` follows from ``history_item`` in the graph: the most specific shortest path between them
        (within ``max_hops``), as readable text (``both: directed by Joel Coen``), as one line
        (:meth:`describe_path`) and as its :meth:`steps`; None when either is not in the graph or no path is that
        short."""
        if not (self.has_item(history_item) and self.has_item(item)):
            return None
        found = self.paths(self.item(history_item), self.item(item), max_hops=max_hops, limit=1)
        if not found:
            return None
        path = found[0]
        middle = [self.names[x] for x in path[1:-1]]
        text = self._shared_text(path[0], path[-1], most=3) if len(path) == 3 else self.describe_path(path)
        return {"text": text, "path": self.describe_path(path), "entities": middle, "steps": self.steps(path)}

    def _shared_text(self, a: int, b: int, most: int) -> str:
        """``both: genre War, Sci-Fi; decade 1970s``: up to ``most`` entities linked to both ``a`` and ``b``, the
        most specific (fewest neighbours) first, grouped by relation; after the first, only entities linked to at
        most half of the items (one that most items share says little)."""
        degree = np.diff(self.adjacency().indptr)
        shared = sorted(set(self.neighbours(a).tolist()) & set(self.neighbours(b).tolist()),
                        key=lambda x: (int(degree[x]), x))
        shared = shared[:1] + [x for x in shared[1:] if degree[x] <= self.n_items / 2][: most - 1]
        by_relation: dict[str, list[str]] = {}
        for x in shared:
            by_relation.setdefault(self.relation_between(a, x)[0], []).append(self.names[x])
        return "both: " + "; ".join(f"{rel} {', '.join(names)}" for rel, names in by_relation.items())

    def item_entities(self, item_ids: Sequence[Any], min_items: int = 2, max_share: float = 0.5,
                      relations: Iterable[str] | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
        """(n_items, F) float32 0/1 CSR of each item's one-hop entities (row i = ``item_ids[i]``; an item absent
        from the graph has an empty row) and the (F,) entity index of each column. Other items linked directly
        count as entities too. A feature is kept when it links ``min_items`` to ``max_share`` of the items."""
        keep_rel = None if relations is None else {self.relations.index(r) for r in relations}
        row_of = {self._index[item_key(i)]: r for r, i in enumerate(item_ids) if item_key(i) in self._index}
        rows, cols = [], []
        for h, r, t in self.triples:
            if keep_rel is not None and r not in keep_rel:
                continue
            if h in row_of:
                rows.append(row_of[h]), cols.append(t)
            if t in row_of:
                rows.append(row_of[t]), cols.append(h)
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(item_ids), self.n_entities))
        m.data[:] = 1.0  # duplicates summed -> 1
        counts = np.asarray((m > 0).sum(axis=0)).ravel()
        kept = np.flatnonzero((counts >= min_items) & (counts <= max(max_share * len(item_ids), min_items)))
        out = sp.csr_matrix(m[:, kept], dtype=np.float32)
        out.data[:] = 1.0
        return out, kept

    # ---- files ----------------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": "fathom-kg/1", "keys": self.keys, "names": self.names, "types": self.types,
                "relations": self.relations}
        (folder / "kg.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.save(folder / "kg_triples.npy", self.triples.astype(np.int32), allow_pickle=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> KnowledgeGraph:
        folder = Path(folder)
        path = folder / "kg.json"
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: no kg.json (build one with `fathom kg build`)")
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format") != "fathom-kg/1":
            raise ValueError(f"{path}: not a Fathom knowledge graph (format {meta.get('format')!r})")
        triples = np.load(folder / "kg_triples.npy", allow_pickle=False)
        return cls(meta["keys"], meta["names"], meta["types"], meta["relations"], triples)


def item_key(item_id: Any) -> str:
    if isinstance(item_id, float) and item_id.is_integer():
        item_id = int(item_id)
    return f"item:{item_id}"


class _Builder:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.keys: list[str] = []
        self.names: list[str] = []
        self.types: list[str] = []
        self.relations: dict[str, int] = {}
        self.seen: set[tuple[int, int, int]] = set()
        self.triples: list[tuple[int, int, int]] = []

    def entity(self, key: str, name: str, kind: str) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.keys)
            self.keys.append(key), self.names.append(name), self.types.append(kind)
        elif self.names[i] == key.split(":", 1)[-1] and name != self.names[i]:
            self.names[i] = name  # a readable name replaces a bare id
        return i

    def triple(self, head: int, relation: str, tail: int) -> None:
        r = self.relations.setdefault(relation, len(self.relations))
        t = (head, r, tail)
        if t not in self.seen and head != tail:
            self.seen.add(t)
            self.triples.append(t)

    def graph(self) -> KnowledgeGraph:
        return KnowledgeGraph(self.keys, self.names, self.types, list(self.relations),
                              np.array(self.triples, dtype=np.int32).reshape(-1, 3))


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def _values(value: Any, separator: str) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        items = [_text(v) for v in value]
    else:
        text = _text(value)
        items = [v.strip() for v in text.split(separator)] if text else []
    return [v for v in items if v]


def _entities(spec: KGColumn, kind: ColumnKind, value: Any) -> list[tuple[str, str, str | None]]:
    """(key, name, parent key or None) of the entities one cell links its item to."""
    column = spec.name
    if kind == "decade":
        text = _text(value)
        try:
            year = int(float(text))
        except ValueError:
            return []
        decade = year // 10 * 10
        return [(f"{column}:{decade}s", f"{decade}s", None)]
    if kind == "value":
        text = _text(value)
        return [(f"{column}:{text.lower()}", text, None)] if text else []
    values = _values(value, spec.separator)
    if kind == "list":
        values = values[: spec.max_values] if spec.max_values else values
        seen = dict.fromkeys(v.lower() for v in values)
        first = {v.lower(): v for v in reversed(values)}
        return [(f"{column}:{v}", first[v], None) for v in seen]
    out, parent = [], None  # a path: every level, each under the one before
    prefix: list[str] = []
    for level in values:
        prefix.append(level.lower())
        key = f"{column}:{' > '.join(prefix)}"
        out.append((key, level, parent))
        parent = key
    return out

