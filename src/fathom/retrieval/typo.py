"""Typo tolerance for query terms missing from an index's vocabulary.

A query term that is not in the vocabulary, is purely alphabetic and has at least ``min_length`` characters is
mapped to the closest vocabulary term by optimal-string-alignment distance (Levenshtein plus adjacent
transpositions, so "protien" -> "protein" is one edit), within ``max_edits(len)``: 1 edit for terms shorter
than 8 characters, 2 from 8 on. The candidate must start with the same letter (typos rarely hit the first
one; this keeps "tens" from becoming "sens" and "uncultured" from becoming "cultured") and be at least
``min_length`` long. Ties go to the term found in more documents, then to the alphabetically first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def max_edits(length: int, min_length: int = 4) -> int:
    """Edits allowed for a term of ``length`` characters: 0 below ``min_length``, 1 below 8, else 2."""
    if length < min_length:
        return 0
    return 1 if length < 8 else 2


def is_correctable(term: str, min_length: int = 4) -> bool:
    """Only alphabetic, non-CJK terms of ``min_length`` or more characters are corrected."""
    return len(term) >= min_length and term.isalpha() and all(ord(ch) < 0x2E80 for ch in term)


class TypoCorrector:
    """Nearest vocabulary term by edit distance, searched among terms of compatible length only."""

    def __init__(self, vocabulary: Sequence[str], doc_freq: Sequence[int] | np.ndarray, min_length: int = 4) -> None:
        if len(vocabulary) != len(doc_freq):
            raise ValueError("vocabulary and doc_freq must have the same length")
        self.min_length = min_length
        self._df = {t: int(f) for t, f in zip(vocabulary, doc_freq, strict=True)}
        self._by_length: dict[tuple[str, int], list[str]] = {}
        for term in vocabulary:
            if len(term) >= min_length and term.isalpha():
                self._by_length.setdefault((term[0], len(term)), []).append(term)

    def correct(self, term: str) -> str | None:
        """The vocabulary term ``term`` should be read as, or None (known term, or nothing close enough)."""
        if term in self._df or not is_correctable(term, self.min_length):
            return None
        from rapidfuzz.distance import OSA
        from rapidfuzz.process import extract

        limit = max_edits(len(term), self.min_length)
        best: tuple[int, int, str] | None = None  # (distance, -df, term)
        for length in range(len(term) - limit, len(term) + limit + 1):
            choices = self._by_length.get((term[0], length))
            if not choices:
                continue
            for cand, dist, _ in extract(term, choices, scorer=OSA.distance, score_cutoff=limit, limit=None):
                key = (int(dist), -self._df[cand], cand)
                if best is None or key < best:
                    best = key
        return None if best is None else best[2]
