"""Catalogue items that the active model has never seen (upserted after it was trained): recommendable through
their content until the next training run.

A new item borrows its score from the items its text is closest to: its score for a user is the
similarity-weighted mean of the model's scores of its nearest known items, found by searching the catalogue
index with the new item's text (BM25, fused with dense text-embedding similarity when the index has an encoder).
So a new space-opera title ranks high for a user whose model scores favour the space operas it resembles, and low
for everyone else, on the model's own scale; the reason names the known item it resembles most for that user.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fathom.data.vocab import Vocabulary
from fathom.retrieval.search_index import SearchIndex

NEW_ITEM_REASON = "new item, its text is like {title}"


@dataclass(frozen=True)
class TextNeighbours:
    """The known items a new item's text is closest to: model item indices (M,) and similarity weights (M,) > 0."""

    items: np.ndarray
    weights: np.ndarray


def text_neighbours(index: SearchIndex, item_id: str, known: Vocabulary, depth: int = 10) -> TextNeighbours:
    """Up to ``depth`` known items whose text best matches ``item_id``'s (searched in ``index``)."""
    doc = index.get(item_id)
    text = " ".join(v for v in doc.fields.values() if v)
    hits = index.search(text, k=4 * depth + 1).hits if text.strip() else []
    pairs = [(known.index(h.doc_id), float(h.score)) for h in hits
             if h.doc_id != item_id and h.doc_id in known and h.score > 0][:depth]
    return TextNeighbours(np.array([p[0] for p in pairs], dtype=np.int64),
                          np.array([p[1] for p in pairs], dtype=np.float32))


def borrowed_score(scores: np.ndarray, neighbours: TextNeighbours) -> tuple[float, int | None]:
    """(score, neighbour contributing most) of a new item: the weighted mean of its neighbours' finite model
    scores; (-inf, None) when it has no neighbour."""
    if len(neighbours.items) == 0:
        return float("-inf"), None
    values = scores[neighbours.items]  # (M,)
    ok = np.isfinite(values)
    if not ok.any():
        return float("-inf"), None
    w, v = neighbours.weights[ok], values[ok]
    best = int(neighbours.items[ok][np.argmax(w * (v - v.min() + 1e-6))])
    return float((w * v).sum() / w.sum()), best
