"""Warm start: continue training a neural model from its current weights on a grown catalogue and user base.

Vocabularies only ever append (:meth:`fathom.data.vocab.Vocabulary.extend`), so index ``i`` of the old model is
index ``i`` of the new one and every learnt array carries over as the leading block of the new, larger array
(user / item embedding rows, item columns of a first layer); the rows of users and items that arrived since are
freshly initialised, and everything is then trained for a few epochs. The models do this themselves through
the contract's warm-start hook, ``TorchRecommender.fit(train, init_from=old)``.
"""

from __future__ import annotations

from typing import Any

from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.torch_base import TorchRecommender, copy_overlap

__all__ = ["can_warm_start", "copy_overlap", "warm_fit"]


def can_warm_start(model: Recommender) -> bool:
    """True for fitted models whose state is one torch network built from config and sizes (BPR, SASRec, ...)."""
    return isinstance(model, TorchRecommender) and model.fitted and model.net is not None


def warm_fit(old: Recommender, train: Interactions, epochs: int, seed: int = 0,
             fit_kwargs: dict[str, Any] | None = None, **overrides: Any) -> Recommender:
    """A new model of ``old``'s class and config (with ``overrides``, e.g. ``lr``), sized for ``train`` (ids
    extended from old's), initialised from ``old``'s weights and trained ``epochs`` epochs on ``train`` (no early
    stopping); ``fit_kwargs``: more arguments of ``fit`` (a text-aware model's ``item_vectors``)."""
    if not can_warm_start(old):
        raise TypeError(f"{type(old).__name__} cannot be warm-started")
    assert isinstance(old, TorchRecommender)
    config = old.config.replace(**overrides, epochs=epochs, seed=seed, patience=None)
    model = type(old)(config).fit(train, None, init_from=old, **(fit_kwargs or {}))
    model.meta["warm_start"]["epochs"] = epochs
    return model
