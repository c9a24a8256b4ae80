"""Neural matrix factorisation (He et al. 2017, "Neural Collaborative Filtering").

Two branches with their own user / item embeddings:

- GMF: the elementwise product p_u * q_i (gmf_factors);
- MLP: a tower over the concatenation [p'_u, q'_i] (2 * mlp_factors -> layers[0] -> ... -> layers[-1]), each
  hidden layer Linear -> (LayerNorm) -> ReLU -> Dropout;

fused by one final linear layer on [GMF, MLP] into a single logit. Training is pointwise binary cross-entropy:
each observed pair is a positive, and ``neg_ratio`` items drawn uniformly from the user's unobserved items are
negatives. The model is trained from scratch (no GMF / MLP pre-training).

The first MLP layer on a concatenation equals the sum of a user part and an item part, W [p'; q'] + b =
W_u p' + W_i q' + b. Scoring all items uses that: the item part is computed once per call for the whole catalogue
and the tower runs over (users x item chunk) blocks, so no (B * n, 2 * mlp_factors) input is materialised.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import torch
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.dropout import FastDropout
from fathom.models.losses import bce_loss, l2_penalty
from fathom.models.sampling import NegativeSampler, sampled_batches
from fathom.models.torch_base import TorchConfig, TorchRecommender
from fathom.models.training import Objective, OptimizerName


class NeuMFConfig(TorchConfig):
    gmf_factors: int = Field(64, ge=1, description="GMF embedding size")
    mlp_factors: int = Field(64, ge=1, description="MLP embedding size (per side; the tower input is twice this)")
    layers: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        (64, 32), min_length=1, description="hidden sizes of the MLP tower"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each hidden layer")
    layer_norm: bool = Field(False, description="LayerNorm after each hidden linear layer, before ReLU")
    neg_ratio: int = Field(4, ge=1, description="sampled negatives per positive pair")
    reg: float = Field(0.0, ge=0, description="L2 on the embeddings of each batch (per positive pair)")
    init_std: float = Field(0.01, gt=0, description="standard deviation of the normal initial embeddings")
    score_chunk: int = Field(1 << 13, ge=1, description="(user, item) pairs per tower pass when scoring (cache-sized)")
    # training defaults tuned on MovieLens-1M
    epochs: int = 30
    batch_size: int = 4096
    optimizer: OptimizerName = "adam"
    lr: float = 1e-3


class NeuMFNet(nn.Module):
    def __init__(self, n_users: int, n_items: int, config: NeuMFConfig) -> None:
        super().__init__()
        c = config
        self.n_items = n_items
        self.user_gmf = nn.Embedding(n_users, c.gmf_factors)
        self.item_gmf = nn.Embedding(n_items, c.gmf_factors)
        self.user_mlp = nn.Embedding(n_users, c.mlp_factors)
        self.item_mlp = nn.Embedding(n_items, c.mlp_factors)
        for emb in (self.user_gmf, self.item_gmf, self.user_mlp, self.item_mlp):
            nn.init.normal_(emb.weight, std=c.init_std)
        # the first tower layer, Linear(2 * mlp_factors, layers[0]), split into its user and item halves
        self.first_user = nn.Linear(c.mlp_factors, c.layers[0])
        self.first_item = nn.Linear(c.mlp_factors, c.layers[0], bias=False)
        blocks: list[nn.Module] = []
        for k, width in enumerate(c.layers):
            if k > 0:
                blocks.append(nn.Linear(c.layers[k - 1], width))
            if c.layer_norm:
                blocks.append(nn.LayerNorm(width))
            blocks.append(nn.ReLU(inplace=True))
            if c.dropout > 0:
                blocks.append(FastDropout(c.dropout))  # torch's CPU dropout mask is slow
        self.tower = nn.Sequential(*blocks)  # (..., layers[0]) pre-activation -> (..., layers[-1])
        self.predict = nn.Linear(c.gmf_factors + c.layers[-1], 1)

    def _item_first(self, items: torch.Tensor) -> torch.Tensor:
        """First-layer item part W_i q'_i, shape items.shape + (layers[0],)."""
        if items.numel() > self.n_items:  # cheaper to project the whole table once, then gather
            table = self.first_item(self.item_mlp.weight)  # (n_items, h0)
            return table.index_select(0, items.reshape(-1)).view(*items.shape, -1)
        return self.first_item(self.item_mlp(items))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) of users (B,) against items (B, K).

        ``predict`` on the concatenation [GMF, MLP] is applied as the sum of its two halves, which avoids
        materialising the (B, K, g + hL) concatenation.
        """
        g = self.user_gmf.embedding_dim
        w_gmf, w_mlp = self.predict.weight[0, :g], self.predict.weight[0, g:]  # (g,), (hL,)
        user_gmf = (self.user_gmf(users) * w_gmf).unsqueeze(1)  # (B, 1, g)
        gmf = (user_gmf * self.item_gmf(items)).sum(-1)  # (B, K)
        hidden = self.first_user(self.user_mlp(users)).unsqueeze(1) + self._item_first(items)  # (B, K, h0)
        mlp = self.tower(hidden) @ w_mlp  # (B, K, hL) @ (hL,) -> (B, K)
        return gmf + mlp + self.predict.bias

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Squared norms of the four embeddings used for users (B,) and items (B, K), per user."""
        return l2_penalty(self.user_gmf(users), self.user_mlp(users), self.item_gmf(items), self.item_mlp(items))

    def score_all(self, users: torch.Tensor, chunk_pairs: int) -> torch.Tensor:
        """Logits (B, n_items) of users (B,) against every item, computing the tower over item chunks."""
        g = self.user_gmf.embedding_dim
        w_gmf, w_mlp = self.predict.weight[0, :g], self.predict.weight[0, g:]  # (g,), (hL,)
        out = (self.user_gmf(users) * w_gmf) @ self.item_gmf.weight.T + self.predict.bias  # (B, n)
        user_part = self.first_user(self.user_mlp(users))  # (B, h0)
        item_part = self.first_item(self.item_mlp.weight)  # (n, h0)
        step = max(1, chunk_pairs // max(len(users), 1))
        for start in range(0, self.n_items, step):
            hidden = user_part.unsqueeze(1) + item_part[start : start + step]  # (B, C, h0)
            out[:, start : start + step] += self.tower(hidden) @ w_mlp  # (B, C, hL) @ (hL,) -> (B, C)
        return out


class _NeuMFObjective(Objective):
    def __init__(self, net: NeuMFNet, train: Interactions, config: NeuMFConfig) -> None:
        super().__init__(net)
        self.train_set, self.config = train, config
        self.sampler = NegativeSampler(train)

    def batches(self, rng: np.random.Generator, batch_size: int):
        return sampled_batches(self.train_set, self.sampler, rng, batch_size, self.config.neg_ratio)

    def loss(self, batch) -> torch.Tensor:
        users, pos, neg = batch  # (B,), (B,), (B, k)
        items = torch.cat([pos.unsqueeze(1), neg], dim=1)  # (B, 1 + k)
        logits = self.net(users, items)  # (B, 1 + k)
        loss = bce_loss(logits[:, 0], logits[:, 1:])
        if self.config.reg > 0:
            loss = loss + self.config.reg * self.net.penalty(users, items)
        return loss


class NeuMF(TorchRecommender):
    """NeuMF; ``batch_size`` counts positive pairs (each step sees batch_size * (1 + neg_ratio) pairs)."""

    name = "neumf"
    Config = NeuMFConfig
    config: NeuMFConfig

    def _build_net(self) -> NeuMFNet:
        return NeuMFNet(self.n_users, self.n_items, self.config)

    def _objective(self, net: NeuMFNet, train: Interactions) -> _NeuMFObjective:
        return _NeuMFObjective(net, train, self.config)

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        return self.net.score_all(users, self.config.score_chunk)

    def item_vectors(self) -> np.ndarray:
        """(n_items, gmf_factors + mlp_factors): the GMF and MLP item embeddings side by side."""
        self._check_fitted()
        return torch.cat([self.net.item_gmf.weight, self.net.item_mlp.weight], dim=1).detach().numpy()
