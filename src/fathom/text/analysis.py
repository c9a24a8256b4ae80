"""Text analysers: turn a string into the list of index terms used by lexical search.

Three chains, chosen by name or automatically from the share of CJK characters:

- ``english``: lower-case, split on word characters (tokens of two or more characters, as bm25s and
  scikit-learn split), drop English stop words, Snowball-stem (PyStemmer's ``english``).
- ``chinese``: jieba search-mode segmentation (``cut_for_search``, which also emits the shorter words
  inside long ones), lower-case, drop tokens without a letter or digit (punctuation); no stemming.
- ``mixed``: CJK runs go through the Chinese chain and every other run through the English chain.

An index must analyse its documents and its queries with the same chain, so ``auto`` is resolved once per
corpus (:func:`choose_analyzer`), never per text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal, Protocol

AnalyzerName = Literal["english", "chinese", "mixed"]
AnalyzerChoice = Literal["english", "chinese", "mixed", "auto"]

# CJK Unified Ideographs (+ extension A and compatibility ideographs), kana, hangul.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD = re.compile(r"(?u)\b\w\w+\b")
_HAS_WORD_CHAR = re.compile(r"\w")


def cjk_share(text: str) -> float:
    """Share of CJK characters among the letters and digits of ``text`` (0.0 for text without any)."""
    n_cjk = len(_CJK_CHAR.findall(text))
    n_word = sum(1 for ch in text if ch.isalnum())
    return n_cjk / n_word if n_word else 0.0


def choose_analyzer(texts: Iterable[str], low: float = 0.05, high: float = 0.95) -> AnalyzerName:
    """Pick a chain for a corpus from its overall CJK share: below ``low`` english, above ``high`` chinese,
    otherwise mixed."""
    n_cjk = n_word = 0
    for text in texts:
        n_cjk += len(_CJK_CHAR.findall(text))
        n_word += sum(1 for ch in text if ch.isalnum())
    share = n_cjk / n_word if n_word else 0.0
    if share < low:
        return "english"
    if share > high:
        return "chinese"
    return "mixed"


class Analyzer(Protocol):
    """Maps a text to its index terms."""

    name: AnalyzerName

    def __call__(self, text: str) -> list[str]: ...


def _english_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


class EnglishAnalyzer:
    """Lower-case, word tokens of 2+ characters, English stop words removed, Snowball stemming."""

    name: AnalyzerName = "english"

    def __init__(self, stopwords: Sequence[str] | None = None, stem: bool = True) -> None:
        import Stemmer  # PyStemmer

        self.stopwords = frozenset(stopwords) if stopwords is not None else _english_stopwords()
        self._stemmer = Stemmer.Stemmer("english") if stem else None

    def __call__(self, text: str) -> list[str]:
        tokens = [t for t in _WORD.findall(text.lower()) if t not in self.stopwords]
        if self._stemmer is None:
            return tokens
        return self._stemmer.stemWords(tokens)


@lru_cache(maxsize=1)
def _jieba_tokenizer():  # noqa: ANN202 - jieba has no types
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


class ChineseAnalyzer:
    """jieba search-mode segmentation, lower-cased, punctuation dropped, no stemming."""

    name: AnalyzerName = "chinese"

    def __call__(self, text: str) -> list[str]:
        tokens = _jieba_tokenizer().cut_for_search(text.lower())
        return [t for t in (t.strip() for t in tokens) if t and _HAS_WORD_CHAR.search(t)]


class MixedAnalyzer:
    """CJK runs through :class:`ChineseAnalyzer`, all other runs through :class:`EnglishAnalyzer`."""

    name: AnalyzerName = "mixed"

    def __init__(self) -> None:
        self._english = EnglishAnalyzer()
        self._chinese = ChineseAnalyzer()

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        pos = 0
        for match in _CJK_RUN.finditer(text):
            if match.start() > pos:
                out.extend(self._english(text[pos : match.start()]))
            out.extend(self._chinese(match.group()))
            pos = match.end()
        if pos < len(text):
            out.extend(self._english(text[pos:]))
        return out


def get_analyzer(name: AnalyzerName) -> Analyzer:
    """The analyser called ``name``."""
    if name == "english":
        return EnglishAnalyzer()
    if name == "chinese":
        return ChineseAnalyzer()
    if name == "mixed":
        return MixedAnalyzer()
    raise ValueError(f"unknown analyzer {name!r}; expected english, chinese or mixed")


def resolve_analyzer(choice: AnalyzerChoice, sample: Iterable[str] = ()) -> AnalyzerName:
    """``choice`` itself, or for ``auto`` the chain :func:`choose_analyzer` picks from ``sample``."""
    return choose_analyzer(sample) if choice == "auto" else choice
