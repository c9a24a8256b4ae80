"""From frozen item text vectors to a model's item space: parametric whitening in a mixture of experts.

As in UniSRec (Hou et al., KDD 2022): a text encoder's vectors share a direction and a scale that say little
about behaviour, so each expert first whitens them with learned parameters, ``(x - b) W`` (b: (d_text,),
W: (d_text, d)), and a softmax gate computed from the text vector itself mixes ``n_experts`` such maps:

    out(x) = sum_e g_e(x) (drop(x) - b_e) W_e,        g(x) = softmax(x G + noise)

``drop`` is dropout on the text input (training only). With ``gate_noise``, training adds Gaussian noise to the
gate logits with a learned, input-dependent scale ``softplus(x N)`` (noisy gating, Shazeer et al. 2017), which
keeps every expert in use; scoring uses the clean gate. ``G`` and ``N`` start at zero (an even mix of the
experts), the biases at zero and the maps at Normal(0, ``init_std``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WhiteningExperts(nn.Module):
    """``n_experts`` parametric whitening maps ``(x - b_e) W_e``."""

    def __init__(self, d_text: int, d: int, n_experts: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(n_experts, d_text))  # (E, d_text)
        self.weight = nn.Parameter(torch.randn(n_experts, d_text, d) * init_std)  # (E, d_text, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, d_text) -> (n, E, d): every expert's map of every row, as x W_e - b_e W_e (one product)."""
        n_experts, d_text, d = self.weight.shape
        stacked = self.weight.transpose(0, 1).reshape(d_text, n_experts * d)  # (d_text, E * d)
        shift = torch.bmm(self.bias.unsqueeze(1), self.weight).squeeze(1)  # (E, d): b_e W_e
        return (x @ stacked).view(len(x), n_experts, d) - shift  # (n, E, d)


class TextAdaptor(nn.Module):
    """(n, d_text) text vectors -> (n, d) item vectors; see the module docstring."""

    def __init__(self, d_text: int, d: int, n_experts: int = 8, dropout: float = 0.2, gate_noise: bool = True,
                 init_std: float = 0.02) -> None:
        super().__init__()
        if n_experts < 1:
            raise ValueError(f"n_experts must be at least 1, got {n_experts}")
        self.drop = nn.Dropout(dropout)
        self.experts = WhiteningExperts(d_text, d, n_experts, init_std)
        self.gate = nn.Parameter(torch.zeros(d_text, n_experts))  # (d_text, E)
        self.noise = nn.Parameter(torch.zeros(d_text, n_experts)) if gate_noise else None  # (d_text, E)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, d_text) -> (n, E) mixing weights, rows summing to 1 (noisy while training)."""
        logits = x @ self.gate  # (n, E)
        if self.noise is not None and self.training:
            scale = F.softplus(x @ self.noise) + 1e-2  # (n, E)
            logits = logits + torch.randn_like(logits) * scale
        return torch.softmax(logits, dim=-1)  # (n, E)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, d_text) -> (n, d)."""
        mapped = self.experts(self.drop(x))  # (n, E, d)
        return (self.gates(x).unsqueeze(-1) * mapped).sum(1)  # (n, d)
