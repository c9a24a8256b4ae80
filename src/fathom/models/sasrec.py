"""SASRec: self-attentive sequential recommendation (Kang & McAuley 2018).

The network: item embeddings (scaled by sqrt(d)) plus learned position embeddings, then ``n_blocks``
transformer blocks with causal multi-head self-attention and a point-wise feed-forward layer (pre-layer-norm,
residual connections, dropout), then a final layer norm. The state at position t predicts the item at t + 1 by a
dot product with the same item embedding table.

Training (see :mod:`fathom.models.sequence`): each user's sequence is cut into windows of ``max_len + 1`` items
and the loss is taken at every position of a window at once (with ``stride`` < ``max_len`` the windows overlap
and the first positions of each are context only: the last block then computes queries, feed-forward and output
only for the positions with a loss); the default loss is cross-entropy over the full catalogue.
Padding (left, id 0) is masked out of attention as a key; a padding position attends only to itself,
so no row of the attention is empty.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from fathom.models.dropout import FastDropout, fast_dropout
from fathom.models.sequence import PAD, SequenceConfig, SequenceNet, SequentialRecommender, init_weights


class SASRecConfig(SequenceConfig):
    n_blocks: int = Field(2, ge=1, description="transformer blocks")
    n_heads: int = Field(2, ge=1, description="attention heads; must divide factors")
    ffn_size: int = Field(256, ge=1, description="hidden size of the point-wise feed-forward layer")
    dropout: float = Field(0.05, ge=0, lt=1, description="dropout on embeddings, attention and residual branches")
    # dropout chosen on MovieLens-1M validation NDCG@10 at 64 factors (RecBole 'ml-1m seq' protocol); the benchmark's
    # config (benchmarks/configs/ml1m_seq_sasrec.json) is larger and slower per epoch: 128 factors, three blocks,
    # dropout 0.1, label smoothing, bfloat16 and a weight average (each step: docs/experiments/sequence-models.md)
    factors: int = 64
    lr: float = 1e-3
    batch_size: int = 128


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d % n_heads:
            raise ValueError(f"factors ({d}) must be divisible by n_heads ({n_heads})")
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, tail: int | None = None) -> torch.Tensor:
        """x (B, L, d); allowed (B, 1, L, L) bool, True where query t may attend to key s -> (B, T, d), the
        outputs of the last T = ``tail`` (default L) positions, which still attend to every earlier position."""
        b, length, d = x.shape
        t_len = length if tail is None else min(tail, length)
        weight, bias = self.qkv.weight, self.qkv.bias  # (3d, d), (3d,)
        q = F.linear(x[:, length - t_len :], weight[:d], bias[:d])  # (B, T, d)
        k, v = F.linear(x, weight[d:], bias[d:]).split(d, dim=2)  # 2 x (B, L, d)
        hs = d // self.n_heads
        q = q.view(b, t_len, self.n_heads, hs).transpose(1, 2)  # (B, h, T, hs)
        k, v = (t.view(b, length, self.n_heads, hs).transpose(1, 2) for t in (k, v))  # 2 x (B, h, L, hs)
        allowed = allowed[:, :, length - t_len :]  # (B, 1, T, L)
        if self.training and self.dropout > 0 and x.device.type == "cpu":  # torch's CPU dropout mask is slow
            scores = (q @ k.transpose(-2, -1)) * (hs**-0.5)  # (B, h, T, L)
            weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (B, h, T, L)
            y = fast_dropout(weights, self.dropout) @ v  # (B, h, T, hs)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
            )  # (B, h, T, hs)
        return self.out(y.transpose(1, 2).reshape(b, t_len, d))  # (B, T, d)


class Block(nn.Module):
    """x + attn(LN(x)), then x + FFN(LN(x)); FFN = Linear -> GELU -> Linear."""

    def __init__(self, d: int, n_heads: int, ffn_size: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, n_heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(d, ffn_size), nn.GELU(), nn.Linear(ffn_size, d))
        self.drop = FastDropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, tail: int | None = None) -> torch.Tensor:
        """(B, L, d) -> (B, T, d): the last T = ``tail`` (default L) positions."""
        attended = self.attn(self.norm1(x), allowed, tail)  # (B, T, d)
        x = x[:, x.shape[1] - attended.shape[1] :] + self.drop(attended)  # (B, T, d)
        return x + self.drop(self.ffn(self.norm2(x)))  # (B, T, d)


class SASRecNet(SequenceNet):
    def __init__(self, n_items: int, c: SASRecConfig) -> None:
        super().__init__()
        self.scale = math.sqrt(c.factors)
        self.item_emb = nn.Embedding(n_items + 1, c.factors, padding_idx=PAD)
        self.pos_emb = nn.Embedding(c.max_len, c.factors)
        self.drop = FastDropout(c.dropout)
        self.blocks = nn.ModuleList([Block(c.factors, c.n_heads, c.ffn_size, c.dropout) for _ in range(c.n_blocks)])
        self.norm = nn.LayerNorm(c.factors)
        self.init_history_bias(c)
        init_weights(self, c.init_std)

    def forward(self, seqs: torch.Tensor, tail: int | None = None) -> torch.Tensor:
        """seqs (B, L) int64, left-padded with 0 -> states (B, L, d), or (B, tail, d) of the last positions (the
        last block then computes queries, feed-forward and output only there)."""
        b, length = seqs.shape
        real = seqs != PAD  # (B, L)
        positions = torch.arange(length, device=seqs.device)  # (L,)
        x = self.embed(seqs) * self.scale + self.pos_emb(positions)  # (B, L, d)
        x = self.drop(x) * real.unsqueeze(-1)  # padding positions start at zero
        causal = torch.ones(length, length, dtype=torch.bool, device=seqs.device).tril()  # (L, L) s <= t
        eye = torch.eye(length, dtype=torch.bool, device=seqs.device)  # (L, L)
        allowed = ((causal & real[:, None, :]) | eye).unsqueeze(1)  # (B, 1, L, L) key real or itself
        for i, block in enumerate(self.blocks):
            x = block(x, allowed, tail if i == len(self.blocks) - 1 else None)  # (B, L, d); last: (B, T, d)
            x = x * real[:, length - x.shape[1] :].unsqueeze(-1)
        return self.norm(x)  # (B, T, d)

    def embed(self, seqs: torch.Tensor) -> torch.Tensor:
        """(B, L) padded input ids -> (B, L, d) input item embeddings (a subclass may build them otherwise)."""
        return self.item_emb(seqs)


class SASRec(SequentialRecommender):
    """SASRec; ``score(users)`` predicts the item after each user's history (see SequentialRecommender)."""

    name = "sasrec"
    Config = SASRecConfig
    config: SASRecConfig

    def _build_net(self) -> SASRecNet:
        return SASRecNet(self.n_items, self.config)
