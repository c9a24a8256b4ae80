"""Training losses as pure functions of scores (logits).

Shapes: ``pos`` (B,) scores of observed pairs; ``neg`` (B,) or (B, k) scores of sampled negatives for the same
users. Every loss is a mean, so its scale does not depend on the batch size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking (Rendle et al. 2009): mean of -log sigmoid(pos - neg).

    With ``neg`` (B, k) every positive is compared to each of its k negatives.
    """
    if neg.dim() == pos.dim() + 1:
        pos = pos.unsqueeze(-1)  # (B, 1)
    return F.softplus(neg - pos).mean()  # softplus(-x) == -log sigmoid(x), computed stably


def bce_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Pointwise binary cross-entropy: positives labelled 1, negatives 0, mean over all B * (1 + k) pairs."""
    total = F.softplus(-pos).sum() + F.softplus(neg).sum()  # -log sigmoid(pos), -log(1 - sigmoid(neg))
    return total / (pos.numel() + neg.numel())


def l2_penalty(*tensors: torch.Tensor) -> torch.Tensor:
    """Sum of squared entries of ``tensors`` divided by the length of the first one's first axis.

    With per-example tensors (B, ...) this is the L2 norm squared per training example.
    """
    return sum(t.pow(2).sum() for t in tensors) / tensors[0].shape[0]
