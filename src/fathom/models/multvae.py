"""Mult-VAE: variational autoencoder with a multinomial likelihood (Liang et al., WWW 2018).

A user is their whole training row x_u (binary, over all items). The encoder reads the L2-normalised row with
input dropout, through ``hidden`` tanh layers, and outputs the mean and log-variance of a Gaussian latent
z (``latent`` dims); the decoder maps z through the mirrored tanh layers to logits over all items. The loss per
user is the negative multinomial log-likelihood ``-sum_i x_ui log softmax(logits)_i`` plus ``beta`` times
KL(q(z | x_u) || N(0, I)), where ``beta`` rises linearly with the optimiser step from 0 to ``anneal_cap`` over
``total_anneal_steps`` steps (KL annealing; 0 steps: ``beta = anneal_cap`` from the start). z is sampled as
``mu + noise_std * eps * sigma``: ``noise_std`` 1 is the textbook model; the default 0.01 is what RecBole's
implementation samples, and it validates better on MovieLens-1M.

Users are the batch unit. ``score(users)`` runs the encoder mean (no sampling, no dropout) on the users'
training rows and returns the decoder's logits, so the model keeps its training matrix in its state (CSR arrays
in the safetensors file, no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models._sparse import csr_from_state, csr_to_state
from fathom.models.dropout import keep_mask
from fathom.models.torch_base import TorchConfig, TorchRecommender
from fathom.models.training import Objective, OptimizerName


class MultVAEConfig(TorchConfig):
    hidden: tuple[int, ...] = Field((600,), description="sizes of the encoder's hidden layers (decoder mirrored)")
    latent: int = Field(64, ge=1, description="dimension of the Gaussian latent z")
    dropout: float = Field(0.9, ge=0, lt=1, description="dropout probability on the normalised input row")
    anneal_cap: float = Field(0.2, ge=0, description="largest KL weight beta")
    total_anneal_steps: int = Field(200000, ge=0, description="optimiser steps over which beta rises to the cap")
    noise_std: float = Field(
        0.01, ge=0, description="scale of the reparameterisation noise z = mu + noise_std * eps * sigma (1: the "
        "textbook VAE; 0.01, as RecBole samples eps: close to a deterministic autoencoder; 0: none)"
    )
    user_weight: Literal["uniform", "interactions"] = Field(
        "uniform", description="each user's weight in the loss: uniform, or proportional to their number of "
        "training items (the expected gradient of batches drawn per interaction, as RecBole trains it)"
    )
    # defaults chosen on MovieLens-1M validation NDCG@10 (benchmarks/results/ml1m-general: latent 64, noise 0.01 and
    # input dropout 0.9 beat the textbook latent 200 / noise 1 / 20k-step annealing / dropout 0.5; halving the rate
    # after 3 validations without improvement beats a constant rate; the batch is a number of users)
    epochs: int = 300
    batch_size: int = 256
    optimizer: OptimizerName = "adam"
    lr: float = 2e-3
    patience: int | None = 12
    lr_decay: float | None = 0.5
    lr_decay_patience: int = 3
    min_lr: float = 1e-5


@dataclass(frozen=True)
class RowBatch:
    """Some users' training rows in coordinate form (the non-zeros row by row, as in CSR).

    items, rows, values: (nnz,) the item, the batch row and the value of each non-zero; offsets: (B,) where
    each row starts in ``items``; unit: (nnz,) the values divided by their row's L2 norm.
    """

    items: torch.Tensor
    rows: torch.Tensor
    values: torch.Tensor
    unit: torch.Tensor
    offsets: torch.Tensor
    n_rows: int


def row_batch(matrix: sp.csr_matrix, users: np.ndarray) -> RowBatch:
    """The rows ``users`` of a CSR matrix as a :class:`RowBatch`."""
    sub = matrix[users]  # (B, I) CSR
    lengths = np.diff(sub.indptr)  # (B,)
    values = sub.data.astype(np.float32)
    sq = np.zeros(len(users), np.float32)
    nonempty = lengths > 0
    sq[nonempty] = np.add.reduceat(values * values, sub.indptr[:-1][nonempty])
    norms = np.sqrt(np.maximum(sq, 1e-12))  # (B,) as F.normalize: all-zero rows stay zero
    rows = np.repeat(np.arange(len(users)), lengths)  # (nnz,)
    return RowBatch(
        items=torch.from_numpy(sub.indices.astype(np.int64)),
        rows=torch.from_numpy(rows.astype(np.int64)),
        values=torch.from_numpy(values),
        unit=torch.from_numpy(values / norms[rows]),
        offsets=torch.from_numpy(sub.indptr[:-1].astype(np.int64)),
        n_rows=len(users),
    )


def multvae_loss(
    logits: torch.Tensor, x: RowBatch, mu: torch.Tensor, logvar: torch.Tensor, beta: float,
    user_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO with a multinomial likelihood, averaged over the batch's users.

    logits: (B, I) decoder output; x: the users' rows; mu, logvar: (B, L) the encoder's Gaussian; user_weights:
    (B,) optional weights of the users (the mean becomes a weighted sum divided by B).
    Returns (loss, nll, kl) with nll = mean_u -sum_i x_ui log softmax(logits_u)_i,
    kl = mean_u 0.5 * sum_l (exp(logvar) + mu^2 - 1 - logvar), loss = nll + beta * kl.
    """
    log_probs = F.log_softmax(logits, dim=1)  # (B, I)
    per_user_nll = torch.zeros(x.n_rows, dtype=log_probs.dtype).index_add_(
        0, x.rows, -log_probs[x.rows, x.items] * x.values
    )  # (B,)
    per_user_kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)  # (B,)
    if user_weights is not None:
        per_user_nll, per_user_kl = per_user_nll * user_weights, per_user_kl * user_weights
    nll, kl = per_user_nll.mean(), per_user_kl.mean()
    return nll + beta * kl, nll, kl


def anneal_beta(step: int, cap: float, total_steps: int) -> float:
    """KL weight after ``step`` optimiser steps: min(cap, step / total_steps); ``cap`` when total_steps is 0."""
    if total_steps == 0:
        return cap
    return min(cap, step / total_steps)


def _mlp(dims: list[int]) -> nn.Sequential:
    """Linear layers with tanh between them (none after the last)."""
    layers: list[nn.Module] = []
    for n, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        linear = nn.Linear(d_in, d_out)
        nn.init.xavier_normal_(linear.weight)
        nn.init.normal_(linear.bias, std=0.001)
        layers.append(linear)
        if n < len(dims) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class MultVAENet(nn.Module):
    """Encoder [I, *hidden, 2L] and decoder [L, *reversed(hidden), I], tanh between layers.

    The encoder's first layer reads the sparse input directly: its weight is stored item-major (I, h) and
    applied with ``embedding_bag`` (a sparse-dense product), so its cost grows with the non-zeros, not with I.
    """

    def __init__(
        self, n_items: int, hidden: tuple[int, ...], latent: int, dropout: float, noise_std: float = 1.0
    ) -> None:
        super().__init__()
        self.latent, self.dropout, self.noise_std = latent, dropout, noise_std
        dims = [n_items, *hidden, 2 * latent]
        self.input_weight = nn.Parameter(torch.empty(n_items, dims[1]))  # (I, h) = first Linear's weight^T
        self.input_bias = nn.Parameter(torch.empty(dims[1]))
        nn.init.xavier_normal_(self.input_weight)
        nn.init.normal_(self.input_bias, std=0.001)
        self.encoder = nn.Sequential(nn.Tanh(), _mlp(dims[1:])) if len(dims) > 2 else nn.Identity()
        self.decoder = _mlp([latent, *reversed(hidden), n_items])

    def encode(self, x: RowBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows -> mu, logvar (B, L) of the normalised rows; input dropout only in training mode."""
        items, weights, offsets = x.items, x.unit, x.offsets  # (nnz,), (nnz,), (B,)
        if self.training and self.dropout > 0:  # dropped non-zeros leave the bag (at 0.9 most of them)
            keep, scale = keep_mask(len(items), self.dropout)
            items, weights, rows = items[keep], weights[keep] * scale, x.rows[keep]
            counts = torch.bincount(rows, minlength=x.n_rows)  # (B,) kept non-zeros per row
            offsets = torch.cumsum(counts, 0) - counts
        h = F.embedding_bag(items, self.input_weight, offsets, mode="sum", per_sample_weights=weights)
        out = self.encoder(h + self.input_bias)  # (B, 2L)
        return out[:, : self.latent], out[:, self.latent :]

    def forward(self, x: RowBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows -> logits (B, I), mu (B, L), logvar (B, L); z is sampled only in training mode."""
        mu, logvar = self.encode(x)
        if self.training and self.noise_std > 0:
            z = mu + self.noise_std * torch.randn_like(mu) * torch.exp(0.5 * logvar)  # (B, L)
        else:
            z = mu
        return self.decoder(z), mu, logvar


class _MultVAEObjective(Objective):
    def __init__(self, net: MultVAENet, rows: sp.csr_matrix, config: MultVAEConfig) -> None:
        super().__init__(net)
        self.rows, self.config = rows, config
        counts = np.diff(rows.indptr)
        self.users = np.flatnonzero(counts > 0)  # users with at least one training item
        # "interactions": weight n_u / mean(n), so an epoch's total weight stays the number of users
        self.weights = (counts / counts[self.users].mean()).astype(np.float32) if (
            config.user_weight == "interactions"
        ) else None
        self.step = 0

    def batches(self, rng: np.random.Generator, batch_size: int):
        order = rng.permutation(self.users)
        for start in range(0, len(order), batch_size):
            users = order[start : start + batch_size]
            yield row_batch(self.rows, users), None if self.weights is None else torch.from_numpy(self.weights[users])

    def loss(self, batch: tuple[RowBatch, torch.Tensor | None]) -> torch.Tensor:
        rows, weights = batch
        beta = anneal_beta(self.step, self.config.anneal_cap, self.config.total_anneal_steps)
        self.step += 1
        logits, mu, logvar = self.net(rows)
        return multvae_loss(logits, rows, mu, logvar, beta, weights)[0]


class MultVAE(TorchRecommender):
    """Mult-VAE; ``item_vectors()`` are the rows of the decoder's output layer."""

    name = "multvae"
    Config = MultVAEConfig
    config: MultVAEConfig

    def fit(self, train: Interactions, valid: Interactions | None = None, *,
            init_from: TorchRecommender | None = None) -> Self:
        self._begin_fit(train)
        self.history = train.csr()  # binary (U, I); scoring reads the users' rows from it
        return super().fit(train, valid, init_from=init_from)

    def _build_net(self) -> MultVAENet:
        c = self.config
        return MultVAENet(self.n_items, c.hidden, c.latent, c.dropout, c.noise_std)

    def _objective(self, net: MultVAENet, train: Interactions) -> _MultVAEObjective:
        return _MultVAEObjective(net, self.history, self.config)

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        logits, _, _ = self.net(row_batch(self.history, users.numpy()))
        return logits  # (B, I)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net.decoder[-1].weight.detach().numpy().copy()  # (I, hidden[-1] or latent)

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), **csr_to_state("history", self.history)}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.history = csr_from_state("history", state)
        super()._load_state({k: v for k, v in state.items() if not k.startswith("history.")})
