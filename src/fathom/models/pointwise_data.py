"""Pointwise training sets: (user, item, label, weight) examples for models trained with binary cross-entropy.

Two sources of labels (:attr:`PointwiseConfig.label_mode`):

- ``"explicit"``: every training row is one example and ``Interactions.value`` holds its 0/1 label (the CTR
  setting: rating >= 4 -> 1, rating <= 2 -> 0);
- ``"implicit"``: every training row is a positive (label 1), and ``neg_ratio`` negatives (label 0) per positive
  are drawn each epoch from the items the user has no training row with, uniformly or in proportion to
  ``item_count ** pop_alpha`` (``neg_sampling="popularity"``).

Imbalance switches, applied in this order each epoch:

- ``resample``: ``"over"`` draws extra minority-class rows (with replacement) and ``"under"`` keeps a random
  subset of the majority class, until majority : minority = ``resample_ratio`` (1.0 = balanced). Re-drawn every
  epoch, so under-sampling sees different majority rows over the epochs;
- ``class_weight``: ``"balanced"`` weights each example by ``n / (2 * n_class)`` (scikit-learn's rule: both
  classes weigh the same in total; the mean weight is 1), computed on the epoch's examples.

Validation monitors: besides the ranking ``metric@k`` of :class:`~fathom.models.training.TrainConfig`, a
pointwise model may monitor ``"auc"`` or ``"neg_log_loss"`` on the validation pairs' 0/1 labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field, field_validator

from fathom.data.interactions import Interactions
from fathom.models.sampling import NegativeSampler
from fathom.models.torch_base import TorchConfig

LabelMode = Literal["implicit", "explicit"]
NegSampling = Literal["uniform", "popularity"]
Resample = Literal["none", "over", "under"]
ClassWeight = Literal["none", "balanced"]
POINTWISE_MONITORS = ("auc", "neg_log_loss")


class SamplingConfig(TorchConfig):
    """Training-loop settings plus negative sampling; ``monitor`` may also be a pointwise metric."""

    neg_ratio: int = Field(4, ge=1, description="implicit labels: sampled negatives per positive")
    neg_sampling: NegSampling = "uniform"
    pop_alpha: float = Field(0.75, ge=0, description="popularity sampling: p(item) ~ count ** pop_alpha")

    @field_validator("monitor")
    @classmethod
    def _metric_at_k(cls, value: str) -> str:  # replaces TrainConfig's check: also allows pointwise monitors
        if value in POINTWISE_MONITORS or re.fullmatch(r"[a-z_]+@[1-9][0-9]*", value):
            return value
        raise ValueError(f"monitor must look like 'ndcg@10' or be one of {POINTWISE_MONITORS}, got {value!r}")


class PointwiseConfig(SamplingConfig):
    """How pointwise examples are made from a training set (see the module docstring)."""

    label_mode: LabelMode = Field("implicit", description="implicit: sample negatives; explicit: value is the label")
    resample: Resample = "none"
    resample_ratio: float = Field(1.0, gt=0, description="majority : minority after re-sampling")
    class_weight: ClassWeight = "none"


# -- pure functions -----------------------------------------------------------------------------------------
def check_binary(labels: np.ndarray) -> np.ndarray:
    """``labels`` as float32 0/1; ValueError when another value is present."""
    y = np.asarray(labels, np.float32)
    if not np.isin(y, (0.0, 1.0)).all():
        bad = y[~np.isin(y, (0.0, 1.0))][0]
        raise ValueError(f"explicit labels must be 0 or 1 (Interactions.value), found {bad}")
    return y


def class_weights(labels: np.ndarray, mode: ClassWeight = "balanced") -> np.ndarray:
    """(2,) weights of class 0 and class 1: ``n / (2 * n_c)`` when balanced (1 for an absent class), else ones."""
    if mode == "none":
        return np.ones(2, np.float32)
    y = np.asarray(labels) > 0.5
    n, n_pos = len(y), int(y.sum())
    counts = np.array([n - n_pos, n_pos], np.float64)
    return np.where(counts > 0, n / (2.0 * np.maximum(counts, 1)), 1.0).astype(np.float32)


def resample_indices(
    labels: np.ndarray, method: Resample, ratio: float, rng: np.random.Generator
) -> np.ndarray:
    """Row indices after re-sampling so that majority : minority = ``ratio`` (sorted; with repeats for "over").

    "over" keeps every row and adds ``ceil(n_major / ratio) - n_minor`` minority rows drawn with replacement;
    "under" keeps every minority row and ``min(n_major, round(n_minor * ratio))`` majority rows drawn without
    replacement. With one class absent, or already within the ratio, every row is kept.
    """
    n = len(labels)
    if method == "none":
        return np.arange(n)
    y = np.asarray(labels) > 0.5
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    minor, major = (pos, neg) if len(pos) <= len(neg) else (neg, pos)
    if len(minor) == 0:
        return np.arange(n)
    if method == "over":
        extra = int(np.ceil(len(major) / ratio)) - len(minor)
        if extra <= 0:
            return np.arange(n)
        return np.sort(np.concatenate([np.arange(n), rng.choice(minor, size=extra, replace=True)]))
    if method == "under":
        keep = min(len(major), int(round(len(minor) * ratio)))
        return np.sort(np.concatenate([minor, rng.choice(major, size=keep, replace=False)]))
    raise ValueError(f"unknown resample method {method!r}")


def popularity_probabilities(counts: np.ndarray, alpha: float) -> np.ndarray:
    """(n_items,) p(item) ~ count ** alpha over items with count > 0; uniform when every count is 0."""
    c = np.asarray(counts, np.float64)
    w = np.where(c > 0, c**alpha, 0.0)
    if w.sum() == 0:
        w = np.ones_like(c)
    return w / w.sum()


class PopularityNegativeSampler(NegativeSampler):
    """Draws, for each user, items with probability ~ ``count ** alpha``, rejecting the user's positives.

    Pairs still positive after ``max_rounds`` re-draws are drawn uniformly from the user's unobserved items.
    """

    def __init__(self, positives: sp.spmatrix | Interactions, counts: np.ndarray, alpha: float = 0.75,
                 max_rounds: int = 16) -> None:
        super().__init__(positives, max_rounds)
        self.cdf = np.cumsum(popularity_probabilities(counts, alpha))  # (n_items,)

    def _draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        idx = np.searchsorted(self.cdf, rng.random(size) * self.cdf[-1], side="right")
        return np.minimum(idx, self.n_items - 1).astype(np.int64)

    def sample(self, users: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        flat_users = np.repeat(users, n)  # (B * n,)
        items = self._draw(len(flat_users), rng)
        todo = np.flatnonzero((self.degree[flat_users] < self.n_items) & self.is_positive(flat_users, items))
        for _ in range(self.max_rounds):
            if len(todo) == 0:
                break
            items[todo] = self._draw(len(todo), rng)
            todo = todo[self.is_positive(flat_users[todo], items[todo])]
        for t in todo:
            u = flat_users[t]
            free = np.setdiff1d(np.arange(self.n_items), self.indices[self.indptr[u] : self.indptr[u + 1]])
            items[t] = free[rng.integers(len(free))]
        return items.reshape(len(users), n)


def make_sampler(train: Interactions, config: SamplingConfig) -> NegativeSampler:
    """The negative sampler ``config`` asks for, over ``train``'s observed pairs."""
    if config.neg_sampling == "popularity":
        return PopularityNegativeSampler(train, train.item_counts(), config.pop_alpha)
    return NegativeSampler(train)


# -- epoch examples -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Examples:
    """One epoch of pointwise examples; arrays of shape (N,)."""

    user: np.ndarray  # int64
    item: np.ndarray  # int64
    label: np.ndarray  # float32 0/1
    weight: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index: np.ndarray) -> Examples:
        return Examples(self.user[index], self.item[index], self.label[index], self.weight[index])

    def batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """Shuffled batches of (users (B,), items (B,), labels (B,), weights (B,)) tensors."""
        ex = self.take(rng.permutation(len(self)))
        tensors = [torch.from_numpy(a) for a in (ex.user, ex.item, ex.label, ex.weight)]
        for start in range(0, len(ex), batch_size):
            yield tuple(t[start : start + batch_size] for t in tensors)


class PointwiseSource:
    """Makes each epoch's :class:`Examples` from a training set as ``config`` says."""

    def __init__(self, train: Interactions, config: PointwiseConfig) -> None:
        self.config = config
        self.user = train.user.astype(np.int64)
        self.item = train.item.astype(np.int64)
        if config.label_mode == "explicit":
            self.label = check_binary(train.value)
            self.sampler = None
        else:
            self.label = np.ones(len(train), np.float32)
            self.sampler = make_sampler(train, config)

    def epoch(self, rng: np.random.Generator) -> Examples:
        c = self.config
        user, item, label = self.user, self.item, self.label
        if self.sampler is not None:
            neg = self.sampler.sample(user, c.neg_ratio, rng)  # (N, neg_ratio)
            user = np.concatenate([user, np.repeat(user, c.neg_ratio)])
            item = np.concatenate([item, neg.ravel()])
            label = np.concatenate([label, np.zeros(neg.size, np.float32)])
        index = resample_indices(label, c.resample, c.resample_ratio, rng)
        user, item, label = user[index], item[index], label[index]
        weight = class_weights(label, c.class_weight)[label.astype(np.int64)]
        return Examples(user, item, label, weight.astype(np.float32))


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``weights * BCE(sigmoid(logits), labels)`` (plain mean without weights).

    BCE of a logit x and label y is softplus(x) - x y, computed stably.
    """
    loss = torch.nn.functional.softplus(logits) - logits * labels
    return (loss * weights).mean() if weights is not None else loss.mean()
