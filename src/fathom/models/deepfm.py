"""DeepFM (Guo et al. 2017): a factorization machine and an MLP sharing the field embeddings.

    logit = FM(e_1..e_F) + w_out . MLP([e_1; ...; e_F]) + b_out

The FM part is :class:`~fathom.models.fm.FMNet`'s. The MLP takes the concatenated field embeddings
(F * embedding_dim) through ``layers``, each Dropout -> Linear -> ReLU (as RecBole's MLPLayers: the input
embeddings are dropped too, the last hidden layer is not). Fields, features, training (pointwise
BCE, explicit labels or sampled negatives) and validation are as for :class:`~fathom.models.fm.FM`.

Scoring all items splits the first MLP layer over the user fields and the item fields,
W [e_U; e_I] + b = (W_U e_U + b) + W_I e_I: the item half is computed once for the catalogue, and the rest of the
MLP runs over (users x item chunk) blocks of at most ``score_chunk`` pairs.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from fathom.models.dropout import FastDropout
from fathom.models.fm import FieldConfig, FieldLayout, FieldRecommender, FMNet, fm_interaction


class DeepFMConfig(FieldConfig):
    layers: tuple[int, ...] = Field((128, 128, 128), min_length=1, description="hidden sizes of the MLP")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout before each MLP linear layer (input included)")


def mlp_after_first(widths: tuple[int, ...], dropout: float) -> nn.Sequential:
    """What follows a first linear layer of width ``widths[0]``: ReLU, then (Dropout, Linear, ReLU) per layer."""
    blocks: list[nn.Module] = [nn.ReLU()]
    for k in range(1, len(widths)):
        if dropout > 0:
            blocks.append(FastDropout(dropout))  # torch's CPU dropout mask is slow
        blocks += [nn.Linear(widths[k - 1], widths[k]), nn.ReLU()]
    return nn.Sequential(*blocks)


class SplitLinear(nn.Module):
    """A linear layer over [user fields; item fields] (flattened), kept as its user and item halves."""

    def __init__(self, user_in: int, item_in: int, out: int) -> None:
        super().__init__()
        self.user = nn.Linear(user_in, out)
        self.item = nn.Linear(item_in, out, bias=False)

    def forward(self, eu: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
        """eu (B, Fu, d), ei (B, Fi, d) -> (B, out)."""
        return self.user(eu.flatten(1)) + self.item(ei.flatten(1))


def chunked_pairs(user_part: torch.Tensor, item_part: torch.Tensor, head, chunk_pairs: int) -> torch.Tensor:
    """``head(user_part[b] + item_part[j])`` for every (b, j): (B, h), (n, h) -> head's (B, n, ...) output.

    ``head`` maps (B, C, h) to (B, C) or (B, C, T); the pairs are processed ``chunk_pairs`` at a time.
    """
    step = max(1, chunk_pairs // max(len(user_part), 1))
    parts = [
        head(user_part.unsqueeze(1) + item_part[start : start + step].unsqueeze(0))  # (B, C, h) -> (B, C[, T])
        for start in range(0, len(item_part), step)
    ]
    return torch.cat(parts, dim=1)


class DeepFMNet(FMNet):
    def __init__(self, layout: FieldLayout, config: DeepFMConfig) -> None:
        super().__init__(layout, config)
        d, widths = config.embedding_dim, config.layers
        self.drop = FastDropout(config.dropout)
        self.first = SplitLinear(len(layout.user) * d, len(layout.item) * d, widths[0])
        self.tower = mlp_after_first(widths, config.dropout)  # (..., h0) pre-activation -> (..., hL)
        self.out = nn.Linear(widths[-1], 1)

    def _deep(self, pre: torch.Tensor) -> torch.Tensor:
        return self.out(self.tower(pre)).squeeze(-1)  # (..., h0) -> (...)

    def pair_logits(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eu, wu = self.fields("user", users)  # (B, Fu, d)
        ei, wi = self.fields("item", items)  # (B, Fi, d)
        emb = torch.cat([eu, ei], dim=1)  # (B, F, d)
        fm = self.bias + wu + wi + fm_interaction(emb)
        return fm + self._deep(self.first(self.drop(eu), self.drop(ei))), emb.pow(2).sum()

    def score_all(self, users: torch.Tensor, chunk_pairs: int) -> torch.Tensor:
        fm, eu, ei = self._fm_all(users)  # (B, n), (B, Fu, d), (n, Fi, d)
        user_part = self.first.user(eu.flatten(1))  # (B, h0)
        item_part = self.first.item(ei.flatten(1))  # (n, h0)
        return fm + chunked_pairs(user_part, item_part, self._deep, chunk_pairs)


class DeepFM(FieldRecommender):
    """DeepFM; see the module docstring and :class:`~fathom.models.fm.FM` for fields and training."""

    name = "deepfm"
    Config = DeepFMConfig
    config: DeepFMConfig

    def _make_net(self, layout: FieldLayout) -> DeepFMNet:
        return DeepFMNet(layout, self.config)
