"""Personalised search: the searching user's affinity, from a trained recommender, fused as one more signal.

For the candidates a query retrieves (BM25 and dense matches, after filters), the affinity of user u for the
item behind each candidate document is the recommender's own score, ``model.score_pairs(u, items)`` of the
:class:`~fathom.models.base.Recommender` contract (for an embedding model such as BPR the dot product of the
user and item vectors; for EASE / ItemKNN the item-item score of the user's history). It is min-max normalised
over the candidates the model knows (others get 0) and fused with the search signals under the index's fusion
rule, so every hit shows it as ``scores["personal"]`` beside ``bm25``, ``dense`` and ``fused``.

Weights: the request's search weights are normalised to sum to 1 over the signals the index has, and the
personal signal joins with ``weight`` beside them: 0 reproduces the unpersonalised ranking exactly, 1 gives
affinity as much say as the whole text match, larger values more. The affinity only reorders what the query
matched; it never adds items the query did not retrieve. An empty query (e.g. one reduced to filters by query
understanding) ranks the filtered catalogue by affinity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fathom.retrieval.fusion import minmax
from fathom.retrieval.hybrid import CandidateSignal

if TYPE_CHECKING:
    from fathom.data.vocab import Vocabulary
    from fathom.models.base import Recommender
    from fathom.retrieval.search_index import SearchIndex, SearchResult

SIGNAL = "personal"


def candidate_affinity(model: Recommender, user: int, items: np.ndarray) -> np.ndarray:
    """(M,) item indices (-1: unknown to the model) -> (M,) float64 affinity of ``user``, min-max normalised
    over the known items; unknown items get 0."""
    items = np.asarray(items, dtype=np.int64)
    out = np.zeros(len(items), dtype=np.float64)
    known = items >= 0
    if known.any():
        raw = model.score_pairs(np.full(int(known.sum()), user, dtype=np.int64), items[known])  # (M_known,)
        out[known] = minmax(np.asarray(raw, dtype=np.float64))
    return out


def check_weight(weight: float) -> float:
    weight = float(weight)
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"personal weight must be a non-negative number, got {weight}")
    return weight


def personal_weights(base: Mapping[str, float], weight: float, available: Iterable[str]) -> dict[str, float]:
    """``base`` search weights normalised to sum to 1 over the ``available`` signals, plus the personal one."""
    weight = check_weight(weight)
    available = set(available)
    usable = {name: float(w) for name, w in base.items() if name in available and w > 0}
    total = sum(usable.values())
    out = {name: (usable[name] / total if name in usable else 0.0) for name in base}
    out[SIGNAL] = weight
    return out


class Personaliser:
    """A trained recommender and its vocabularies, ready to personalise searches over an index whose document
    ids are the recommender's external item ids."""

    def __init__(self, model: Recommender, user_vocab: Vocabulary, item_vocab: Vocabulary) -> None:
        if model.n_users != len(user_vocab) or model.n_items != len(item_vocab):
            raise ValueError(
                f"the model has {model.n_users} users x {model.n_items} items but the vocabularies "
                f"{len(user_vocab)} x {len(item_vocab)}: they come from different data"
            )
        self.model = model
        self.user_vocab = user_vocab
        self.item_vocab = item_vocab
        self._rows: tuple[int, int, np.ndarray] | None = None  # (id(index), n rows, item index per row)

    def user_index(self, user_id: object) -> int:
        if user_id is None or str(user_id) not in self.user_vocab:
            raise KeyError(f"unknown user {user_id!r}: the model knows {len(self.user_vocab)} users")
        return self.user_vocab.index(user_id)

    def item_rows(self, index: SearchIndex) -> np.ndarray:
        """(N,) int64: the model's item index of each index row; -1 for deleted rows and unknown ids."""
        key = (id(index), len(index.documents))
        if self._rows is None or self._rows[:2] != key:
            ids = [doc.id if doc is not None else None for doc in index.documents]
            known = [i for i, d in enumerate(ids) if d is not None and d in self.item_vocab]
            rows = np.full(len(ids), -1, dtype=np.int64)
            if known:
                rows[known] = self.item_vocab.encode([ids[i] for i in known])
            self._rows = (*key, rows)
        return self._rows[2]

    def signal(self, index: SearchIndex, user_id: object) -> CandidateSignal:
        """A candidate signal for ``index``: (M,) rows -> (M,) normalised affinity of the user."""
        user = self.user_index(user_id)
        item_of_row = self.item_rows(index)

        def score(rows: np.ndarray) -> np.ndarray:
            return candidate_affinity(self.model, user, item_of_row[np.asarray(rows, dtype=np.int64)])

        return score

    def search(
        self,
        index: SearchIndex,
        query: str,
        user_id: object,
        weight: float,
        k: int = 10,
        weights: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> SearchResult:
        """:meth:`SearchIndex.search` with the user's affinity fused at ``weight`` (see the module docstring);
        ``kwargs`` pass through (``filter``, ``facets``, ``understand``, ``rescore``...)."""
        weight = check_weight(weight)
        signal = self.signal(index, user_id)
        base = dict(index.config.hybrid.weights if weights is None else weights)
        available = set(base) - {SIGNAL}
        if index.vectors is None:
            available.discard("dense")
        if not index.lexical.n_alive:
            available.discard("bm25")
        rescore = {**kwargs.pop("rescore", {}), SIGNAL: signal}
        return index.search(query, k=k, weights=personal_weights(base, weight, available), rescore=rescore, **kwargs)
