"""Dropout whose random mask is cheap to draw on a CPU.

torch's CPU dropout draws one Bernoulli variate per element from a Mersenne Twister, which made the masks a large
share of a SASRec training step on a CPU. Here one 64-bit draw of the same generator gives four 16-bit uniform
integers, and an element is kept when its integer is at or above a threshold. The drop probability is therefore
``p`` rounded to a multiple of 1/65536 (the kept elements are scaled by the inverse of the rounded keep
probability, so the expectation is exact). The draws come from torch's default generator, so
``torch.manual_seed`` makes them reproducible. On other devices :func:`torch.nn.functional.dropout` is used
unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16


def _keep_mask(shape: torch.Size, drop_levels: int, device: torch.device) -> torch.Tensor:
    """Bool mask of ``shape``, each element False with probability ``drop_levels / 65536``."""
    n = math.prod(shape)
    draws = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    lanes = draws.view(torch.int16)[:n].view(shape)  # 4 uniform int16 per draw
    return lanes >= drop_levels - (_LEVELS // 2)


def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape) with drop probability ``p`` (rounded to a multiple of 1/65536)."""
    _check_probability(p)
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    if round(p * _LEVELS) == 0:
        return x
    keep, scale = keep_mask(x.shape, p, x.device)
    return x * keep.to(x.dtype).mul_(scale)


def keep_mask(
    shape: int | tuple[int, ...], p: float, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, float]:
    """A bool mask of ``shape`` whose elements are False (dropped) with probability ``p`` (rounded to a multiple
    of 1/65536) and the scale of the kept elements (0 when everything is dropped). :func:`fast_dropout` multiplies
    by it; callers that drop whole entries (e.g. the non-zeros of a sparse row) index with it instead."""
    _check_probability(p)
    size = torch.Size((shape,) if isinstance(shape, int) else shape)
    drop_levels = round(p * _LEVELS)
    if drop_levels == 0:
        return torch.ones(size, dtype=torch.bool, device=device), 1.0
    if drop_levels >= _LEVELS:
        return torch.zeros(size, dtype=torch.bool, device=device), 0.0
    return _keep_mask(size, drop_levels, torch.device(device)), _LEVELS / (_LEVELS - drop_levels)


class FastDropout(nn.Module):
    """:class:`torch.nn.Dropout` with :func:`fast_dropout`'s mask (no parameters, so checkpoints are unchanged)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_probability(p)
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
