"""A learned score for the items already in a sequence model's input ("history bias").

A dot-product next-item model ranks every item by <state, item>; telling it "not the items this user has just
had" (MovieLens: nobody rates a film twice) or "often the same again" (groceries, music) takes a state that
points away from (or towards) up to ``max_len`` particular items at once, which one vector does poorly. With
``history_bias`` the logit of each item in the input window gets a learned bias b[k] by how many steps ago it was
last there (k = 0 for the newest input): z'_i = <state, item_i> + b[k_i]. The biases start at 0 and train with the
rest under the full-softmax loss, so the data decide their sign and size; the evaluation protocol is unchanged
(nothing is removed from the ranking).

The loss needs no (positions x items) bias matrix: with the plain log-partition lse = log sum_i exp(z_i), the
biased one is lse + log(1 + sum_j pi_j (exp(b_j) - 1)) over the window's distinct items j, pi_j = exp(z_j - lse).
"""

from __future__ import annotations

import torch

PAD = 0  # padding id of the input sequences; item i is input id i + 1


def seen_positions(inputs: torch.Tensor, tail: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Which window positions each of the last ``tail`` outputs has seen, and how long ago.

    inputs: (B, L) int64 padded input ids. Returns ``ok`` (B, T, L) bool, True where position j is a real item
    at or before output position a_t = L - T + t with no later occurrence of the same item up to a_t (so each
    distinct item counts once, at its most recent position), and ``distance`` (T, L) int64, a_t - j (clamped to
    0 where j > a_t).
    """
    length = inputs.shape[1]
    idx = torch.arange(length, device=inputs.device)  # (L,)
    out_pos = idx[length - tail :]  # (T,)
    same_later = (inputs[:, :, None] == inputs[:, None, :]) & (idx[None, :] > idx[:, None])  # (B, L, L) j' > j
    next_same = torch.where(same_later, idx, length).amin(-1)  # (B, L) next position of the same item, L if none
    ok = (
        (idx[None, None, :] <= out_pos[None, :, None])
        & (inputs[:, None, :] != PAD)
        & (next_same[:, None, :] > out_pos[None, :, None])
    )  # (B, T, L)
    distance = (out_pos[:, None] - idx[None, :]).clamp(min=0)  # (T, L)
    return ok, distance


def history_bias_loss(
    hidden: torch.Tensor,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    lse: torch.Tensor,
    table: torch.Tensor,
    bias: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """What the history bias adds to the mean full-softmax cross-entropy of the positions with a target.

    hidden: (B, T, d) states of the last T positions; inputs: (B, L) their padded input ids; targets: (B, T)
    next items, -1 where there is no loss; lse: (P,) plain log-partitions of the P positions with a target, in
    row-major order (``full_softmax_loss(..., return_lse=True)``); table: (n, d) item embeddings; bias: (L,) the
    bias by distance. Adding this to that loss gives exactly the (label-smoothed) cross-entropy of the biased
    logits; gradients reach hidden, table, bias and (through lse) the plain softmax.
    """
    keep = targets >= 0  # (B, T)
    ok, distance = seen_positions(inputs, hidden.shape[1])  # (B, T, L), (T, L)
    ok = ok & keep[:, :, None]  # (B, T, L)
    b = torch.where(ok, bias[distance], 0.0)  # (B, T, L)
    items = (inputs - 1).clamp(min=0)  # (B, L) item ids (padding -> 0, masked by ok)
    seen = table.index_select(0, items.reshape(-1)).view(*items.shape, -1)  # (B, L, d)
    z = hidden @ seen.transpose(1, 2)  # (B, T, L) logits of the window's items
    lse_bt = hidden.new_zeros(keep.shape).masked_scatter(keep, lse)  # (B, T)
    pi = torch.exp(torch.where(ok, z - lse_bt[:, :, None], float("-inf")))  # (B, T, L) their plain softmax
    shift = torch.log1p((pi * torch.expm1(b)).sum(-1).clamp(min=-1.0 + 1e-6))  # (B, T) lse' - lse
    hit = ok & (items[:, None, :] == targets[:, :, None])  # (B, T, L) the target is a seen item
    target_gain = (b * hit).sum(-1)  # (B, T) z'_target - z_target
    mean_gain = b.sum(-1) / table.shape[0]  # (B, T) mean_i z'_i - mean_i z_i
    per_position = shift - (1.0 - label_smoothing) * target_gain - label_smoothing * mean_gain  # 0 without a target
    return per_position.sum() / keep.sum().clamp(min=1)


def add_history_bias(logits: torch.Tensor, inputs: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """logits (B, n) of the item after each (B, L) padded input -> the same plus each window item's bias."""
    ok, distance = seen_positions(inputs, 1)  # (B, 1, L), (1, L)
    values = torch.where(ok[:, 0], bias[distance[0]], 0.0).to(logits.dtype)  # (B, L)
    return logits.scatter_add(1, (inputs - 1).clamp(min=0), values)
