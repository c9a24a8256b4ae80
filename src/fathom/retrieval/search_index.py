"""``SearchIndex``: hybrid search over a catalogue of documents, with filters, facets, updates and persistence.

A document has an id, text fields (searched), categorical attributes (filters, facets) and numeric attributes
(range filters). Documents can be added, replaced (same id) and deleted at any time without a full rebuild:

- lexical: analysed terms are kept per document; the BM25 matrices are rebuilt lazily from them at the next
  query (no re-analysis; ~0.2 s for 5k documents), so BM25 statistics stay exact;
- dense: new vectors are appended to the vector index; deleted or replaced rows are masked out;
- attributes: appended per row; masks and facets are vectorised over sparse incidence matrices.

Row numbers are never reused, so a deleted row stays as a tombstone (masked everywhere) until the catalogue is
rebuilt. Saved folders hold JSON, ``.npy`` arrays, bm25s's own index format and (for HNSW) faiss's index file;
nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from fathom.config import Config
from fathom.retrieval.filters import AttributeStore, SearchFilter
from fathom.retrieval.hybrid import (
    CandidateSignal,
    Hit,
    HybridConfig,
    Reranker,
    apply_reranker,
    fuse_candidates,
    hybrid_search,
)
from fathom.retrieval.lexical import LexicalConfig, LexicalIndex
from fathom.retrieval.query_understanding import (
    CatalogueFields,
    QueryUnderstanding,
    QueryUnderstandingConfig,
    boost_signal,
    understand_query,
)
from fathom.retrieval.vector_index import VectorIndex, VectorIndexKind, build_vector_index
from fathom.text.encoders import Encoder, EncoderName, get_encoder


class Document(BaseModel):
    """One catalogue entry."""

    model_config = ConfigDict(extra="forbid")

    id: str
    fields: dict[str, str] = {}
    categorical: dict[str, str | list[str]] = {}
    numeric: dict[str, float] = {}


class SearchIndexConfig(Config):
    """Text handling, dense encoder (None: lexical only), fusion, vector index kind, query understanding."""

    lexical: LexicalConfig = LexicalConfig()
    encoder: EncoderName | None = "minilm"
    hybrid: HybridConfig = HybridConfig()
    vector_index: VectorIndexKind = "auto"
    rerank_depth: int = 50
    understanding: QueryUnderstandingConfig = QueryUnderstandingConfig()
    dense_match_threshold: float = 0.5
    """Cosine similarity from which a document counts as a match of a query by meaning (for ``total`` and the
    facets, see :meth:`SearchIndex.matches`). 0.5 suits MiniLM on short titles: "star wars" matches 16 of the
    1,682 MovieLens titles (Star Wars, Return of the Jedi, Starship Troopers...), a string of nonsense none."""


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int  # documents passing the filter that match the query, whatever k (see SearchIndex.matches)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    corrections: dict[str, str] = field(default_factory=dict)  # index terms: query term -> the term read instead
    corrected_words: dict[str, str] = field(default_factory=dict)  # for people: typed word -> the written word read
    understanding: QueryUnderstanding | None = None  # with ``understand=True``: the constraints read from the query


class SearchIndex:
    """A searchable catalogue. ``encoder`` overrides the one named in the config (e.g. a test double)."""

    def __init__(self, config: SearchIndexConfig | None = None, encoder: Encoder | None = None) -> None:
        self.config = config or SearchIndexConfig()
        self._encoder = encoder
        self.lexical = LexicalIndex(self.config.lexical)
        self.attributes = AttributeStore()
        self.vectors: VectorIndex | None = None
        self.documents: list[Document | None] = []  # by row; None once deleted
        self.row_of: dict[str, int] = {}

    # ---------------------------------------------------------------- documents
    @property
    def encoder(self) -> Encoder | None:
        if self._encoder is None and self.config.encoder is not None:
            self._encoder = get_encoder(self.config.encoder)
        return self._encoder

    def __len__(self) -> int:
        return len(self.row_of)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self.row_of

    def get(self, doc_id: str) -> Document:
        return self.documents[self.row_of[doc_id]]  # type: ignore[return-value]

    def alive(self) -> np.ndarray:
        """(N,) bool: rows holding a current document."""
        return np.asarray([d is not None for d in self.documents], dtype=bool)

    def dense_text(self, doc: Document) -> str:
        return " ".join(doc.fields.get(f, "") for f in self.config.lexical.field_weights).strip()

    def add(
        self, docs: Iterable[Document | Mapping], vectors: np.ndarray | None = None, progress: bool = False
    ) -> None:
        """Add documents; a document whose id is already present replaces the old one. ``vectors``
        (n, d), unit norm, skips encoding."""
        batch = [d if isinstance(d, Document) else Document.model_validate(d) for d in docs]
        ids = [d.id for d in batch]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one add() call")
        self.delete([i for i in ids if i in self.row_of])
        if not batch:
            return
        if self.encoder is not None:
            if vectors is None:
                vectors = self.encoder.encode([self.dense_text(d) for d in batch], progress=progress)
            if self.vectors is None:
                kind = self.config.vector_index
                self.vectors = build_vector_index(np.asarray(vectors), kind=kind)
            else:
                self.vectors.add(np.asarray(vectors))
        rows = self.lexical.add([d.fields for d in batch])
        for doc, row in zip(batch, rows, strict=True):
            if self.attributes.append(doc.categorical, doc.numeric) != row:
                raise RuntimeError("attribute rows out of step with lexical rows")
            self.documents.append(doc)
            self.row_of[doc.id] = row

    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by id (KeyError for an unknown id)."""
        rows = [self.row_of[i] for i in ids]
        if not rows:
            return
        self.lexical.remove(rows)
        for r in rows:
            self.attributes.clear_row(r)
            doc = self.documents[r]
            assert doc is not None
            del self.row_of[doc.id]
            self.documents[r] = None

    # ---------------------------------------------------------------- search
    def search(
        self,
        query: str,
        k: int = 10,
        filter: SearchFilter | None = None,  # noqa: A002 - the natural name
        weights: Mapping[str, float] | None = None,
        facets: Sequence[str] | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
        reranker: Reranker | None = None,
        rescore: Mapping[str, CandidateSignal] | None = None,
        understand: bool = False,
        rerank: int | None = None,
        query_vector: np.ndarray | None = None,
    ) -> SearchResult:
        """Top-``k`` documents for ``query`` among those passing ``filter``, with per-signal scores, the number of
        matches (``total``) and the facet counts (``facets``: attribute names; default all categorical ones), both over
        every filtered match of the query whatever ``k`` (:meth:`matches`), and the typo corrections applied (the index
        terms in ``corrections``; for people, the typed words -> the catalogue's words in ``corrected_words``).
        ``weights`` overrides the fusion weights for this request; ``extra`` adds (N,) signals (e.g. a per-user score);
        ``rescore`` adds signals computed on the candidates only (they reorder matches, and rank the filtered catalogue
        of an empty query); ``reranker`` reorders the top ``rerank`` hits (default ``config.rerank_depth``), each
        keeping its cross-encoder score as ``scores["rerank"]``. ``understand`` reads price / year / colour / category
        constraints out of the query (:mod:`fathom.retrieval.query_understanding`), applies them with ``filter`` and
        reports them. ``query_vector``: the query's embedding when the caller computed it (e.g. outside a lock);
        otherwise it is embedded through :meth:`Encoder.encode_query`, which batches queries that arrive together."""
        if rerank is not None and (reranker is None or rerank < 1):
            raise ValueError(f"rerank={rerank} needs a reranker and a depth >= 1")
        mask = self.alive() & self.attributes.mask(filter)  # (N,)
        w = dict(self.config.hybrid.weights if weights is None else weights)
        rescore = dict(rescore or {})
        understanding = None
        if understand:
            understanding = self._understand(query)
            if understanding.text != query:
                query_vector = None  # embedded from the text left once the constraints are read out
            query = understanding.text
            mask &= self.attributes.mask(understanding.filter)
            if understanding.boosts:
                rescore["boost"] = boost_signal(self.attributes, understanding.boosts)
                w["boost"] = self.config.understanding.boost_weight
        if not query.strip():
            result = self._browse(mask, k, facets, rescore, w)
        else:
            result = self._query(query, k, mask, w, facets, extra, reranker, rescore, rerank, query_vector)
        result.understanding = understanding
        return result

    def _understand(self, query: str) -> QueryUnderstanding:
        cfg = self.config.understanding
        names = [*cfg.colour_fields, *cfg.category_fields]
        return understand_query(query, CatalogueFields.from_attributes(self.attributes, self.alive(), names), cfg)

    def _browse(self, mask: np.ndarray, k: int, facets: Sequence[str] | None, rescore: Mapping[str, CandidateSignal],
                weights: Mapping[str, float]) -> SearchResult:
        """An empty query: the filtered catalogue, in row order or ranked by the candidate signals."""
        rows = np.flatnonzero(mask)  # (M,)
        active = {name: weights[name] for name in rescore if weights.get(name, 0) > 0}
        if active and len(rows):
            signals = {name: np.asarray(fn(rows), dtype=np.float64) for name, fn in rescore.items()}
            hits = fuse_candidates(rows, signals, active, self.config.hybrid, k)
        else:
            hits = [Hit(row=int(r), score=0.0, scores={"fused": 0.0}) for r in rows[:k]]
        return self._finish(hits, int(mask.sum()), mask, facets, {})

    def _query(self, query: str, k: int, mask: np.ndarray, w: dict[str, float], facets: Sequence[str] | None,
               extra: Mapping[str, np.ndarray] | None, reranker: Reranker | None,
               rescore: Mapping[str, CandidateSignal], rerank: int | None = None,
               query_vector: np.ndarray | None = None) -> SearchResult:
        bm25 = qvec = None
        corrections: dict[str, str] = {}
        if w.get("bm25", 0) > 0 and self.lexical.n_alive:
            bm25 = self.lexical.scores(query)
            corrections = self.lexical.query_terms(query)[2]
        use_dense = w.get("dense", 0) > 0 and self.encoder is not None and self.vectors is not None
        if use_dense:
            qvec = self.encoder.encode_query(query) if query_vector is None else np.asarray(query_vector)
        words = self.lexical.corrected_words(query, corrections) if corrections else {}
        if bm25 is None and qvec is None and not extra:
            return self._finish([], 0, mask, facets, corrections, words)
        rerank = self.config.rerank_depth if rerank is None else rerank
        depth = max(k, rerank if reranker else k)
        hits = hybrid_search(depth, self.config.hybrid, bm25, qvec, self.vectors, mask, extra, weights=w,
                             rescore=rescore)
        hits = apply_reranker(query, hits, reranker, rerank)[:k]
        matched = self.matches(mask, bm25, qvec)  # (N,): counted whatever k
        return self._finish(hits, int(matched.sum()), matched, facets, corrections, words)

    def matches(self, mask: np.ndarray, bm25: np.ndarray | None, query_vector: np.ndarray | None) -> np.ndarray:
        """(N,) bool: the documents a query matches among the allowed ones in (N,) ``mask``, the set that ``total``
        and the facets count. It never depends on ``k``:

        - with BM25 taking part (``bm25``: (N,) scores), every document with a positive score: it holds a query
          term, typo-corrected terms included;
        - with the dense signal taking part (``query_vector``: (d,)), every document whose cosine similarity
          reaches ``config.dense_match_threshold``;
        - both: the union; neither (only caller-given signals rank): every allowed document.

        The ranked hits are the top ``k`` by fused score; when fewer than ``k`` documents match, the list goes on
        with the best-ranked others (nearest in meaning), so a short result may show more hits than ``total``."""
        if bm25 is None and query_vector is None:
            return mask.copy()
        matched = np.zeros(len(mask), dtype=bool)  # (N,)
        if bm25 is not None:
            matched |= np.asarray(bm25) > 0
        if query_vector is not None and self.vectors is not None:
            q = np.asarray(query_vector, dtype=np.float32)  # (d,)
            sims = self.vectors.vectors @ q  # (N',) exact cosine: vectors are unit norm; N' <= N rows have one
            n = min(len(sims), len(matched))
            matched[:n] |= sims[:n] >= self.config.dense_match_threshold
        return matched & mask

    def _finish(
        self, hits: list[Hit], total: int, mask: np.ndarray, facets: Sequence[str] | None, corrections: dict,
        corrected_words: dict | None = None,
    ) -> SearchResult:
        for h in hits:
            doc = self.documents[h.row]
            assert doc is not None
            h.doc_id = doc.id
            h.document = doc.model_dump()
        return SearchResult(hits, total, self.attributes.facets(mask, facets), corrections, corrected_words or {})

    # ---------------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` (created); :meth:`load` reads it back in a fresh process."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(self.config.to_json(), encoding="utf-8")
        with (folder / "documents.jsonl").open("w", encoding="utf-8") as f:
            for doc in self.documents:
                f.write(("null" if doc is None else doc.model_dump_json()) + "\n")
        (folder / "attributes.json").write_text(json.dumps(self.attributes.to_json()), encoding="utf-8")
        self.lexical.save(folder / "lexical")
        if self.vectors is not None:
            self.vectors.save(folder / "vectors")
        return folder

    @classmethod
    def load(cls, folder: str | Path, encoder: Encoder | None = None) -> SearchIndex:
        folder = Path(folder)
        if not (folder / "config.json").exists():
            raise FileNotFoundError(f"{folder} is not a saved search index (no config.json)")
        index = cls(SearchIndexConfig.from_json((folder / "config.json").read_text(encoding="utf-8")), encoder)
        with (folder / "documents.jsonl").open(encoding="utf-8") as f:
            for row, line in enumerate(f):
                raw = json.loads(line)
                doc = None if raw is None else Document.model_validate(raw)
                index.documents.append(doc)
                if doc is not None:
                    index.row_of[doc.id] = row
        index.attributes = AttributeStore.from_json(json.loads((folder / "attributes.json").read_text("utf-8")))
        index.lexical = LexicalIndex.load(folder / "lexical")
        if index.lexical.words_missing:  # saved before word counts were kept: count the live documents' words
            index.lexical.count_words(doc.fields for doc in index.documents if doc is not None)
        if (folder / "vectors").is_dir():
            index.vectors = VectorIndex.load(folder / "vectors")
        return index
