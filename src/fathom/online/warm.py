"""Warm start: continue training a neural model from its current weights on a grown catalogue and user base.

Vocabularies only ever append (:meth:`fathom.data.vocab.Vocabulary.extend`), so index ``i`` of the old model is
index ``i`` of the new one and every learnt array carries over as the leading block of the new, larger array
(user / item embedding rows, item columns of a first layer); the rows of users and items that arrived since are
freshly initialised, and everything is then trained for a few epochs.

The Recommender contract has no ``fit(..., init_from=model)``; this module drives the model's own network
builder and objective (``_build_net``, ``_objective``) with the shared :class:`~fathom.models.training.Trainer`,
as ``TorchRecommender.fit`` does, but starting from the old weights. A contract hook would replace that.
"""

from __future__ import annotations

from typing import Any

import torch

from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.training import Trainer


def can_warm_start(model: Recommender) -> bool:
    """True for models whose state is one torch network built from config and sizes (BPR, SASRec, ...)."""
    return callable(getattr(model, "_build_net", None)) and callable(getattr(model, "_objective", None))


def copy_overlap(new: torch.nn.Module, old: torch.nn.Module) -> int:
    """Copy every array of ``old`` into the leading block of ``new``'s array of the same name (same rank);
    returns how many arrays were carried over."""
    target, copied = new.state_dict(), 0
    with torch.no_grad():
        for name, value in old.state_dict().items():
            if name in target and target[name].dim() == value.dim():
                block = tuple(slice(0, min(a, b)) for a, b in zip(target[name].shape, value.shape, strict=True))
                target[name][block] = value[block]
                copied += 1
    new.load_state_dict(target)
    return copied


def warm_fit(old: Recommender, train: Interactions, epochs: int, seed: int = 0, **overrides: Any) -> Recommender:
    """A new model of ``old``'s class and config (with ``overrides``, e.g. ``lr``), sized for ``train`` (ids
    extended from old's), initialised from ``old``'s weights and trained ``epochs`` epochs on ``train`` (no early
    stopping)."""
    if not can_warm_start(old):
        raise TypeError(f"{type(old).__name__} cannot be warm-started")
    config = old.config.replace(**overrides, epochs=epochs, seed=seed, patience=None)
    model = type(old)(config)
    model._begin_fit(train)
    if (model.n_users, model.n_items) < (old.n_users, old.n_items):
        raise ValueError("a warm start needs at least the old model's users and items")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = model._build_net()
    carried = copy_overlap(net, old.net)
    history = None
    if hasattr(model, "history"):  # a sequence model: its training sequences and served histories
        from fathom.models.sequence import Sequences

        model._train_seqs = Sequences.from_interactions(train)
        history = model._train_seqs.last(config.max_len)
    model.net, model.fitted = net, True
    try:
        with torch.random.fork_rng(devices=[]):
            trainer = Trainer(config)
            trainer.fit(model._objective(net, train), None)
    finally:
        if hasattr(model, "_train_seqs"):
            del model._train_seqs
    if history is not None:
        model.history = history
    net.eval()
    model.meta = {"history": trainer.history, "best_epoch": trainer.best_epoch, "stopped_early": False,
                  "warm_start": {"from_users": old.n_users, "from_items": old.n_items, "arrays": carried,
                                 "epochs": epochs}}
    return model

