"""The intent classifier: a pretrained sentence encoder per language (MiniLM for English, multilingual E5 for
Chinese) and a softmax-regression head per language trained on :mod:`fathom.assistant.phrases`.

The head is tiny (384 x 8 weights) and trains in well under a second once the phrases are embedded; the trained
weights are kept in the user's cache (``~/.cache/fathom/assistant``, ``.npz`` arrays, no pickle), keyed by the
phrases and the encoder, so a process embeds the phrases once per machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from fathom.assistant import phrases
from fathom.text.encoders import Encoder, EncoderName, get_encoder

Language = Literal["en", "zh"]
ENCODERS: dict[Language, EncoderName] = {"en": "minilm", "zh": "e5"}
HEAD_VERSION = 2  # bump when the head's training changes: cached heads of another version are not read


def language_of(text: str) -> Language:
    """``zh`` when the text has a CJK character, else ``en``."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


def cache_dir() -> Path:
    root = Path(os.environ.get("FATHOM_CACHE", Path.home() / ".cache" / "fathom"))
    return root / "assistant"


def train_head(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-2, steps: int = 300,
               lr: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent on standardised rows: (D, C) weights and
    (C,) biases. Deterministic."""
    n, d = x.shape
    w = np.zeros((d, n_classes), np.float64)
    b = np.zeros(n_classes, np.float64)
    onehot = np.eye(n_classes)[y]
    x = x.astype(np.float64)
    for _ in range(steps):
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(axis=0)
    return w.astype(np.float32), b.astype(np.float32)


@dataclass
class Head:
    """Softmax regression over standardised embeddings (each dimension centred and scaled by the training
    phrases' mean and spread: sentence embeddings of short messages differ in small directions)."""

    weights: np.ndarray  # (D, C)
    bias: np.ndarray  # (C,)
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        x = (vector.astype(np.float32) - self.mean) / self.scale
        logits = x @ self.weights + self.bias
        p = np.exp(logits - logits.max())
        return p / p.sum()


class IntentClassifier:
    """``predict(text, language)`` -> (intent, probability of each intent). Encoders and heads load on first use
    (thread-safe); ``encoders`` may be given (tests, or an encoder the service already holds)."""

    def __init__(self, encoders: dict[Language, Encoder] | None = None) -> None:
        self._encoders: dict[Language, Encoder] = dict(encoders or {})
        self._heads: dict[Language, Head] = {}
        self._lock = threading.Lock()

    _shared: IntentClassifier | None = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> IntentClassifier:
        """One classifier per process with the default encoders (what every assistant uses unless given one):
        the encoders and heads load once, however many assistants or apps the process holds."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def encoder(self, language: Language) -> Encoder:
        with self._lock:
            if language not in self._encoders:
                self._encoders[language] = get_encoder(ENCODERS[language], cache=False)
            return self._encoders[language]

    def head(self, language: Language) -> Head:
        with self._lock:
            head = self._heads.get(language)
        if head is None:
            head = self._load_or_train(language)
            with self._lock:
                self._heads[language] = head
        return head

    def predict(self, text: str, language: Language) -> tuple[str, dict[str, float]]:
        vector = self.encoder(language).encode_query(text)
        p = self.head(language).probabilities(np.asarray(vector).ravel())
        probs = {intent: float(p[i]) for i, intent in enumerate(phrases.INTENTS)}
        return max(probs, key=probs.__getitem__), probs

    def _load_or_train(self, language: Language) -> Head:
        table = phrases.EN if language == "en" else phrases.ZH
        texts = [t for intent in phrases.INTENTS for t in table[intent]]
        labels = np.array([i for i, intent in enumerate(phrases.INTENTS) for _ in table[intent]])
        key = hashlib.sha256(json.dumps([HEAD_VERSION, ENCODERS[language], texts, labels.tolist()]).encode())
        path = cache_dir() / f"intents-{language}-{key.hexdigest()[:16]}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as saved:
                return Head(saved["weights"], saved["bias"], saved["mean"], saved["scale"])
        x = np.asarray(self.encoder(language).encode(texts, kind="query"), dtype=np.float32)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-4
        weights, bias = train_head((x - mean) / scale, labels, len(phrases.INTENTS))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, weights=weights, bias=bias, mean=mean, scale=scale)
        tmp.replace(path)
        return Head(weights, bias, mean, scale)
