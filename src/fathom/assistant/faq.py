"""The operator's FAQ and policy entries, matched to a question by meaning.

Two file forms:

- **JSON Lines**, one entry a line: ``{"id": "returns", "question": "What is your return policy?", "answer":
  "...", "question_zh": "退货政策是什么？", "answer_zh": "..."}`` (``question`` may be a list of wordings; the
  ``_zh`` fields are optional);
- **Markdown**: each ``## heading`` is a question, the text under it the answer; the id is the heading's slug, or
  what a heading writes as ``## returns: What is your return policy?``. A heading in Chinese makes a Chinese entry.

Each question is embedded by its language's encoder (:data:`fathom.assistant.intents.ENCODERS`); a message is
matched against the entries of its language (the other language's entries when it has none) by cosine similarity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fathom.assistant.intents import IntentClassifier, Language, language_of


@dataclass
class FaqEntry:
    id: str
    questions: dict[str, list[str]]  # language -> wordings
    answers: dict[str, str]  # language -> answer

    def answer(self, language: Language) -> str:
        return self.answers.get(language) or next(iter(self.answers.values()))


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "-", text.lower()).strip("-")
    return slug[:60] or "entry"


def load_faq(path: str | Path) -> list[FaqEntry]:
    """Entries of a ``.jsonl`` / ``.json`` or ``.md`` file; ValueError names the line or heading at fault."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    entries: list[FaqEntry] = []
    if path.suffix.lower() in (".md", ".markdown"):
        blocks = re.split(r"^##\s+", text, flags=re.M)[1:]
        for block in blocks:
            heading, _, body = block.partition("\n")
            heading, body = heading.strip(), body.strip()
            if not body:
                raise ValueError(f"{path}: the heading {heading!r} has no answer under it")
            m = re.match(r"^([A-Za-z0-9_-]+):\s+(.+)$", heading)
            entry_id, question = (m.group(1), m.group(2)) if m else (_slug(heading), heading)
            language = language_of(question)
            entries.append(FaqEntry(entry_id, {language: [question]}, {language: body}))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not row.get("answer") or not row.get("question"):
                raise ValueError(f"{path} line {n}: an entry needs 'question' and 'answer'")
            questions: dict[str, list[str]] = {}
            answers: dict[str, str] = {}
            for suffix in ("", "_zh"):
                q = row.get(f"question{suffix}")
                if q:
                    wordings = [q] if isinstance(q, str) else [str(x) for x in q]
                    questions[language_of(wordings[0]) if suffix == "" else "zh"] = wordings
                if row.get(f"answer{suffix}"):
                    answers[language_of(row[f"answer{suffix}"]) if suffix == "" else "zh"] = str(row[f"answer{suffix}"])
            entries.append(FaqEntry(str(row.get("id") or _slug(questions[next(iter(questions))][0])), questions,
                                    answers))
    ids = [e.id for e in entries]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise ValueError(f"{path}: the id {duplicate!r} is used by more than one entry")
    return entries


class FaqIndex:
    """The entries' question embeddings per language; :meth:`match` -> (entry, cosine) of the best one."""

    def __init__(self, entries: list[FaqEntry], classifier: IntentClassifier) -> None:
        self.entries = entries
        self.classifier = classifier
        self._vectors: dict[str, tuple[np.ndarray, list[int]]] = {}

    def _language_vectors(self, language: Language) -> tuple[np.ndarray, list[int]]:
        if language not in self._vectors:
            texts, owners = [], []
            for n, entry in enumerate(self.entries):
                for q in entry.questions.get(language, []):
                    texts.append(q), owners.append(n)
            vectors = (np.asarray(self.classifier.encoder(language).encode(texts, kind="query"), np.float32)
                       if texts else np.zeros((0, 1), np.float32))
            self._vectors[language] = (vectors, owners)
        return self._vectors[language]

    def match(self, message: str, language: Language) -> tuple[FaqEntry | None, float]:
        if not self.entries:
            return None, 0.0
        vectors, owners = self._language_vectors(language)
        if not owners:
            language = "en" if language == "zh" else "zh"
            vectors, owners = self._language_vectors(language)
            if not owners:
                return None, 0.0
        query = np.asarray(self.classifier.encoder(language).encode_query(message), np.float32).ravel()
        sims = vectors @ query
        best = int(np.argmax(sims))
        return self.entries[owners[best]], float(sims[best])
