"""Attribute filters and facet counts over a growing, row-numbered document store.

- categorical attributes hold one value or a list of values per document (e.g. ``genre: ["Comedy",
  "Drama"]``); a filter keeps documents having any of the requested values (equality is a one-value set);
- numeric attributes hold one float; a range filter keeps ``lo <= value <= hi`` (either end open), and
  documents without the attribute never pass it.

Filters on different attributes combine with AND. Facet counts are taken over the documents that pass the
filter (and the text query, when the caller restricts the mask to matches).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated

import numpy as np
import scipy.sparse as sp
from pydantic import Field, FiniteFloat, Strict

from fathom.config import Config

_NAME = r" *[^= ][^=]*"  # an attribute name: anything up to the first "=", not blank (spaces around dropped)
_VALUE = r" *[^, ][^,]*"  # a categorical value: no comma, not blank
# a finite number: ASCII digits, at most 200 before the point and a two-digit exponent (so never overflowing)
_NUMBER = r"[+-]?(?:[0-9]{1,200}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?"
FILTER_SYNTAX = rf"{_NAME}={_VALUE}(?:,{_VALUE})*"
"""``NAME=V1[,V2...]`` (e.g. ``genre=Comedy,Drama``), spaces around the name and values dropped."""
RANGE_SYNTAX = rf"{_NAME}= *(?:{_NUMBER} *)?:(?: *{_NUMBER})? *"
"""``NAME=LO:HI`` with finite numbers, either end empty for an open end (e.g. ``year=1990:``)."""
_FILTER, _RANGE = re.compile(FILTER_SYNTAX), re.compile(RANGE_SYNTAX)

NonEmpty = Annotated[str, Field(min_length=1)]
Bound = Annotated[FiniteFloat, Strict()] | None  # a number, not a string or a boolean read as one


class SearchFilter(Config):
    """``equals``: attribute -> allowed values (at least one); ``ranges``: attribute -> (lo, hi), finite numbers or
    None for an open end. A range with lo > hi passes nothing (e.g. two contradicting bounds read from a query);
    :func:`parse_filters`, which reads what people type, refuses it."""

    equals: dict[NonEmpty, Annotated[list[NonEmpty], Field(min_length=1)]] = {}
    ranges: dict[NonEmpty, tuple[Bound, Bound]] = {}

    @property
    def empty(self) -> bool:
        return not self.equals and not self.ranges


def parse_filters(equals: Sequence[str] = (), ranges: Sequence[str] = ()) -> SearchFilter:
    """``["genre=Comedy,Drama"]`` and ``["price=0:50", "year=2000:"]`` -> a :class:`SearchFilter`.

    Each clause must match :data:`FILTER_SYNTAX` / :data:`RANGE_SYNTAX` whole, and a range needs lo <= hi;
    ValueError names the clause otherwise. Clauses on one attribute: values add up, the last range wins."""
    eq: dict[str, list[str]] = {}
    for item in equals:
        if not _FILTER.fullmatch(item):
            raise ValueError(f"filter {item!r} is not NAME=VALUE[,VALUE...] (name and values not blank, no '=' "
                             "in the name, no ',' in a value)")
        name, _, values = item.partition("=")
        eq.setdefault(name.strip(" "), []).extend(v.strip(" ") for v in values.split(","))
    rg: dict[str, tuple[float | None, float | None]] = {}
    for item in ranges:
        if not _RANGE.fullmatch(item):
            raise ValueError(f"range {item!r} is not NAME=LO:HI with finite numbers (either end may be empty)")
        name, _, span = item.partition("=")
        lo, hi = (float(end) if end.strip(" ") else None for end in span.split(":"))
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"range {item!r}: LO {lo:g} is greater than HI {hi:g}")
        rg[name.strip(" ")] = (lo, hi)
    return SearchFilter(equals=eq, ranges=rg)


class AttributeStore:
    """Categorical and numeric attributes per row, with vectorised masks and facet counts."""

    def __init__(self) -> None:
        self._codes: dict[str, dict[str, int]] = {}  # attribute -> value -> code
        self._values: dict[str, list[str]] = {}  # attribute -> code -> value
        self._cat_rows: dict[str, list[list[int]]] = {}  # attribute -> per row codes
        self._num_rows: dict[str, list[float]] = {}  # attribute -> per row value (nan: missing)
        self._n = 0
        self._cache: dict[str, object] = {}

    def __len__(self) -> int:
        return self._n

    @property
    def categorical_names(self) -> list[str]:
        return list(self._cat_rows)

    @property
    def numeric_names(self) -> list[str]:
        return list(self._num_rows)

    def append(self, categorical: Mapping[str, str | Iterable[str]], numeric: Mapping[str, float]) -> int:
        """Store one row's attributes; returns its row number."""
        row = self._n
        for name in set(categorical) | set(self._cat_rows):
            rows = self._cat_rows.get(name)
            if rows is None:  # a new attribute: empty for the rows before (built only then: appends stay O(1))
                rows = self._cat_rows[name] = [[] for _ in range(row)]
            raw = categorical.get(name, [])
            values = [raw] if isinstance(raw, str) else list(raw)
            codes = self._codes.setdefault(name, {})
            names = self._values.setdefault(name, [])
            row_codes = []
            for v in values:
                v = str(v)
                if v not in codes:
                    codes[v] = len(names)
                    names.append(v)
                row_codes.append(codes[v])
            rows.append(sorted(set(row_codes)))
        for name in set(numeric) | set(self._num_rows):
            rows_n = self._num_rows.get(name)
            if rows_n is None:
                rows_n = self._num_rows[name] = [float("nan")] * row
            rows_n.append(float(numeric.get(name, float("nan"))))
        self._n += 1
        self._cache.clear()
        return row

    def clear_row(self, row: int) -> None:
        """Forget a (deleted) row's attributes."""
        for rows in self._cat_rows.values():
            rows[row] = []
        for rows_n in self._num_rows.values():
            rows_n[row] = float("nan")
        self._cache.clear()

    def row(self, row: int) -> tuple[dict[str, list[str]], dict[str, float]]:
        cat = {n: [self._values[n][c] for c in rows[row]] for n, rows in self._cat_rows.items() if rows[row]}
        num = {n: v[row] for n, v in self._num_rows.items() if not np.isnan(v[row])}
        return cat, num

    def incidence(self, name: str) -> sp.csr_matrix:
        """(N, n_values) 0/1 matrix of a categorical attribute."""
        key = f"cat:{name}"
        if key not in self._cache:
            rows = self._cat_rows[name]
            indptr = np.cumsum([0] + [len(r) for r in rows])
            indices = np.asarray([c for r in rows for c in r], dtype=np.int64)
            data = np.ones(len(indices), dtype=np.int32)
            self._cache[key] = sp.csr_matrix((data, indices, indptr), shape=(self._n, len(self._values[name])))
        return self._cache[key]  # type: ignore[return-value]

    def numeric(self, name: str) -> np.ndarray:
        """(N,) float64, nan where missing."""
        key = f"num:{name}"
        if key not in self._cache:
            self._cache[key] = np.asarray(self._num_rows[name], dtype=np.float64)
        return self._cache[key]  # type: ignore[return-value]

    def mask(self, flt: SearchFilter | None) -> np.ndarray:
        """(N,) bool: rows passing every clause of ``flt``. Unknown attributes match nothing."""
        out = np.ones(self._n, dtype=bool)
        if flt is None:
            return out
        for name, values in flt.equals.items():
            if name not in self._cat_rows:
                return np.zeros(self._n, dtype=bool)
            codes = [self._codes[name][v] for v in values if v in self._codes[name]]
            if not codes:
                return np.zeros(self._n, dtype=bool)
            out &= np.asarray(self.incidence(name)[:, codes].sum(axis=1)).ravel() > 0
        for name, (lo, hi) in flt.ranges.items():
            if name not in self._num_rows:
                return np.zeros(self._n, dtype=bool)
            col = self.numeric(name)
            ok = ~np.isnan(col)
            if lo is not None:
                ok &= col >= lo
            if hi is not None:
                ok &= col <= hi
            out &= ok
        return out

    def facets(self, mask: np.ndarray, names: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
        """Counts of each categorical value among rows in (N,) ``mask``, most frequent first (ties by value)."""
        out: dict[str, dict[str, int]] = {}
        for name in names if names is not None else self.categorical_names:
            if name not in self._cat_rows:
                out[name] = {}
                continue
            counts = np.asarray(self.incidence(name)[np.flatnonzero(mask)].sum(axis=0)).ravel()
            pairs = [(self._values[name][c], int(n)) for c, n in enumerate(counts) if n > 0]
            out[name] = dict(sorted(pairs, key=lambda p: (-p[1], p[0])))
        return out

    def to_json(self) -> dict:
        return {
            "values": self._values,
            "categorical": self._cat_rows,
            "numeric": {n: [None if np.isnan(v) else v for v in vals] for n, vals in self._num_rows.items()},
            "n": self._n,
        }

    @classmethod
    def from_json(cls, data: dict) -> AttributeStore:
        store = cls()
        store._values = {n: list(v) for n, v in data["values"].items()}
        store._codes = {n: {v: i for i, v in enumerate(vals)} for n, vals in store._values.items()}
        store._cat_rows = {n: [list(r) for r in rows] for n, rows in data["categorical"].items()}
        store._num_rows = {
            n: [float("nan") if v is None else float(v) for v in vals] for n, vals in data["numeric"].items()
        }
        store._n = int(data["n"])
        return store
