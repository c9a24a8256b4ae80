"""Vocabulary: external ids (strings) <-> contiguous integer indices 0..n-1.

Indices never change once given: :meth:`Vocabulary.extend` only appends. Saved as JSON (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "fathom.vocabulary"
VERSION = 1


def _as_str_array(ids: Iterable[object] | np.ndarray | pd.Series | str) -> np.ndarray:
    if isinstance(ids, str):
        raise TypeError("pass a sequence of ids, not a single string (use Vocabulary.index for one id)")
    if isinstance(ids, pd.Series | pd.Index):
        return ids.astype("str").to_numpy(dtype=object)
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=object)
    return np.array([str(x) for x in arr], dtype=object) if arr.size else np.empty(0, dtype=object)


class Vocabulary:
    """An ordered set of external ids; the position of an id is its index.

    >>> v = Vocabulary(["u7", "u3"])
    >>> v.encode(["u3", "u7"]).tolist()
    [1, 0]
    """

    def __init__(self, ids: Iterable[object] = ()) -> None:
        arr = _as_str_array(ids)
        index = pd.Index(arr, dtype=object)
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise ValueError(f"duplicate id {dup!r} in vocabulary")
        self._index = index

    @classmethod
    def from_ids(cls, ids: Iterable[object]) -> Vocabulary:
        """Distinct ids in order of first appearance (duplicates allowed in the input)."""
        arr = ids if isinstance(ids, pd.Series) else pd.Series(_as_str_array(ids), dtype=object)
        return cls(pd.unique(arr.astype("str")))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._index.equals(other._index)

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self._index[:3])
        return f"Vocabulary({len(self)} ids: {head}{', ...' if len(self) > 3 else ''})"

    @property
    def ids(self) -> np.ndarray:
        """(n,) object array of external ids, in index order."""
        return self._index.to_numpy(dtype=object).copy()

    def index(self, external_id: object) -> int:
        """Index of one id; KeyError naming it when unknown."""
        try:
            return int(self._index.get_loc(str(external_id)))
        except KeyError:
            raise KeyError(f"unknown id {str(external_id)!r} (vocabulary of {len(self)} ids)") from None

    def encode(self, ids: Iterable[object], add: bool = False) -> np.ndarray:
        """(N,) int64 indices of ``ids``. Unknown ids raise a KeyError naming the first one, unless ``add``,
        which appends them (in order of first appearance) first."""
        arr = _as_str_array(ids)
        codes = self._index.get_indexer(arr)
        unknown = codes < 0
        if unknown.any():
            if not add:
                first = arr[np.flatnonzero(unknown)[0]]
                raise KeyError(f"unknown id {first!r} ({int(unknown.sum())} unknown of {len(arr)})")
            self.extend(arr[unknown])
            codes = self._index.get_indexer(arr)
        return codes.astype(np.int64)

    def extend(self, new_ids: Iterable[object]) -> np.ndarray:
        """Append the ids not yet known (first-appearance order); existing indices stay as they were.
        Returns the (M,) int64 indices of all ``new_ids``."""
        arr = _as_str_array(new_ids)
        fresh = pd.unique(pd.Series(arr[self._index.get_indexer(arr) < 0], dtype=object))
        if len(fresh):
            self._index = self._index.append(pd.Index(fresh, dtype=object))
        return self._index.get_indexer(arr).astype(np.int64)

    def decode(self, idx: Iterable[int] | np.ndarray | int) -> np.ndarray | str:
        """External ids of indices: one string for an int, else an object array of the same shape."""
        if isinstance(idx, int | np.integer):
            if not 0 <= int(idx) < len(self):
                raise IndexError(f"index {int(idx)} outside [0, {len(self)})")
            return str(self._index[int(idx)])
        arr = np.asarray(idx if isinstance(idx, np.ndarray) else list(idx), dtype=np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = arr[(arr < 0) | (arr >= len(self))].flat[0]
            raise IndexError(f"index {int(bad)} outside [0, {len(self)})")
        return self._index.to_numpy(dtype=object)[arr]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "ids": [str(x) for x in self._index]}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a Fathom vocabulary (format {data.get('format')!r})")
        if data.get("version") != VERSION:
            raise ValueError(f"unsupported vocabulary version {data.get('version')!r}")
        return cls(data["ids"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
