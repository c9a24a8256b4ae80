"""Multi-gate mixture of experts (Ma et al. 2018) over user / item fields, for several targets at once.

Input: the concatenated field embeddings x = [e_1; ...; e_F] of a (user, item) pair (fields and side features as
in :mod:`fathom.models.fm`). ``n_experts`` expert MLPs f_e (``expert_layers``, ReLU) are shared by all tasks;
each task t has its own softmax gate g_t(x) = softmax(W_t x) over the experts and its own tower MLP h_t
(``tower_layers``, then one logit):

    logit_t = h_t( sum_e g_t(x)_e f_e(x) )

Targets, read from the training :class:`~fathom.data.interactions.Interactions` whose ``value`` is a rating:

- ``"interact"``: will the user interact with the item: observed pairs are positives and ``neg_ratio`` items the
  user has no training row with (drawn each epoch, uniformly or by popularity) are negatives;
- ``"like"``: will the user rate it ``like_threshold`` or more: observed pairs only (sampled pairs carry no
  label for this task and are masked out).

The loss is sum_t loss_weights[t] * (mean BCE of task t over the examples labelled for t). A model with one task
is the single-task baseline with the same architecture.

Ranking: ``score(users)`` (and so ``recommend``) uses the ``"interact"`` head when the model has it, else its
first task. ``predict_proba(users, items, task=...)`` gives any task's probabilities. With ``monitor="auc"`` the
validation metric is the mean over tasks of: interact AUC of the validation pairs against one fixed sampled
unobserved item each, and like AUC of the validation pairs' rating labels.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from fathom.data.interactions import Interactions
from fathom.metrics.pointwise import auc, log_loss
from fathom.models.deepfm import SplitLinear, chunked_pairs
from fathom.models.dropout import FastDropout
from fathom.models.fm import FieldEmbedder, FieldLayout, FieldRecommender, FieldSettings, sigmoid
from fathom.models.pointwise_data import POINTWISE_MONITORS, SamplingConfig, make_sampler
from fathom.models.sampling import NegativeSampler
from fathom.models.training import Objective, OptimizerName, Validate

Task = Literal["interact", "like"]


class MMoEConfig(SamplingConfig, FieldSettings):
    tasks: tuple[Task, ...] = Field(("interact", "like"), min_length=1, description="targets, one head each")
    loss_weights: tuple[float, ...] | None = Field(None, description="per-task loss weight; None: all 1")
    like_threshold: float = Field(4.0, description="'like' target: rating >= this")
    n_experts: int = Field(4, ge=1)
    expert_layers: tuple[int, ...] = Field((64,), min_length=1, description="hidden sizes of each expert")
    tower_layers: tuple[int, ...] = Field((32,), description="hidden sizes of each task tower before its logit")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each expert / tower hidden layer")
    epochs: int = 20
    batch_size: int = 4096
    optimizer: OptimizerName = "adam"
    lr: float = 1e-3

    @model_validator(mode="after")
    def _check_tasks(self) -> MMoEConfig:
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be distinct, got {self.tasks}")
        if self.loss_weights is not None:
            if len(self.loss_weights) != len(self.tasks):
                raise ValueError(f"loss_weights has {len(self.loss_weights)} entries for {len(self.tasks)} tasks")
            if any(w < 0 for w in self.loss_weights):
                raise ValueError("loss_weights must be non-negative")
        return self

    def weights(self) -> tuple[float, ...]:
        return self.loss_weights if self.loss_weights is not None else (1.0,) * len(self.tasks)


class GroupedLinear(nn.Module):
    """G independent linear layers applied to (..., G, in) -> (..., G, out)."""

    def __init__(self, groups: int, n_in: int, n_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)  # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(groups, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...gi,gio->...go", x, self.weight) + self.bias


class MMoENet(nn.Module):
    def __init__(self, layout: FieldLayout, config: MMoEConfig) -> None:
        super().__init__()
        c = config
        d, e, t = c.embedding_dim, c.n_experts, len(c.tasks)
        self.n_experts, self.n_tasks, self.h0 = e, t, c.expert_layers[0]
        self.fields = FieldEmbedder(layout, d, c.init_std)
        # the experts' first layers and the gates' logits, all linear in x, computed by one split layer
        self.first = SplitLinear(len(layout.user) * d, len(layout.item) * d, e * self.h0 + t * e)
        widths = c.expert_layers
        self.experts = nn.ModuleList(GroupedLinear(e, widths[k - 1], widths[k]) for k in range(1, len(widths)))
        tower = (widths[-1], *c.tower_layers, 1)
        self.towers = nn.ModuleList(GroupedLinear(t, tower[k], tower[k + 1]) for k in range(len(tower) - 1))
        self.dropout = FastDropout(c.dropout)  # torch's CPU dropout mask is slow

    def split(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """First-layer outputs (..., E * h0 + T * E) -> expert pre-activations (..., E, h0), gates (..., T, E)."""
        cut = self.n_experts * self.h0
        experts = pre[..., :cut].unflatten(-1, (self.n_experts, self.h0))
        gates = torch.softmax(pre[..., cut:].unflatten(-1, (self.n_tasks, self.n_experts)), dim=-1)
        return experts, gates

    def head(self, pre: torch.Tensor) -> torch.Tensor:
        """First-layer outputs (..., E * h0 + T * E) -> task logits (..., T)."""
        x, gates = self.split(pre)  # (..., E, h0), (..., T, E)
        x = self.dropout(torch.relu(x))
        for layer in self.experts:
            x = self.dropout(torch.relu(layer(x)))  # (..., E, h_k)
        y = torch.einsum("...te,...eh->...th", gates, x)  # (..., T, h_last): each task's mixture of experts
        for k, layer in enumerate(self.towers):
            y = layer(y)  # (..., T, width)
            if k < len(self.towers) - 1:
                y = self.dropout(torch.relu(y))
        return y.squeeze(-1)  # (..., T)

    def _first(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eu, _ = self.fields("user", users)  # (B, Fu, d)
        ei, _ = self.fields("item", items)  # (B, Fi, d)
        return self.first(eu, ei), eu.pow(2).sum() + ei.pow(2).sum()

    def pair_logits(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Task logits (B, T) of pairs users (B,), items (B,), and the squared norm of their field embeddings."""
        pre, sq = self._first(users, items)
        return self.head(pre), sq

    def gates(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B, T, E) gate weights of each task over the experts (each row sums to 1)."""
        return self.split(self._first(users, items)[0])[1]

    def score_all(self, users: torch.Tensor, chunk_pairs: int) -> torch.Tensor:
        """Task logits (B, n_items, T) of users (B,) against every item."""
        eu, _ = self.fields("user", users)  # (B, Fu, d)
        ei, _ = self.fields.all_items()  # (n, Fi, d)
        return chunked_pairs(self.first.user(eu.flatten(1)), self.first.item(ei.flatten(1)), self.head, chunk_pairs)

    def item_vectors(self) -> torch.Tensor:
        """(n_items, Fi * d): the item side's field embeddings side by side."""
        return self.fields.all_items()[0].flatten(1)


def task_labels(train: Interactions, negatives: np.ndarray, config: MMoEConfig) -> tuple[np.ndarray, ...]:
    """Examples of one epoch: users, items (N,), labels and masks (N, T), for observed rows then negatives.

    ``negatives`` (n_rows, k) are the sampled items per observed row (k = 0 without an "interact" task).
    """
    n, k = len(train), negatives.shape[1]
    users = np.concatenate([train.user, np.repeat(train.user, k)]).astype(np.int64)
    items = np.concatenate([train.item, negatives.ravel()]).astype(np.int64)
    labels = np.zeros((n * (1 + k), len(config.tasks)), np.float32)
    mask = np.zeros_like(labels)
    for t, task in enumerate(config.tasks):
        if task == "interact":
            labels[:n, t], mask[:, t] = 1.0, 1.0
        else:  # like: observed rows only
            labels[:n, t] = train.value >= config.like_threshold
            mask[:n, t] = 1.0
    return users, items, labels, mask


def multitask_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
    """sum_t weights[t] * mean BCE of task t over its labelled rows; logits, labels, mask (B, T), weights (T,)."""
    bce = torch.nn.functional.softplus(logits) - logits * labels  # (B, T)
    per_task = (bce * mask).sum(0) / mask.sum(0).clamp(min=1.0)  # (T,)
    return (weights * per_task).sum()


class MultiTaskObjective(Objective):
    def __init__(self, net: MMoENet, train: Interactions, config: MMoEConfig) -> None:
        super().__init__(net)
        self.train_set, self.config = train, config
        self.sampler = make_sampler(train, config) if "interact" in config.tasks else None
        self.weights = torch.tensor(config.weights(), dtype=torch.float32)

    def batches(self, rng: np.random.Generator, batch_size: int):
        if self.sampler is not None:
            negatives = self.sampler.sample(self.train_set.user, self.config.neg_ratio, rng)
        else:
            negatives = np.zeros((len(self.train_set), 0), np.int64)
        arrays = task_labels(self.train_set, negatives, self.config)
        order = rng.permutation(len(arrays[0]))
        tensors = [torch.from_numpy(np.ascontiguousarray(a[order])) for a in arrays]
        for start in range(0, len(order), batch_size):
            yield tuple(t[start : start + batch_size] for t in tensors)

    def loss(self, batch) -> torch.Tensor:
        users, items, labels, mask = batch  # (B,), (B,), (B, T), (B, T)
        logits, sq = self.net.pair_logits(users, items)  # (B, T)
        loss = multitask_loss(logits, labels, mask, self.weights)
        if self.config.reg > 0:
            loss = loss + self.config.reg * sq / len(users)
        return loss


class MMoE(FieldRecommender):
    """MMoE; see the module docstring. ``Interactions.value`` must hold ratings when a "like" task is trained."""

    name = "mmoe"
    Config = MMoEConfig
    config: MMoEConfig

    def _make_net(self, layout: FieldLayout) -> MMoENet:
        return MMoENet(layout, self.config)

    def _objective(self, net: MMoENet, train: Interactions) -> Objective:
        return MultiTaskObjective(net, train, self.config)

    @property
    def ranking_task(self) -> Task:
        """The head behind ``score`` / ``recommend``: "interact" when trained, else the first task."""
        return "interact" if "interact" in self.config.tasks else self.config.tasks[0]

    def _task_index(self, task: str | None) -> int:
        task = task or self.ranking_task
        if task not in self.config.tasks:
            raise KeyError(f"this model has no {task!r} task; its tasks are {self.config.tasks}")
        return self.config.tasks.index(task)

    def _select(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[..., self._task_index(None)]  # (B, n, T) -> (B, n)

    def predict_proba(self, users: np.ndarray, items: np.ndarray, task: Task | None = None) -> np.ndarray:
        """(N,) probability of ``task`` (default: :attr:`ranking_task`) for each (user, item) pair."""
        return sigmoid(self.pair_logits(users, items)[:, self._task_index(task)])

    def _validator(self, train: Interactions, valid: Interactions | None) -> Validate | None:
        if valid is None or len(valid) == 0 or self.config.monitor not in POINTWISE_MONITORS:
            return super()._validator(train, valid)
        rng = np.random.default_rng(self.config.seed)
        seen = Interactions.from_arrays(
            np.concatenate([train.user, valid.user]), np.concatenate([train.item, valid.item]),
            train.n_users, train.n_items,
        )
        negatives = NegativeSampler(seen).sample(valid.user, 1, rng)[:, 0]
        return lambda: self.task_metrics(valid, negatives)

    def task_metrics(self, pairs: Interactions, negatives: np.ndarray) -> dict[str, float]:
        """Per task AUC and log loss on ``pairs`` (ratings in value) and one sampled negative item per pair, and
        their means over the tasks ("auc", "neg_log_loss"). A task whose labels have one class has no AUC."""
        t_int = self.config.tasks.index("interact") if "interact" in self.config.tasks else None
        t_like = self.config.tasks.index("like") if "like" in self.config.tasks else None
        logits = self.pair_logits(pairs.user, pairs.item)  # (N, T)
        out: dict[str, float] = {}
        if t_int is not None:
            neg = self.pair_logits(pairs.user, negatives)[:, t_int]  # (N,)
            scores = np.concatenate([logits[:, t_int], neg])
            labels = np.r_[np.ones(len(pairs)), np.zeros(len(neg))]
            out["auc_interact"] = auc(labels, scores)
            out["log_loss_interact"] = log_loss(labels, sigmoid(scores))
        if t_like is not None:
            labels = (pairs.value >= self.config.like_threshold).astype(np.float64)
            if 0 < labels.sum() < len(labels):
                out["auc_like"] = auc(labels, logits[:, t_like])
            out["log_loss_like"] = log_loss(labels, sigmoid(logits[:, t_like]))
        aucs = [v for k, v in out.items() if k.startswith("auc_")]
        losses = [v for k, v in out.items() if k.startswith("log_loss_")]
        out["auc"] = float(np.mean(aucs)) if aucs else float("nan")
        out["neg_log_loss"] = -float(np.mean(losses))
        return out
