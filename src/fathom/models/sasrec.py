"""SASRec: self-attentive sequential recommendation (Kang & McAuley 2018).

The network: item embeddings (scaled by sqrt(d)) plus learned position embeddings, then ``n_blocks``
transformer blocks with causal multi-head self-attention and a point-wise feed-forward layer (pre-layer-norm,
residual connections, dropout), then a final layer norm. The state at position t predicts the item at t + 1 by a
dot product with the same item embedding table.

Training (see :mod:`fathom.models.sequence`): each user's sequence is cut into windows of ``max_len + 1`` items
and the loss is taken at every position of a window at once (with ``stride`` < ``max_len`` the windows overlap
and the first positions of each are context only); the default loss is cross-entropy over the full catalogue.
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
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout on embeddings, attention and residual branches")
    # defaults tuned on MovieLens-1M (RecBole 'ml-1m seq' protocol), chosen on validation NDCG@10
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

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """x (B, L, d); allowed (B, 1, L, L) bool, True where query t may attend to key s."""
        b, length, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # 3 x (B, L, d)
        heads = (b, length, self.n_heads, d // self.n_heads)
        q, k, v = (t.view(heads).transpose(1, 2) for t in (q, k, v))  # 3 x (B, h, L, hs)
        if self.training and self.dropout > 0 and x.device.type == "cpu":  # torch's CPU dropout mask is slow
            scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (B, h, L, L)
            weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (B, h, L, L)
            y = fast_dropout(weights, self.dropout) @ v  # (B, h, L, hs)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
            )  # (B, h, L, hs)
        return self.out(y.transpose(1, 2).reshape(b, length, d))  # (B, L, d)


class Block(nn.Module):
    """x + attn(LN(x)), then x + FFN(LN(x)); FFN = Linear -> GELU -> Linear."""

    def __init__(self, d: int, n_heads: int, ffn_size: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, n_heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(d, ffn_size), nn.GELU(), nn.Linear(ffn_size, d))
        self.drop = FastDropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), allowed))  # (B, L, d)
        return x + self.drop(self.ffn(self.norm2(x)))  # (B, L, d)


class SASRecNet(SequenceNet):
    def __init__(self, n_items: int, c: SASRecConfig) -> None:
        super().__init__()
        self.scale = math.sqrt(c.factors)
        self.item_emb = nn.Embedding(n_items + 1, c.factors, padding_idx=PAD)
        self.pos_emb = nn.Embedding(c.max_len, c.factors)
        self.drop = FastDropout(c.dropout)
        self.blocks = nn.ModuleList([Block(c.factors, c.n_heads, c.ffn_size, c.dropout) for _ in range(c.n_blocks)])
        self.norm = nn.LayerNorm(c.factors)
        init_weights(self, c.init_std)

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        """seqs (B, L) int64, left-padded with 0 -> states (B, L, d)."""
        b, length = seqs.shape
        real = seqs != PAD  # (B, L)
        positions = torch.arange(length, device=seqs.device)  # (L,)
        x = self.item_emb(seqs) * self.scale + self.pos_emb(positions)  # (B, L, d)
        x = self.drop(x) * real.unsqueeze(-1)  # padding positions start at zero
        causal = torch.ones(length, length, dtype=torch.bool, device=seqs.device).tril()  # (L, L) s <= t
        eye = torch.eye(length, dtype=torch.bool, device=seqs.device)  # (L, L)
        allowed = ((causal & real[:, None, :]) | eye).unsqueeze(1)  # (B, 1, L, L) key real or itself
        for block in self.blocks:
            x = block(x, allowed) * real.unsqueeze(-1)  # (B, L, d)
        return self.norm(x)  # (B, L, d)


class SASRec(SequentialRecommender):
    """SASRec; ``score(users)`` predicts the item after each user's history (see SequentialRecommender)."""

    name = "sasrec"
    Config = SASRecConfig
    config: SASRecConfig

    def _build_net(self) -> SASRecNet:
        return SASRecNet(self.n_items, self.config)
