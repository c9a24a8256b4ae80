"""TextSeqRec: SASRec whose item table is read from the items' text (UniSRec-style, Hou et al. KDD 2022).

The transformer, its training windows and its full-softmax loss are SASRec's (:mod:`fathom.models.sasrec`,
:mod:`fathom.models.sequence`); only the item table differs. ``item_repr`` says what it is built from:

- ``text``: each item's frozen text vector (:func:`fathom.text.item_text.encode_items`) through a learned
  :class:`~fathom.models.text_adaptor.TextAdaptor` (parametric whitening in a mixture of experts). Every item with
  a text vector is scored, trained on or not, and an item added after training (``add_items``) is scored at once.
- ``id+text``: the adapted text vector plus an ID embedding, as UniSRec's transductive setting. Only items with a
  training interaction have an ID term: the others (cold items, and rows added by ``add_items``) have a zero row,
  masked out of training too, so they are scored from their text alone.
- ``id``: the ID embedding alone (SASRec within this model, for ablations); cold and added items score 0.

Items without a training interaction are left out of the training softmax (their output rows are zero while
training), so the model is never taught to rank items it has no evidence about below the rest.

The same table (with a zero padding row) gives the input sequence embeddings and, by a dot product with the
sequence state, the next-item logits. With ``temperature`` set, states and item rows are L2-normalised and the
logit is their cosine / ``temperature`` (UniSRec uses 0.07); the input embeddings stay unnormalised.

The text vectors live in the saved weights (``item_text``, (n_items, d_text) float32) beside the ID mask
(``id_mask``, (n_items,) float32, 1 = the item has an ID term); they are inputs, not learnt arrays, so they are
kept out of the network's ``state_dict`` and a warm start (``fit(init_from=...)``) never copies them.
"""

from __future__ import annotations

from typing import Any, Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.sasrec import SASRec, SASRecConfig, SASRecNet
from fathom.models.text_adaptor import TextAdaptor
from fathom.models.text_base import TextAware
from fathom.models.torch_base import TorchRecommender

ItemRepr = Literal["id", "text", "id+text"]


class TextSeqRecConfig(SASRecConfig):
    item_repr: ItemRepr = Field("text", description="item table from text vectors, ID embeddings, or their sum")
    n_experts: int = Field(8, ge=1, description="whitening experts in the text adaptor")
    text_dropout: float = Field(0.2, ge=0, lt=1, description="dropout on the text vectors in the adaptor")
    gate_noise: bool = Field(True, description="noisy gating of the experts while training")
    temperature: float | None = Field(
        None, gt=0, description="None: logits are dot products; else cosine(state, item) / temperature"
    )


class TextSeqNet(SASRecNet):
    """SASRec's network over an item table built from text vectors and/or ID embeddings.

    item_text: (n_items, d_text) float32; id_mask: (n_items,) float32, 1 where the item has an ID term.
    """

    def __init__(self, n_items: int, c: TextSeqRecConfig, item_text: np.ndarray, id_mask: np.ndarray) -> None:
        super().__init__(n_items, c)
        if c.item_repr == "text":
            self.item_emb = None  # type: ignore[assignment]
        self.adaptor = None if c.item_repr == "id" else TextAdaptor(
            item_text.shape[1], c.factors, c.n_experts, c.text_dropout, c.gate_noise, c.init_std)
        self.register_buffer("text", torch.from_numpy(np.asarray(item_text, np.float32)), persistent=False)
        self.register_buffer("id_mask", torch.from_numpy(np.asarray(id_mask, np.float32)), persistent=False)
        self.temperature = c.temperature
        self._step_table: torch.Tensor | None = None

    def raw_table(self) -> torch.Tensor:
        """(n_items, d) item rows before any normalisation: adapted text plus masked ID embedding."""
        table = None if self.adaptor is None else self.adaptor(self.text)  # (n, d)
        if self.item_emb is not None:
            ids = self.item_emb.weight[1:] * self.id_mask[:, None]  # (n, d), cold rows zero
            table = ids if table is None else table + ids
        return table

    def embed(self, seqs: torch.Tensor) -> torch.Tensor:
        """(B, L) padded ids -> (B, L, d). While training, the table is kept for the step's ``item_table`` call
        (one adaptor pass per step, and the same text dropout for inputs and outputs)."""
        table = self.raw_table()  # (n, d)
        if self.training and torch.is_grad_enabled():
            self._step_table = table
        padded = torch.cat([table.new_zeros(1, table.shape[1]), table])  # (n + 1, d), row 0 = padding
        return F.embedding(seqs, padded)  # (B, L, d)

    def forward(self, seqs: torch.Tensor, tail: int | None = None) -> torch.Tensor:
        """As SASRec's (B, L) -> (B, T, d), unit states / temperature when ``temperature`` is set."""
        states = super().forward(seqs, tail)  # (B, T, d)
        return states if self.temperature is None else F.normalize(states, dim=-1) / self.temperature

    def item_table(self) -> torch.Tensor:
        """(n_items, d) output item rows (unit rows when ``temperature`` is set). While training, the rows of items
        without a training interaction are zero: they are never targets, and pushing them down as negatives
        would teach the adaptor to bury every item like them (a constant logit 0 carries no gradient)."""
        table, self._step_table = self._step_table, None
        if table is None or not self.training:
            table = self.raw_table()  # (n, d)
        if self.training:
            table = table * self.id_mask[:, None]  # (n, d)
        return table if self.temperature is None else F.normalize(table, dim=-1)

    def grow(self, new_text: torch.Tensor) -> None:
        """Append ``new_text`` (m, d_text) items with no ID term (zero ID rows, mask 0)."""
        m = len(new_text)
        self.text = torch.cat([self.text, new_text.to(self.text)])
        self.id_mask = torch.cat([self.id_mask, self.id_mask.new_zeros(m)])
        if self.item_emb is not None:
            old = self.item_emb.weight.detach()  # (n + 1, d)
            grown = nn.Embedding(len(old) + m, old.shape[1], padding_idx=0)
            with torch.no_grad():
                grown.weight.copy_(torch.cat([old, old.new_zeros(m, old.shape[1])]))
            self.item_emb = grown


class TextSeqRec(TextAware, SASRec):
    """SASRec over item text vectors; ``fit(train, valid, item_vectors=V)`` with V the catalogue's (n_items, d)
    text vectors. Scoring, histories, ``score_history`` and ``explain`` are the sequence models' own."""

    name = "textsasrec"
    Config = TextSeqRecConfig
    config: TextSeqRecConfig
    net: TextSeqNet

    def fit(self, train: Interactions, valid: Interactions | None = None, *, item_vectors: Any = None,
            init_from: TorchRecommender | None = None) -> Self:
        """Train on the ``train`` sequences with the items' text vectors; items without a ``train`` interaction
        get no ID term. ``valid`` drives early stopping; ``init_from``: a warm start (same text dimension)."""
        self._begin_fit(train)
        self._set_item_text(item_vectors)
        if isinstance(init_from, TextSeqRec) and init_from.item_text.shape[1] != self.item_text.shape[1]:
            raise ValueError(f"init_from reads {init_from.item_text.shape[1]}-d text vectors, item_vectors have "
                             f"{self.item_text.shape[1]} columns")
        self.id_mask = (np.bincount(train.item, minlength=self.n_items) > 0).astype(np.float32)  # (n,)
        return super().fit(train, valid, init_from=init_from)

    def _build_net(self) -> TextSeqNet:
        return TextSeqNet(self.n_items, self.config, self.item_text, self.id_mask)

    def _grow_items(self, m: int) -> None:
        self.id_mask = np.concatenate([self.id_mask, np.zeros(m, np.float32)])
        self.net.grow(torch.from_numpy(self.item_text[-m:]))

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), "item_text": self.item_text, "id_mask": self.id_mask}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        self.item_text = np.ascontiguousarray(state.pop("item_text"), np.float32)
        self.id_mask = np.ascontiguousarray(state.pop("id_mask"), np.float32)
        super()._load_state(state)
