"""Matrix factorisation trained with Bayesian personalised ranking (Rendle et al. 2009).

score(u, i) = <p_u, q_i>; each training pair (u, i) is compared with ``n_neg`` items drawn uniformly from those
u has not interacted with, and the loss is mean -log sigmoid(score(u, i) - score(u, j)) plus ``reg`` times the
squared norms of the embeddings in the batch (per example).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.losses import bpr_mf_loss
from fathom.models.sampling import NegativeSampler, sampled_batches
from fathom.models.torch_base import TorchConfig, TorchRecommender
from fathom.models.training import Objective, OptimizerName


class BPRConfig(TorchConfig):
    factors: int = Field(64, ge=1, description="embedding size")
    reg: float = Field(0.0, ge=0, description="L2 on the user / item embeddings of each batch")
    init_std: float = Field(0.01, gt=0, description="standard deviation of the normal initial embeddings")
    n_neg: int = Field(4, ge=1, description="sampled negatives per positive pair (the loss is their mean)")
    # training defaults: batch, optimiser and epochs as chosen on MovieLens-1M validation NDCG@10; the rate is 4x the
    # ML-1M benchmark's (5e-4, which its grid in fathom/benchmarks/protocols.py sets itself) so that a data set of 100k
    # events converges in a few dozen epochs: on MovieLens-100K the best validation NDCG@10 comes at epoch 35
    # (.2452) instead of 121 (.2471) (docs/experiments/bpr-defaults.md); early stopping (patience 10) then ends
    # training long before the last epoch
    epochs: int = 300
    batch_size: int = 2048
    optimizer: OptimizerName = "adam"
    lr: float = 2e-3


class MFNet(nn.Module):
    """User and item embeddings; score = dot product."""

    def __init__(self, n_users: int, n_items: int, factors: int, init_std: float) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        return self.user(users) @ self.item.weight.T  # (B, d) @ (d, n) -> (B, n)


class _BPRObjective(Objective):
    def __init__(self, net: MFNet, train: Interactions, config: BPRConfig) -> None:
        super().__init__(net)
        self.train_set, self.config = train, config
        self.sampler = NegativeSampler(train)

    def batches(self, rng: np.random.Generator, batch_size: int):
        return sampled_batches(self.train_set, self.sampler, rng, batch_size, self.config.n_neg)

    def loss(self, batch) -> torch.Tensor:
        users, pos, neg = batch  # (B,), (B,), (B, k)
        items = torch.cat([pos.unsqueeze(1), neg], dim=1)  # (B, 1 + k)
        return bpr_mf_loss(self.net.user.weight, self.net.item.weight, users, items, self.config.reg)


class BPRMF(TorchRecommender):
    """BPR matrix factorisation; ``item_vectors()`` are the item embeddings."""

    name = "bpr"
    Config = BPRConfig
    config: BPRConfig

    def _build_net(self) -> MFNet:
        return MFNet(self.n_users, self.n_items, self.config.factors, self.config.init_std)

    def _objective(self, net: MFNet, train: Interactions) -> _BPRObjective:
        return _BPRObjective(net, train, self.config)

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        return self.net(users)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net.item.weight.detach().numpy().copy()

    def user_vectors(self) -> np.ndarray:
        """(n_users, factors) user embeddings."""
        self._check_fitted()
        return self.net.user.weight.detach().numpy().copy()
