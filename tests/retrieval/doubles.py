"""Test doubles: a deterministic bag-of-words hashing encoder (no model download, instant)."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from fathom.text.encoders import Encoder, TextKind


class HashingEncoder(Encoder):
    """Each lower-cased word adds a fixed random unit vector; synonyms can be tied with ``aliases``."""

    name = "hashing-test"

    def __init__(self, dim: int = 64, aliases: dict[str, str] | None = None) -> None:
        self.dim = dim
        self.aliases = aliases or {}
        self.calls = 0

    def _word(self, w: str) -> np.ndarray:
        w = self.aliases.get(w, w)
        seed = int.from_bytes(hashlib.sha256(w.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                out[i] += self._word(w)
        return out
