"""Encoding straight through a sentence-transformers model's tokenizer and BERT, with mean pooling.

:func:`direct_encoder` recognises the transformer -> mean pooling -> normalise pipeline (all-MiniLM-L6-v2 is
one) and returns a :class:`PooledBert` that computes the same embeddings without sentence-transformers' per-call
set-up. Texts run through a TorchScript trace of the same network, built on first use: it skips the Python
layers of the eager model (about a third of the time of a short query on a 2-core CPU) and gives the same
numbers. The trace is built from one unpadded text and then checked against the eager network on a padded
batch: if they differ (a library version whose masking code the tracer froze), only single texts, which have
no padding, use the trace. If tracing fails, everything runs eagerly.
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
        self.trace_batches = False  # the trace also answers padded batches (checked when it is built)
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        inputs = self._inputs(texts)
        net = self._trace()
        if net is None or (len(texts) > 1 and not self.trace_batches):
            net = self.net
        with torch.inference_mode():
            return net(*inputs).float().cpu().numpy()

    def _inputs(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token ids, attention mask and token types, (B, T) each, padded to the longest text."""
        b = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")
        ids = b["input_ids"].to(self.device)
        types = b["token_type_ids"].to(self.device) if "token_type_ids" in b else torch.zeros_like(ids)
        return ids, b["attention_mask"].to(self.device), types

    def _trace(self) -> torch.jit.ScriptModule | None:
        """The traced network (built the first time), or None if tracing failed."""
        if self.traced is None and not self.trace_failed:
            with self._lock:
                if self.traced is None and not self.trace_failed:
                    try:
                        self.traced, self.trace_batches = self._build_trace()
                    except Exception:  # noqa: BLE001 - any tracing problem: stay eager
                        self.trace_failed = True
        return self.traced

    def _build_trace(self) -> tuple[torch.jit.ScriptModule, bool]:
        """The trace of one unpadded text, and whether it matches the eager network on a padded batch."""
        # the tracer warns about Python booleans in the mask code: for one unpadded text they are constants
        # (no padding, BERT is not causal), and the padded check below catches a trace that froze a mask
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(self.net, self._inputs(["a short text to trace the encoder"]), check_trace=False)
            check = self._inputs(["two words", "a longer text, so that the first one is padded to its length"])
            same = torch.allclose(traced(*check), self.net(*check), atol=1e-5)
        return traced, bool(same)


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
