"""Recommenders whose learnt state is one ``torch.nn.Module`` trained by the shared :class:`Trainer`.

A subclass builds its network from the config and the sizes alone (``_build_net``, so ``load`` can rebuild it),
says how that network trains on the data (``_objective``), and how it scores a block of users (``_score_net``).
Fitting, validation for early stopping, seeding, scoring in eval mode without gradients, and saving the
``state_dict`` through the base class's safetensors writer are shared here.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Self

import numpy as np
import torch
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.distributed import all_sum, world
from fathom.models.training import Trainable, TrainConfig, Trainer, Validate


def copy_overlap(new: nn.Module, old: nn.Module) -> int:
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


class TorchConfig(TrainConfig):
    """Training-loop settings plus how many users to score at once."""

    score_batch_size: int = Field(1024, ge=1, description="users scored per forward pass in score()")


class TorchRecommender(Recommender):
    """Base of the neural recommenders; ``self.net`` is the fitted network."""

    Config = TorchConfig
    config: TorchConfig

    def __init__(self, config: TorchConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.net: nn.Module | None = None

    # -- to implement -------------------------------------------------------------------------------------
    @abstractmethod
    def _build_net(self) -> nn.Module:
        """A freshly initialised network for ``self.config``, ``self.n_users``, ``self.n_items``."""

    @abstractmethod
    def _objective(self, net: nn.Module, train: Interactions) -> Trainable:
        """What the trainer runs: ``net``'s batches and loss over ``train``."""

    @abstractmethod
    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        """(B, n_items) scores of ``users`` (B,) int64; called in eval mode without gradients."""

    # -- shared -------------------------------------------------------------------------------------------
    def fit(self, train: Interactions, valid: Interactions | None = None, *,
            init_from: TorchRecommender | None = None) -> Self:
        """Train on ``train``; with a non-empty ``valid``, keep the epoch that is best on ``config.monitor``.

        Validation ranks all items, training items excluded. The per-epoch history is kept in
        ``meta["history"]`` (saved with the model); ``meta["best_epoch"]`` is the epoch kept.

        ``init_from``: a warm start. A fitted model of the same class whose users and items are the first ones
        of ``train`` (vocabularies only append); every array of its network is copied into the leading block of
        the new network's array of the same name (embedding rows of known users and items, and so on), the rows
        of newcomers keep their fresh initialisation, and training continues from there.
        """
        self._begin_fit(train)
        if valid is not None and (valid.n_users, valid.n_items) != (train.n_users, train.n_items):
            raise ValueError("valid must have the same n_users and n_items as train")
        if init_from is not None:
            self._check_init_from(init_from)
        with torch.random.fork_rng(devices=[]):  # seeds locally, leaves the caller's global generator alone
            torch.manual_seed(self.config.seed)
            self.net = self._build_net()
            carried = copy_overlap(self.net, init_from.net) if init_from is not None else 0
            self.fitted = True  # the validator scores the model while it trains
            try:
                trainer = Trainer(self.config)
                objective = self._objective(self.net, train)
                trainer.fit(objective, self._validator(train, valid))
            except BaseException:
                self.fitted, self.net = False, None
                raise
        self.net.eval()
        self.meta = {
            "history": trainer.history,
            "best_epoch": trainer.best_epoch,
            "stopped_early": trainer.stopped_early,
        }
        if init_from is not None:
            self.meta["warm_start"] = {"from_users": init_from.n_users, "from_items": init_from.n_items,
                                       "arrays": carried}
        return self

    def _check_init_from(self, old: TorchRecommender) -> None:
        if type(old) is not type(self):
            raise TypeError(f"init_from must be a {type(self).__name__}, got {type(old).__name__}")
        if not old.fitted or old.net is None:
            raise ValueError("init_from must be a fitted model")
        if old.n_users > self.n_users or old.n_items > self.n_items:
            raise ValueError(f"a warm start needs at least init_from's users and items ({old.n_users} users, "
                             f"{old.n_items} items), got {self.n_users} and {self.n_items}")

    def _validator(self, train: Interactions, valid: Interactions | None) -> Validate | None:
        if valid is None or len(valid) == 0:
            return None
        from fathom.metrics.evaluator import Evaluator

        metric, k = re.fullmatch(r"([a-z_]+)@(\d+)", self.config.monitor).groups()
        rank, size = world()
        if size == 1:
            evaluator = Evaluator(valid, exclude=(train,), ks=(int(k),), metrics=(metric,))
            return lambda: evaluator(self)
        # a distributed run: each process ranks its share of the users; the per-user sums are added up
        users = np.flatnonzero(np.diff(valid.csr().indptr))
        evaluator = Evaluator(valid, exclude=(train,), ks=(int(k),), metrics=(metric,), users=users[rank::size])

        def sharded() -> dict[str, float]:
            _, per_user = evaluator(self, per_user=True)
            names = [name for name in per_user if name != "user"]
            sums = all_sum(np.array([per_user[name].sum() for name in names] + [len(per_user["user"])]))
            return {name: float(total / sums[-1]) for name, total in zip(names, sums[:-1], strict=True)}

        return sharded

    def _score(self, users: np.ndarray) -> np.ndarray:
        net = self.net
        was_training = net.training
        net.eval()
        out = np.empty((len(users), self.n_items), np.float32)
        step = self.config.score_batch_size
        try:
            with torch.no_grad():
                for start in range(0, len(users), step):
                    block = torch.from_numpy(users[start : start + step].astype(np.int64))
                    out[start : start + len(block)] = self._score_net(block).numpy()
        finally:
            net.train(was_training)
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {name: t.detach().cpu().numpy() for name, t in self.net.state_dict().items()}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: spend no global draws
            self.net = self._build_net()
        self.net.load_state_dict({name: torch.from_numpy(np.array(a)) for name, a in state.items()})
        self.net.eval()
