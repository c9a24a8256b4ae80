"""LightGCN: simplified graph convolution for recommendation (He et al., SIGIR 2020).

Users and items are the nodes of one bipartite graph with the symmetrically normalised adjacency
``A_hat = D^-1/2 A D^-1/2`` (D the node degrees). Starting from the free ("ego") embeddings ``E0``, each of the
``layers`` propagation steps is ``E(k+1) = A_hat E(k)``, with no weights and no non-linearity; the final
embedding of a node is the mean of its layer embeddings ``(E0 + E1 + ... + EK) / (K + 1)``, and
score(u, i) = <e_u, e_i>. Training is BPR with one uniform negative per observed pair plus ``reg`` times the
squared norms of the batch's ego embeddings (per example), as in the paper.

Speed. The propagation runs over the whole graph for every optimiser step (the gradient of every node depends
on it). It is a torch CSR sparse-dense product, and its backward pass is the same product again because
``A_hat`` is symmetric (a small autograd function, so no sparse gradient is ever formed). An epoch has only
``n_pairs / batch_size`` propagations, so the defaults use large batches with a correspondingly larger learning
rate. For scoring, the network is propagated once whenever it is put in evaluation mode and the final
embeddings are cached in buffers (saved with the model), so ``score`` is one dense product.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.losses import bpr_loss, l2_penalty
from fathom.models.sampling import NegativeSampler, sampled_batches
from fathom.models.torch_base import TorchConfig, TorchRecommender
from fathom.models.training import Objective, OptimizerName


class LightGCNConfig(TorchConfig):
    factors: int = Field(64, ge=1, description="embedding size")
    layers: int = Field(2, ge=0, description="propagation layers K (0: plain matrix factorisation)")
    reg: float = Field(3e-4, ge=0, description="L2 on the ego embeddings of each batch's users and items")
    init_std: float = Field(0.1, gt=0, description="standard deviation of the normal initial embeddings")
    n_neg: int = Field(1, ge=1, description="sampled negatives per positive pair")
    # training defaults tuned on MovieLens-1M (large batches: one graph propagation per optimiser step)
    epochs: int = 300
    batch_size: int = 16384
    optimizer: OptimizerName = "adam"
    lr: float = 1e-2
    eval_every: int = 5
    patience: int | None = 4


def normalized_adjacency(interactions: sp.spmatrix) -> sp.csr_matrix:
    """The symmetric normalised adjacency of the user-item bipartite graph.

    interactions: (U, I), any non-zero is an edge. Returns (U + I, U + I) float32 CSR
    ``D^-1/2 [[0, R], [R^T, 0]] D^-1/2``; nodes without edges get all-zero rows and columns. Users come first.
    """
    r = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
    r.eliminate_zeros()
    r.data[:] = 1.0
    n_users, n_items = r.shape
    return symmetric_normalise(sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32))  # N = U + I


def symmetric_normalise(adj: sp.spmatrix) -> sp.csr_matrix:
    """``D^-1/2 A D^-1/2`` (D the weighted degrees) as float32 CSR with sorted indices; isolated nodes stay 0."""
    degree = np.asarray(adj.sum(axis=1)).ravel()  # (N,)
    inv_sqrt = np.zeros_like(degree)
    np.divide(1.0, np.sqrt(degree), out=inv_sqrt, where=degree > 0)
    scale = sp.diags(inv_sqrt)
    out = sp.csr_matrix(scale @ adj @ scale, dtype=np.float32)
    out.sort_indices()
    return out


def to_torch_csr(m: sp.csr_matrix) -> torch.Tensor:
    """A scipy CSR matrix as a torch sparse CSR tensor (float32)."""
    m = sp.csr_matrix(m, dtype=np.float32)
    with warnings.catch_warnings():  # torch flags sparse CSR support as beta
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data),
            size=m.shape,
            check_invariants=False,
        )


class _SymmetricSpMM(torch.autograd.Function):
    """y = A x for a constant symmetric sparse A; the gradient w.r.t. x is A^T g = A g."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return adj @ x  # (N, N) @ (N, d) -> (N, d)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, ctx.adj @ grad


def propagate(adj: torch.Tensor, ego: torch.Tensor, layers: int) -> torch.Tensor:
    """Mean of the layer embeddings: (E0 + A E0 + ... + A^K E0) / (K + 1).

    adj: (N, N) symmetric sparse (CSR or COO) tensor; ego: (N, d). Returns (N, d). Differentiable in ``ego``.
    """
    total, layer = ego, ego
    for _ in range(layers):
        layer = _SymmetricSpMM.apply(adj, layer)  # (N, d)
        total = total + layer
    return total / (layers + 1)


class LightGCNNet(nn.Module):
    """Ego embeddings (parameters) and the cached final embeddings (buffers, refreshed by ``refresh``)."""

    def __init__(self, n_users: int, n_items: int, factors: int, layers: int, init_std: float) -> None:
        super().__init__()
        self.n_users, self.layers = n_users, layers
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        self.register_buffer("final_user", torch.zeros(n_users, factors))
        self.register_buffer("final_item", torch.zeros(n_items, factors))

    def propagate(self, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final user (U, d) and item (I, d) embeddings over the graph ``adj`` (users first)."""
        ego = torch.cat([self.user.weight, self.item.weight])  # (U + I, d)
        final = propagate(adj, ego, self.layers)
        return final[: self.n_users], final[self.n_users :]

    @torch.no_grad()
    def refresh(self, adj: torch.Tensor) -> None:
        """Propagate once and keep the result for scoring."""
        users, items = self.propagate(adj)
        self.final_user.copy_(users)
        self.final_item.copy_(items)

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        return self.final_user[users] @ self.final_item.T  # (B, d) @ (d, I) -> (B, I)


class _LightGCNObjective(Objective):
    """BPR over whole-graph propagations; entering evaluation mode refreshes the cached embeddings."""

    def __init__(self, net: LightGCNNet, train: Interactions, config: LightGCNConfig) -> None:
        super().__init__(net)
        self.train_set, self.config = train, config
        self.sampler = NegativeSampler(train)
        self.adj = to_torch_csr(normalized_adjacency(train.csr()))

    def batches(self, rng: np.random.Generator, batch_size: int):
        return sampled_batches(self.train_set, self.sampler, rng, batch_size, self.config.n_neg)

    def loss(self, batch) -> torch.Tensor:
        users, pos, neg = batch  # (B,), (B,), (B, k)
        final_user, final_item = self.net.propagate(self.adj)  # (U, d), (I, d)
        u, i, j = final_user[users], final_item[pos], final_item[neg]  # (B, d), (B, d), (B, k, d)
        pos_scores = (u * i).sum(-1)  # (B,)
        neg_scores = (u.unsqueeze(1) * j).sum(-1)  # (B, k); cheaper than a batched matmul of (1, d) x (d, k)
        loss = bpr_loss(pos_scores, neg_scores)
        if self.config.reg > 0:
            ego_u, ego_i, ego_j = self.net.user(users), self.net.item(pos), self.net.item(neg)
            loss = loss + self.config.reg * l2_penalty(ego_u, ego_i, ego_j.flatten(0, 1))
        return loss

    def train(self, mode: bool = True):
        out = self.net.train(mode)
        if not mode:
            self.net.refresh(self.adj)
        return out


class LightGCN(TorchRecommender):
    """LightGCN; ``item_vectors()`` / ``user_vectors()`` are the final (propagated) embeddings."""

    name = "lightgcn"
    Config = LightGCNConfig
    config: LightGCNConfig

    def _build_net(self) -> LightGCNNet:
        c = self.config
        return LightGCNNet(self.n_users, self.n_items, c.factors, c.layers, c.init_std)

    def _objective(self, net: LightGCNNet, train: Interactions) -> _LightGCNObjective:
        return _LightGCNObjective(net, train, self.config)

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        return self.net(users)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net.final_item.detach().numpy().copy()

    def user_vectors(self) -> np.ndarray:
        """(n_users, factors) final user embeddings."""
        self._check_fitted()
        return self.net.final_user.detach().numpy().copy()
