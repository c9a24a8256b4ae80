"""On-disk embedding cache, keyed by model name + sha256 of the text.

Layout: ``root/<model>/<namespace>/<chunk>.keys.npy`` (``S64`` hex digests) beside ``<chunk>.vecs.npy``
(float32 ``(n, d)``). Each :meth:`EmbeddingCache.put` appends one new chunk; nothing is rewritten, so two
processes never corrupt each other's chunks. Everything is written with ``np.save(..., allow_pickle=False)``.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_cache_dir() -> Path:
    """``$FATHOM_CACHE_DIR/embeddings``, else ``~/.cache/fathom/embeddings``."""
    root = os.environ.get("FATHOM_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "fathom") / "embeddings"


def text_key(text: str) -> bytes:
    """sha256 hex digest of the UTF-8 text, as 64 ASCII bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode("ascii")


class EmbeddingCache:
    """Vectors of one model and namespace (e.g. ``"passage"``), loaded lazily from ``root``."""

    def __init__(self, root: str | Path, model: str, namespace: str = "passage") -> None:
        self.folder = Path(root) / _SAFE.sub("_", model) / _SAFE.sub("_", namespace)
        self._table: dict[bytes, np.ndarray] | None = None

    def _load(self) -> dict[bytes, np.ndarray]:
        if self._table is None:
            table: dict[bytes, np.ndarray] = {}
            if self.folder.is_dir():
                for keys_path in sorted(self.folder.glob("*.keys.npy")):
                    vecs_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".vecs.npy"))
                    if not vecs_path.exists():
                        continue  # a chunk whose writer has not finished
                    keys = np.load(keys_path, allow_pickle=False)  # (n,) S64
                    vecs = np.load(vecs_path, allow_pickle=False)  # (n, d) float32
                    table.update(zip(keys.tolist(), vecs, strict=True))
            self._table = table
        return self._table

    def __len__(self) -> int:
        return len(self._load())

    def get(self, texts: Sequence[str]) -> tuple[list[bytes], dict[int, np.ndarray]]:
        """Keys of ``texts`` and the cached vectors found, by position in ``texts``."""
        table = self._load()
        keys = [text_key(t) for t in texts]
        return keys, {i: table[k] for i, k in enumerate(keys) if k in table}

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store ``vectors`` (n, d) under ``keys`` as one new chunk."""
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = uuid.uuid4().hex
        np.save(self.folder / f"{stem}.vecs.npy", vectors, allow_pickle=False)
        # keys last: a chunk counts only once both files exist
        np.save(self.folder / f"{stem}.keys.npy", np.asarray(list(keys), dtype="S64"), allow_pickle=False)
        table = self._load()
        table.update(zip(keys, vectors, strict=True))
