"""The Recommender contract.

Every model in Fathom implements this one interface; ``tests/models/conformance.py`` checks it for each.

Shapes and types (B = number of query users or items, n = n_items):

- ``fit(train, valid=None)`` takes :class:`~fathom.data.interactions.Interactions` with contiguous ids and
  returns ``self``. ``valid`` is used only by models that select epochs or hyper-parameters on it.
- ``score(users)`` -> float32 array (B, n_items): higher is better, for every item. Used by the evaluator.
- ``score_pairs(users, items)`` -> float32 array (N,): the score of each (user, item) pair.
- ``recommend(users, k, exclude=None, candidates=None)`` -> (ids int64 (B, k), scores float32 (B, k)), best
  first. Items that are in a user's row of ``exclude`` (a CSR matrix or Interactions) are never returned;
  ``candidates`` restricts the result to the given item ids. ``exclude`` may also be a tuple of them, e.g.
  ``(train, valid)``, as the evaluator takes it. Rows are padded with id -1 and score -inf when
  fewer than ``k`` items are eligible. Ties are broken by the lower item id.
- ``similar_items(items, k)`` -> (ids int64 (B, k), scores float32 (B, k)): the most similar other items,
  the query item itself excluded.
- ``score_history(history, user=None, popularity=None)`` -> float32 (n_items,): one user scored from their
  current history (model item indices, most recent first, possibly with events that arrived after training):
  what serving and online validation rank by. ``explain(history, items)`` -> for each item, the history item
  behind its score (or None); ``explanation`` says how to read it ("because" you interacted with it, or the
  item the prediction comes "next" after). Defaults cover three families: linear models (``item_item_weights``)
  fold any history in exactly; embedding models score a user they were trained on with their own representation
  and fold a new one in through ``similar_items``; sequence models override both to read the history itself.
- Text-aware models (``reads_item_text = True``) take ``fit(train, valid, *, item_vectors=V)`` with V the
  catalogue's (n_items, d) item text vectors (:mod:`fathom.text.item_text`), keep them in their weights, and
  ``add_items(vectors)`` appends items known only by their text (m, d), returning their new indices: such an
  item is scored at once, before any retraining. Other models raise NotImplementedError there.
- KG-aware models (``reads_item_graph = True``) take ``fit(..., item_entities=M)`` with M the (n_items, F)
  item-entity matrix of the catalogue's knowledge graph (:mod:`fathom.data.kg`) and ``add_items(
  item_entities=rows)`` places new items through their entities (:mod:`fathom.models.kg_base`).
- ``save(path)`` writes a folder: ``model.json`` (model name, config, sizes, metadata) and
  ``weights.safetensors``; ``Recommender.load(path)`` rebuilds the model from that folder alone, in any process,
  without pickle.

A subclass declares ``name`` (its registry key) and ``Config`` (a :class:`~fathom.config.Config` subclass),
implements ``fit``, ``score``, ``_state`` / ``_load_state`` and, when it has something better than the
default, ``similar_items`` / ``item_vectors``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.metrics.topk import top_k
from fathom.models.fold_in import contributions, fold_in_scores, top_contributors

FORMAT_VERSION = 1


class NotFittedError(RuntimeError):
    """Raised when a model is used before ``fit`` or ``load``."""


Exclusion = sp.spmatrix | sp.sparray | Interactions


def _as_csr(exclude: Exclusion | Sequence[Exclusion] | None) -> sp.csr_matrix | None:
    """One (users, items) matrix of what to exclude, from one exclusion or several (e.g. ``(train, valid)``)."""
    if exclude is None:
        return None
    parts = list(exclude) if isinstance(exclude, list | tuple) else [exclude]
    if not parts:
        return None
    mats = [p.csr() if isinstance(p, Interactions) else sp.csr_matrix(p) for p in parts]
    shapes = {m.shape for m in mats}
    if len(shapes) > 1:
        raise ValueError(f"exclude: the matrices have different shapes {sorted(shapes)}")
    total = mats[0]
    for m in mats[1:]:
        total = total + m
    return sp.csr_matrix(total)


class Recommender(ABC):
    """Base class of every recommender; see the module docstring for the contract."""

    name: ClassVar[str]
    Config: ClassVar[type[Config]]
    explanation: ClassVar[Literal["because", "next"]] = "because"
    """How :meth:`explain`'s history items read: "because you interacted with X", or "next after X"."""
    reads_item_text: ClassVar[bool] = False
    """Whether ``fit`` takes ``item_vectors`` (item text vectors) and ``add_items`` works."""
    reads_item_graph: ClassVar[bool] = False
    """Whether ``fit`` takes ``item_entities`` (the knowledge graph's item-entity matrix) and ``add_items(
    item_entities=...)`` places new items through their entities."""

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        base = config if config is not None else self.Config()
        if not isinstance(base, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__}, got {type(base).__name__}")
        self.config = base.replace(**overrides) if overrides else base
        self.n_users = 0
        self.n_items = 0
        self.fitted = False
        self.meta: dict[str, Any] = {}

    # -- to implement -------------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        """Learn from ``train``; ``valid`` may drive early stopping. Returns ``self``."""

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """(B, n_items) float32 scores for valid, fitted input."""

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Every learnt array, by name (saved with safetensors)."""

    @abstractmethod
    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``_state`` returned; ``config``, ``n_users``, ``n_items`` and ``meta`` are already set."""

    # -- shared behaviour ---------------------------------------------------------------------------------
    def _begin_fit(self, train: Interactions) -> None:
        if not isinstance(train, Interactions):
            raise TypeError(f"fit() needs Interactions, got {type(train).__name__}")
        if len(train) == 0:
            raise ValueError("fit() got no interactions")
        self.n_users, self.n_items = train.n_users, train.n_items

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or Recommender.load()")

    def _check_ids(self, ids: np.ndarray, limit: int, what: str) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"{what} must be a 1-d integer array")
        if len(ids) and (ids.min() < 0 or ids.max() >= limit):
            bad = ids[(ids < 0) | (ids >= limit)][0]
            raise IndexError(f"{what} id {bad} is outside [0, {limit})")
        return ids.astype(np.int64)

    def score(self, users: np.ndarray) -> np.ndarray:
        self._check_fitted()
        users = self._check_ids(users, self.n_users, "user")
        return np.asarray(self._score(users), dtype=np.float32)

    def score_pairs(self, users: np.ndarray, items: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        self._check_fitted()
        users = self._check_ids(users, self.n_users, "user")
        items = self._check_ids(items, self.n_items, "item")
        if len(users) != len(items):
            raise ValueError(f"score_pairs got {len(users)} users and {len(items)} items")
        out = np.empty(len(users), np.float32)
        uniq, inverse = np.unique(users, return_inverse=True)
        for start in range(0, len(uniq), batch_size):
            block = uniq[start : start + batch_size]
            scores = self._score(block)
            rows = (inverse >= start) & (inverse < start + len(block))
            out[rows] = scores[inverse[rows] - start, items[rows]]
        return out

    def recommend(
        self,
        users: np.ndarray,
        k: int = 10,
        exclude: Exclusion | Sequence[Exclusion] | None = None,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        scores = self.score(users).copy()
        users = np.asarray(users, dtype=np.int64)
        mask = _as_csr(exclude)
        if mask is not None:
            if mask.shape[1] != self.n_items:
                raise ValueError(f"exclude has {mask.shape[1]} item columns, the model has {self.n_items}")
            rows = mask[users]
            r, c = rows.nonzero()
            scores[r, c] = -np.inf
        if candidates is not None:
            candidates = self._check_ids(candidates, self.n_items, "candidate item")
            keep = np.zeros(self.n_items, bool)
            keep[candidates] = True
            scores[:, ~keep] = -np.inf
        return top_k(scores, k)

    def item_vectors(self) -> np.ndarray | None:
        """(n_items, d) item representations for cosine similarity, or None when the model has none."""
        return None

    def item_item_weights(self) -> np.ndarray | sp.spmatrix | None:
        """(n_items, n_items) W when the model's scores are linear in a user's history (``score(u) = x_u @ W``
        for the binary row x_u), else None."""
        return None

    def score_history(self, history: np.ndarray, user: int | None = None,
                      popularity: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """(n_items,) float32 scores of every item for one user from their current history.

        history: (H,) int64 item indices, most recent first; user: the model's index of the user when it was
        trained on them, else None; popularity: (n_items,) counts, the answer when nothing else is known;
        weights: (H,) how much each history item counts (e.g. recent ones more), where the model folds the
        history in. Linear models fold the whole history in exactly; others score a known user with their own
        representation and fold a new user in through ``similar_items`` (:mod:`fathom.models.fold_in`)."""
        self._check_fitted()
        history = self._check_ids(np.asarray(history, dtype=np.int64), self.n_items, "history item")
        if self.item_item_weights() is None and user is not None:
            return self.score(np.array([user]))[0].copy()
        return fold_in_scores(self, history, popularity, weights=weights)

    def explain(self, history: np.ndarray, items: np.ndarray) -> list[int | None]:
        """For each of ``items``, the item of ``history`` (most recent first) that adds most to its score (linear
        models) or is most similar to it (item vectors); None when none does (the item is there by popularity)."""
        history = np.asarray(history, dtype=np.int64)
        return top_contributors(contributions(self, history) if len(history) else None, history, items)

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = self._check_ids(items, self.n_items, "item")
        vectors = self.item_vectors()
        if vectors is None:
            raise NotImplementedError(f"{type(self).__name__} has no item vectors; override similar_items")
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        sims = unit[items] @ unit.T
        sims[np.arange(len(items)), items] = -np.inf
        return top_k(sims, k)

    def add_items(self, item_vectors: np.ndarray | None = None, *, item_entities: Any = None) -> np.ndarray:
        """Append items known only by their (m, d) text vectors (text-aware models) or their (m, F) entity rows
        (KG-aware models); returns their new indices."""
        raise NotImplementedError(f"{type(self).__name__} does not read item text or a knowledge graph: it cannot "
                                  "score an item it was not trained on")

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: np.ascontiguousarray(v) for k, v in self._state().items()}
        save_file(state, str(path / "weights.safetensors"))
        header = {
            "format_version": FORMAT_VERSION,
            "model": self.name,
            "config": self.config.to_dict(),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "meta": self.meta,
        }
        (path / "model.json").write_text(json.dumps(header, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load any saved model; called on a subclass, checks that the folder holds that model."""
        from fathom.models.registry import get_model_class

        path = Path(path)
        header_file = path / "model.json"
        if not header_file.is_file():
            raise FileNotFoundError(f"{path} holds no saved model (model.json is missing)")
        header = json.loads(header_file.read_text())
        model_cls = get_model_class(header["model"])
        if cls is not Recommender and not issubclass(model_cls, cls):
            raise TypeError(f"{path} holds a {header['model']} model, not {cls.__name__}")
        model = model_cls(model_cls.Config.from_dict(header["config"]))
        model.n_users, model.n_items = int(header["n_users"]), int(header["n_items"])
        model.meta = header.get("meta", {})
        model._load_state(load_file(str(path / "weights.safetensors")))
        model.fitted = True
        return model
