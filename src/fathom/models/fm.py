"""Factorization machines (Rendle 2010) over user / item fields, and the base of the field-based models.

Fields: the user id, the item id, and optionally side features (:class:`~fathom.data.features.SideFeatures`:
user age, gender, occupation; item genres (multi-valued, mean-pooled), release year). Every value of every field
has an embedding v (``embedding_dim``) and a first-order weight w. For one (user, item) pair with field
embeddings e_1..e_F (a multi-valued field's e is the mean of its values' embeddings; likewise its w):

    logit = b + sum_f w_f + sum_{f < g} <e_f, e_g>
          = b + sum_f w_f + 1/2 (||sum_f e_f||^2 - sum_f ||e_f||^2)        (:func:`fm_interaction`)

Training is pointwise binary cross-entropy (:mod:`fathom.models.pointwise_data`: explicit 0/1 labels in
``Interactions.value``, or sampled negatives for implicit data, with the imbalance switches there).

Ranking all items is cheap because the fields split into a user side U and an item side I: with
S_u = sum_{f in U} e_f and S_i = sum_{f in I} e_f,

    logit(u, i) = a_u + a_i + <S_u, S_i>,   a_x = w_x + 1/2 (||S_x||^2 - sum_{f in x} ||e_f||^2)  (+ b in a_u)

so ``score(users)`` is one (B, d) @ (d, n_items) product after a pass over the catalogue.

``fit(train, valid=None, *, features=None)``: without features the model uses the two id fields only. The
features' codes are kept in the network as buffers, so they are saved with the weights and a loaded model scores
alone. ``monitor`` may be ``"auc"`` / ``"neg_log_loss"`` (on ``valid``'s 0/1 labels) or a ranking ``metric@k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import torch
from pydantic import Field
from scipy.special import expit
from torch import nn

from fathom.config import Config
from fathom.data.features import SideFeatures
from fathom.data.interactions import Interactions
from fathom.metrics.pointwise import auc, log_loss
from fathom.models.pointwise_data import (
    POINTWISE_MONITORS,
    PointwiseConfig,
    PointwiseSource,
    check_binary,
    weighted_bce,
)
from fathom.models.torch_base import TorchRecommender
from fathom.models.training import Objective, OptimizerName, Validate


def fm_interaction(emb: torch.Tensor) -> torch.Tensor:
    """Sum over field pairs f < g of <e_f, e_g>: emb (..., F, d) -> (...)."""
    total = emb.sum(dim=-2)  # (..., d)
    return 0.5 * (total.pow(2).sum(-1) - emb.pow(2).sum((-2, -1)))


# -- settings ---------------------------------------------------------------------------------------------
class FieldSettings(Config):
    """The field embeddings' settings, shared by FM, DeepFM and MMoE."""

    embedding_dim: int = Field(16, ge=1, description="embedding size of every field")
    init_std: float = Field(0.01, gt=0, description="standard deviation of the normal initial embeddings")
    reg: float = Field(0.0, ge=0, description="L2 on the batch's field embeddings (per example)")
    score_chunk: int = Field(1 << 17, ge=1, description="(user, item) pairs per network pass when scoring")


class FieldConfig(PointwiseConfig, FieldSettings):
    """Settings of the single-output field models (FM, DeepFM): pointwise data, embeddings, training loop."""

    epochs: int = 30
    batch_size: int = 4096
    optimizer: OptimizerName = "adam"
    lr: float = 1e-3


class FMConfig(FieldConfig):
    """FM has no settings beyond :class:`FieldConfig`."""


# -- field layout -------------------------------------------------------------------------------------------
FieldInfo = tuple[str, int, int]  # (name, number of codes, codes per row)


@dataclass(frozen=True)
class FieldLayout:
    """The fields of each side, in order, with their code counts and widths (the id field first)."""

    user: tuple[FieldInfo, ...]
    item: tuple[FieldInfo, ...]

    @classmethod
    def build(cls, n_users: int, n_items: int, features: SideFeatures | None = None) -> FieldLayout:
        sides: dict[str, list[FieldInfo]] = {"user": [("id", n_users, 1)], "item": [("id", n_items, 1)]}
        for f in features.fields if features is not None else ():
            sides[f.side].append((f.name, f.n_values, f.width))
        return cls(tuple(sides["user"]), tuple(sides["item"]))

    def to_json(self) -> dict[str, Any]:
        return {"user": [list(f) for f in self.user], "item": [list(f) for f in self.item]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldLayout:
        return cls(*(tuple((str(n), int(v), int(w)) for n, v, w in data[s]) for s in ("user", "item")))

    def side(self, side: str) -> tuple[FieldInfo, ...]:
        return self.user if side == "user" else self.item

    @property
    def n_codes(self) -> int:
        return sum(f[1] for f in self.user + self.item)

    def offsets(self, side: str) -> list[int]:
        """Row of each of ``side``'s fields' code 0 in the shared embedding table."""
        start = 0 if side == "user" else sum(f[1] for f in self.user)
        fields = self.side(side)
        return [start + sum(f[1] for f in fields[:k]) for k in range(len(fields))]


def side_codes(layout: FieldLayout, side: str, features: SideFeatures | None) -> tuple[np.ndarray, np.ndarray]:
    """(n, S) global table rows and (n, S) pooling weights of every slot of ``side``'s fields.

    A single-valued field has one slot of weight 1; a multi-valued field of width L has L slots weighted
    1 / (number of codes present), and a row with no code puts weight 1 on code 0 (missing).
    """
    fields = layout.side(side)
    offsets = layout.offsets(side)
    n = fields[0][1]
    index = [np.arange(n, dtype=np.int64)[:, None] + offsets[0]]
    weight = [np.ones((n, 1), np.float32)]
    extra = features.of(side) if features is not None else ()  # type: ignore[arg-type]
    for f, off in zip(extra, offsets[1:], strict=True):
        codes = f.matrix()  # (n, L)
        if f.multi:
            present = codes > 0
            count = present.sum(axis=1, keepdims=True)
            w = np.where(count > 0, present / np.maximum(count, 1), 0.0)
            w[count[:, 0] == 0, 0] = 1.0
        else:
            w = np.ones(codes.shape)
        index.append(codes + off)
        weight.append(w.astype(np.float32))
    return np.concatenate(index, axis=1), np.concatenate(weight, axis=1)


class FieldEmbedder(nn.Module):
    """One embedding table and one first-order weight table for all codes of all fields.

    Buffers ``{side}_index`` / ``{side}_weight`` (n, S) hold each user's / item's slots; they are saved with
    the weights.
    """

    def __init__(self, layout: FieldLayout, dim: int, init_std: float) -> None:
        super().__init__()
        self.layout = layout
        self.embedding = nn.Embedding(layout.n_codes, dim)
        self.linear = nn.Embedding(layout.n_codes, 1)
        nn.init.normal_(self.embedding.weight, std=init_std)
        nn.init.zeros_(self.linear.weight)
        for side in ("user", "item"):
            fields = layout.side(side)
            n, slots = fields[0][1], sum(f[2] for f in fields)
            slot_field = np.repeat(np.arange(len(fields)), [f[2] for f in fields])  # (S,)
            self.register_buffer(f"{side}_index", torch.zeros(n, slots, dtype=torch.long))
            self.register_buffer(f"{side}_weight", torch.zeros(n, slots))
            self.register_buffer(f"{side}_slot_field", torch.from_numpy(slot_field), persistent=False)

    def set_codes(self, features: SideFeatures | None) -> None:
        for side in ("user", "item"):
            index, weight = side_codes(self.layout, side, features)
            getattr(self, f"{side}_index").copy_(torch.from_numpy(index))
            getattr(self, f"{side}_weight").copy_(torch.from_numpy(weight))

    def n_fields(self, side: str) -> int:
        return len(self.layout.side(side))

    def forward(self, side: str, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Field embeddings (B, F, d) and first-order sums (B,) of ``rows`` (B,) of ``side``."""
        index = getattr(self, f"{side}_index")[rows]  # (B, S)
        weight = getattr(self, f"{side}_weight")[rows]  # (B, S)
        slots = self.embedding(index) * weight.unsqueeze(-1)  # (B, S, d)
        fields = slots.new_zeros(len(rows), self.n_fields(side), slots.shape[-1])
        fields.index_add_(1, getattr(self, f"{side}_slot_field"), slots)  # (B, F, d)
        first = (self.linear(index).squeeze(-1) * weight).sum(-1)  # (B,)
        return fields, first

    def all_items(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self("item", torch.arange(self.item_index.shape[0], device=self.item_index.device))


# -- networks -----------------------------------------------------------------------------------------------
class FMNet(nn.Module):
    """Global bias + first-order weights + pairwise field interactions."""

    def __init__(self, layout: FieldLayout, config: FieldSettings) -> None:
        super().__init__()
        self.fields = FieldEmbedder(layout, config.embedding_dim, config.init_std)
        self.bias = nn.Parameter(torch.zeros(1))

    def pair_logits(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B,) of pairs users (B,), items (B,), and the squared norm of their field embeddings."""
        eu, wu = self.fields("user", users)  # (B, Fu, d), (B,)
        ei, wi = self.fields("item", items)  # (B, Fi, d), (B,)
        emb = torch.cat([eu, ei], dim=1)  # (B, F, d)
        return self.bias + wu + wi + fm_interaction(emb), emb.pow(2).sum()

    def _fm_all(self, users: torch.Tensor) -> tuple[torch.Tensor, ...]:
        eu, wu = self.fields("user", users)  # (B, Fu, d)
        ei, wi = self.fields.all_items()  # (n, Fi, d)
        su, si = eu.sum(1), ei.sum(1)  # (B, d), (n, d)
        au = self.bias + wu + 0.5 * (su.pow(2).sum(-1) - eu.pow(2).sum((1, 2)))  # (B,)
        ai = wi + 0.5 * (si.pow(2).sum(-1) - ei.pow(2).sum((1, 2)))  # (n,)
        return au[:, None] + ai[None, :] + su @ si.T, eu, ei  # (B, n)

    def score_all(self, users: torch.Tensor, chunk_pairs: int) -> torch.Tensor:
        """Logits (B, n_items) of users (B,) against every item."""
        return self._fm_all(users)[0]

    def item_vectors(self) -> torch.Tensor:
        """(n_items, d): the item side's summed field embeddings S_i (what <S_u, S_i> compares)."""
        return self.fields.all_items()[0].sum(1)


class PointwiseObjective(Objective):
    """Weighted binary cross-entropy over each epoch's pointwise examples, plus ``reg`` L2."""

    def __init__(self, net: nn.Module, train: Interactions, config: FieldConfig) -> None:
        super().__init__(net)
        self.config = config
        self.source = PointwiseSource(train, config)

    def batches(self, rng: np.random.Generator, batch_size: int):
        return self.source.epoch(rng).batches(rng, batch_size)

    def loss(self, batch) -> torch.Tensor:
        users, items, labels, weights = batch  # (B,) each
        logits, sq = self.net.pair_logits(users, items)  # (B,)
        loss = weighted_bce(logits, labels, weights if self.config.class_weight != "none" else None)
        if self.config.reg > 0:
            loss = loss + self.config.reg * sq / len(users)
        return loss


class FieldRecommender(TorchRecommender):
    """Base of FM, DeepFM and MMoE: fields, features kept as buffers, pointwise validation, predict_proba."""

    Config = FieldConfig
    config: FieldConfig

    def __init__(self, config: FieldConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.layout: FieldLayout | None = None
        self._fit_features: SideFeatures | None = None
        self._fitting = False

    def _make_net(self, layout: FieldLayout) -> nn.Module:
        raise NotImplementedError

    def fit(self, train: Interactions, valid: Interactions | None = None, *,
            features: SideFeatures | None = None, init_from: TorchRecommender | None = None) -> Self:
        """Train on ``train`` (ids only, or with ``features`` aligned with its user / item indices);
        ``init_from``: a warm start (:meth:`TorchRecommender.fit`)."""
        if features is not None:
            if not isinstance(features, SideFeatures):
                raise TypeError(f"features must be SideFeatures, got {type(features).__name__}")
            if (features.n_users, features.n_items) != (train.n_users, train.n_items):
                raise ValueError(
                    f"features describe {features.n_users} users / {features.n_items} items, "
                    f"train has {train.n_users} / {train.n_items}"
                )
        self.layout = FieldLayout.build(train.n_users, train.n_items, features)
        self._fit_features, self._fitting = features, True
        try:
            super().fit(train, valid, init_from=init_from)
        finally:
            self._fit_features, self._fitting = None, False
        self.meta["layout"] = self.layout.to_json()
        self.meta["features"] = None if features is None else features.spec()
        return self

    def _build_net(self) -> nn.Module:
        if self.layout is None:
            self.layout = FieldLayout.from_json(self.meta["layout"])
        net = self._make_net(self.layout)
        if self._fitting:  # when loading, the saved buffers replace the codes
            net.fields.set_codes(self._fit_features)
        return net

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.layout = FieldLayout.from_json(self.meta["layout"])
        super()._load_state(state)

    def _objective(self, net: nn.Module, train: Interactions) -> Objective:
        return PointwiseObjective(net, train, self.config)

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        return self._select(self.net.score_all(users, self.config.score_chunk))

    def _select(self, logits: torch.Tensor) -> torch.Tensor:
        """The ranking logits among the network's outputs (MMoE picks a task)."""
        return logits

    # -- pairs --------------------------------------------------------------------------------------------
    def pair_logits(self, users: np.ndarray, items: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """Raw network outputs of (user, item) pairs: (N,) (or (N, T) for a multi-task model)."""
        self._check_fitted()
        users = self._check_ids(users, self.n_users, "user")
        items = self._check_ids(items, self.n_items, "item")
        if len(users) != len(items):
            raise ValueError(f"got {len(users)} users and {len(items)} items")
        net = self.net
        was_training = net.training
        net.eval()
        parts = []
        try:
            with torch.no_grad():
                for s in range(0, len(users), batch_size):
                    u = torch.from_numpy(users[s : s + batch_size])
                    i = torch.from_numpy(items[s : s + batch_size])
                    parts.append(net.pair_logits(u, i)[0].numpy())
        finally:
            net.train(was_training)
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def predict_proba(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(N,) probability that each (user, item) pair is positive (sigmoid of its logit)."""
        return sigmoid(self.pair_logits(users, items))

    def _validator(self, train: Interactions, valid: Interactions | None) -> Validate | None:
        if valid is None or len(valid) == 0 or self.config.monitor not in POINTWISE_MONITORS:
            return super()._validator(train, valid)
        labels = check_binary(valid.value)
        return lambda: pointwise_metrics(labels, self.pair_logits(valid.user, valid.item))

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        with torch.no_grad():
            return self.net.item_vectors().numpy()


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return expit(np.asarray(logits, np.float64))


def pointwise_metrics(labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """AUC and negated log loss (higher is better for both) of logits against 0/1 labels."""
    return {"auc": auc(labels, logits), "neg_log_loss": -log_loss(labels, sigmoid(logits))}


class FM(FieldRecommender):
    """Factorization machine; see the module docstring."""

    name = "fm"
    Config = FMConfig
    config: FMConfig

    def _make_net(self, layout: FieldLayout) -> FMNet:
        return FMNet(layout, self.config)
