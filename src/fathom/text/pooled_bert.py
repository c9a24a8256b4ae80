"""Encoding straight through a sentence-transformers model's tokenizer and BERT, with mean pooling.

:func:`direct_encoder` recognises the transformer -> mean pooling -> normalise pipeline (all-MiniLM-L6-v2 is
one) and returns a :class:`PooledBert` that computes the same embeddings without sentence-transformers' per-call
set-up. A single text (a query) runs through a TorchScript trace of the same network, built on first use: it
skips the Python layers of the eager model (about a third of the time of a short query on a 2-core CPU) and
gives the same numbers. One text has no padding, so the trace never depends on a padding mask; batches
(passages) run eagerly. If tracing fails, single texts run eagerly too.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Pooled(nn.Module):
    """(ids, mask, token types) (B, T) -> (B, d): the L2-normalised mean of the last hidden states over the mask."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        states = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state  # (B, T, d)
        weights = mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # (B, d)
        return F.normalize(pooled, dim=1)


class PooledBert:
    """texts -> (B, d) float32 unit rows; see the module docstring."""

    def __init__(self, bert: nn.Module, tokenizer: Any, max_len: int) -> None:
        self.net = Pooled(bert).eval()
        self.tokenizer, self.max_len = tokenizer, max_len
        self.device = next(self.net.parameters()).device
        self.traced: torch.jit.ScriptModule | None = None
        self.trace_failed = False
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")
        ids, mask = batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
        types = batch["token_type_ids"].to(self.device) if "token_type_ids" in batch else torch.zeros_like(ids)
        net = self._single((ids, mask, types)) if len(texts) == 1 else None
        with torch.inference_mode():
            return (net or self.net)(ids, mask, types).float().cpu().numpy()

    def _single(self, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule | None:
        """The traced network (traced on ``example`` the first time), or None if tracing failed."""
        if self.traced is None and not self.trace_failed:
            with self._lock:
                if self.traced is None and not self.trace_failed:
                    try:
                        # the tracer warns about Python booleans in the mask code: for one unpadded text they are
                        # constants (no padding, BERT is not causal), and a test checks the trace at every length
                        with torch.inference_mode(), warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            self.traced = torch.jit.trace(self.net, example, check_trace=False)
                    except Exception:  # noqa: BLE001 - any tracing problem: stay eager
                        self.trace_failed = True
        return self.traced


def direct_encoder(model: Any) -> PooledBert | None:
    """A :class:`PooledBert` for a sentence-transformers ``model`` made of a transformer, mean pooling and
    normalisation; None for any other pipeline (the caller then uses ``model.encode``)."""
    try:
        modules = list(model)
        bert, tokenizer = modules[0].auto_model, model.tokenizer
        pooling = modules[1].get_config_dict().get("pooling_mode")
        max_len = int(model.max_seq_length)
    except (AttributeError, IndexError, TypeError):
        return None
    if len(modules) != 3 or type(modules[2]).__name__ != "Normalize" or pooling != "mean":
        return None
    return PooledBert(bert, tokenizer, max_len)
