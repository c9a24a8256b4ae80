"""GRU4Rec: session-based recommendation with recurrent networks (Hidasi et al. 2016).

The network: item embedding -> dropout -> a GRU of ``n_layers`` layers (dropout between layers) -> dropout ->
a linear projection back to the embedding size; the state after item t scores the item at t + 1 by a dot
product with the same item embedding table (as RecBole's GRU4Rec).

Training is the shared scheme of :mod:`fathom.models.sequence`: windows of ``max_len + 1`` items per user with
the loss at every position at once (or, with ``stride`` < ``max_len``, at the last ``stride`` positions),
full-catalogue cross-entropy by default (the paper's session-parallel mini-batches with BPR / TOP1 over in-batch
negatives are available as ``loss="bpr"``, ``negatives="in_batch"``).
Sequences are left-padded with id 0, whose embedding is zero; the GRU reads the padding before the items.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from fathom.models.dropout import FastDropout
from fathom.models.sequence import PAD, SequenceConfig, SequenceNet, SequentialRecommender, init_weights


class GRU4RecConfig(SequenceConfig):
    hidden_size: int = Field(256, ge=1, description="GRU state size")
    n_layers: int = Field(1, ge=1, description="stacked GRU layers")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout on the embeddings, between layers and on the output")
    # dropout and state size chosen on MovieLens-1M validation NDCG@10 (RecBole 'ml-1m seq' protocol); the
    # benchmark's config (benchmarks/configs/ml1m_seq_gru4rec.json) doubles the embedding (128 factors: validated
    # .1455 against .1429) and sets a higher rate, batches of 64, rate decay, dropout 0.2, bfloat16, a weight
    # average and label smoothing 0.1 (each step measured in docs/experiments/sequence-models.md)
    factors: int = 64
    lr: float = 1e-3
    batch_size: int = 128


class GRU4RecNet(SequenceNet):
    def __init__(self, n_items: int, c: GRU4RecConfig) -> None:
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, c.factors, padding_idx=PAD)
        self.drop = FastDropout(c.dropout)
        self.gru = nn.GRU(
            c.factors, c.hidden_size, c.n_layers, batch_first=True, dropout=c.dropout if c.n_layers > 1 else 0.0
        )
        self.proj = nn.Linear(c.hidden_size, c.factors)
        self.init_history_bias(c)
        init_weights(self, c.init_std)
        for name, w in self.gru.named_parameters():  # orthogonal recurrences, as is usual for GRUs
            if name.startswith("weight_hh"):
                for gate in w.data.chunk(3, 0):
                    nn.init.orthogonal_(gate)
            elif name.startswith("weight_ih"):
                nn.init.xavier_uniform_(w.data)
            else:
                nn.init.zeros_(w.data)

    def forward(self, seqs: torch.Tensor, tail: int | None = None) -> torch.Tensor:
        """seqs (B, L) int64, left-padded with 0 -> states (B, L, d), or of the last ``tail`` positions."""
        x = self.drop(self.item_emb(seqs))  # (B, L, d)
        states, _ = self.gru(x)  # (B, L, hidden)
        if tail is not None:
            states = states[:, -tail:]  # (B, T, hidden)
        return self.proj(self.drop(states))  # (B, T, d)


class GRU4Rec(SequentialRecommender):
    """GRU4Rec; ``score(users)`` predicts the item after each user's history (see SequentialRecommender)."""

    name = "gru4rec"
    Config = GRU4RecConfig
    config: GRU4RecConfig

    def _build_net(self) -> GRU4RecNet:
        return GRU4RecNet(self.n_items, self.config)
