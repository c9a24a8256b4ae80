"""Side features of users and items as index-coded fields, for the context-aware models (FM, DeepFM, MMoE).

A *field* is one attribute of one side (user or item), for instance the user's ``gender`` or the item's
``genres``. Its values are coded as integers ``1..n_values`` in a per-field vocabulary; code ``0`` means
"missing" (an empty category, a NaN number, an empty list) and is a value of its own that a model can learn.

How a table column becomes a field depends on its kind (see :mod:`fathom.data.records`):

- ``category`` / ``text`` / ``id``: one value per row, each distinct string a value;
- ``float``: one value per row, each distinct number a value; a column named in
  :attr:`FeatureConfig.bucket_width` is first bucketed to ``floor(x / width) * width`` (release year in 5-year
  buckets: 1993 -> "1990", 1997 -> "1995");
- ``list``: a multi-valued field (genres, tags): each row holds up to ``width`` codes, padded with 0; a model
  mean-pools the embeddings of the codes present (multi-hot with mean pooling). A row with an empty list holds
  a single 0 (missing).

Vocabularies are sorted (numbers numerically), so the coding does not depend on row order.
:class:`SideFeatures` keeps every field's codes as arrays: ``to_arrays`` / ``from_arrays`` (plus the JSON-able
``spec``) round-trip them without pickle, which is how a model saves the features it was trained with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from fathom.config import Config
from fathom.data.records import Table

if TYPE_CHECKING:
    from fathom.data.prepare import PreparedData

Side = Literal["user", "item"]
MISSING = "<missing>"
FORMAT = "fathom.side-features"
VERSION = 1


class FeatureConfig(Config):
    """Which user / item columns become fields, and how numbers are bucketed.

    The defaults are the MovieLens fields RecBole's context-aware setting loads: user age, gender, occupation;
    item genres and release year.
    """

    user_fields: tuple[str, ...] = ("age", "gender", "occupation")
    item_fields: tuple[str, ...] = ("genres", "release_year")
    bucket_width: dict[str, float] = Field(
        default_factory=lambda: {"release_year": 1.0},
        description="numeric column -> bucket width; values become floor(x / width) * width",
    )


@dataclass(frozen=True, eq=False)
class FeatureField:
    """One field: ``codes`` (n,) int64 for a single-valued field, (n, width) int64 for a multi-valued one.

    Codes index ``vocab`` shifted by one: code c > 0 is ``vocab[c - 1]``; 0 is missing / padding.
    """

    name: str
    side: Side
    vocab: tuple[str, ...]
    codes: np.ndarray
    multi: bool

    def __post_init__(self) -> None:
        codes = np.ascontiguousarray(self.codes, dtype=np.int64)
        if codes.ndim != (2 if self.multi else 1):
            raise ValueError(f"field {self.name!r}: codes must be {'2' if self.multi else '1'}-d, got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() > len(self.vocab)):
            raise ValueError(f"field {self.name!r}: codes outside [0, {len(self.vocab)}]")
        object.__setattr__(self, "codes", codes)

    @property
    def n_values(self) -> int:
        """Number of codes including 0 (missing)."""
        return len(self.vocab) + 1

    @property
    def width(self) -> int:
        """Codes per row: 1 for a single-valued field."""
        return self.codes.shape[1] if self.multi else 1

    def matrix(self) -> np.ndarray:
        """(n, width) codes, also for a single-valued field."""
        return self.codes if self.multi else self.codes[:, None]

    def decode(self, row: int) -> list[str]:
        """The values of one row as strings (``[MISSING]`` when none)."""
        present = [int(c) for c in self.matrix()[row] if c > 0]
        return [self.vocab[c - 1] for c in present] or [MISSING]


@dataclass(frozen=True, eq=False)
class SideFeatures:
    """Fields of the users (rows = user indices 0..n_users-1) and of the items (rows = item indices)."""

    n_users: int
    n_items: int
    fields: tuple[FeatureField, ...]

    def __post_init__(self) -> None:
        names = set()
        for f in self.fields:
            rows = self.n_users if f.side == "user" else self.n_items
            if len(f.codes) != rows:
                raise ValueError(f"{f.side} field {f.name!r} has {len(f.codes)} rows, expected {rows}")
            key = (f.side, f.name)
            if key in names:
                raise ValueError(f"duplicate {f.side} field {f.name!r}")
            names.add(key)
        object.__setattr__(self, "fields", tuple(self.fields))

    def of(self, side: Side) -> tuple[FeatureField, ...]:
        return tuple(f for f in self.fields if f.side == side)

    def get(self, side: Side, name: str) -> FeatureField:
        for f in self.fields:
            if f.side == side and f.name == name:
                return f
        raise KeyError(f"no {side} field {name!r}; have {[f.name for f in self.of(side)]}")

    # -- persistence ------------------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        """Everything but the codes, JSON-able."""
        return {
            "n_users": self.n_users,
            "n_items": self.n_items,
            "fields": [
                {"name": f.name, "side": f.side, "multi": f.multi, "width": f.width, "vocab": list(f.vocab)}
                for f in self.fields
            ],
        }

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The codes by name ``{prefix}{side}.{name}`` (int64), for safetensors or ``np.savez``."""
        return {f"{prefix}{f.side}.{f.name}": f.codes for f in self.fields}

    @classmethod
    def from_arrays(cls, spec: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "") -> SideFeatures:
        fields = tuple(
            FeatureField(
                name=s["name"], side=s["side"], vocab=tuple(s["vocab"]), multi=bool(s["multi"]),
                codes=np.asarray(arrays[f"{prefix}{s['side']}.{s['name']}"]),
            )
            for s in spec["fields"]
        )
        return cls(int(spec["n_users"]), int(spec["n_items"]), fields)

    def save(self, folder: str | Path) -> Path:
        """``features.json`` (spec) and ``features.npz`` (codes, no pickle)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "features.json").write_text(json.dumps({"format": FORMAT, "version": VERSION, **self.spec()}))
        np.savez(folder / "features.npz", **self.to_arrays())
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SideFeatures:
        folder = Path(folder)
        spec = json.loads((folder / "features.json").read_text())
        if spec.get("format") != FORMAT or spec.get("version") != VERSION:
            raise ValueError(f"{folder}: not a Fathom side-features folder of version {VERSION}")
        with np.load(folder / "features.npz", allow_pickle=False) as data:
            return cls.from_arrays(spec, {k: data[k] for k in data.files})


# -- building -----------------------------------------------------------------------------------------------
def _sorted_vocab(values: pd.Series, numeric: bool) -> tuple[str, ...]:
    if numeric:
        uniq = np.unique(values.dropna().to_numpy(np.float64))
        return tuple(_number_label(v) for v in uniq)
    return tuple(sorted({v for v in values if v != ""}))


def _number_label(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def bucket(values: np.ndarray, width: float) -> np.ndarray:
    """floor(values / width) * width; NaN stays NaN."""
    if width <= 0:
        raise ValueError(f"bucket width must be positive, got {width}")
    return np.floor(np.asarray(values, np.float64) / width) * width


def single_field(name: str, side: Side, column: pd.Series, kind: str, width: float | None = None) -> FeatureField:
    """A single-valued field from a column of kind category / text / id / float (see the module docstring)."""
    if kind == "float":
        numbers = column.to_numpy(np.float64)
        if width is not None:
            numbers = bucket(numbers, width)
        vocab = _sorted_vocab(pd.Series(numbers), numeric=True)
        lookup = {v: i + 1 for i, v in enumerate(vocab)}
        codes = np.array([0 if np.isnan(x) else lookup[_number_label(x)] for x in numbers], np.int64)
    elif kind in ("category", "text", "id"):
        strings = column.astype("str").fillna("")
        vocab = _sorted_vocab(strings, numeric=False)
        codes = pd.Index(vocab).get_indexer(strings) + 1  # "" is not in vocab -> -1 + 1 = 0 (missing)
    else:
        raise ValueError(f"column {name!r} of kind {kind!r} cannot be a single-valued field")
    return FeatureField(name, side, vocab, np.asarray(codes, np.int64), multi=False)


def multi_field(name: str, side: Side, column: pd.Series) -> FeatureField:
    """A multi-valued field from a ``list`` column: (n, width) codes padded with 0, duplicates removed."""
    cells = [list(dict.fromkeys(v for v in cell if v != "")) for cell in column]
    vocab = tuple(sorted({v for cell in cells for v in cell}))
    lookup = {v: i + 1 for i, v in enumerate(vocab)}
    width = max([len(c) for c in cells] + [1])
    codes = np.zeros((len(cells), width), np.int64)
    for r, cell in enumerate(cells):
        codes[r, : len(cell)] = [lookup[v] for v in cell]
    return FeatureField(name, side, vocab, codes, multi=True)


def table_fields(table: Table, side: Side, names: tuple[str, ...], config: FeatureConfig) -> list[FeatureField]:
    """Fields ``names`` of ``table`` (row i = index i); a name that is not a column is an error."""
    out = []
    for name in names:
        if name not in table.schema:
            raise KeyError(f"{side} table has no column {name!r}; columns: {table.columns}")
        kind = table.schema[name]
        if kind == "list":
            out.append(multi_field(name, side, table.frame[name]))
        else:
            out.append(single_field(name, side, table.frame[name], kind, config.bucket_width.get(name)))
    return out


def build_side_features(
    users: Table | None,
    items: Table | None,
    n_users: int,
    n_items: int,
    config: FeatureConfig | None = None,
) -> SideFeatures:
    """Fields from a user table and an item table whose row i describes index i (as in :class:`PreparedData`)."""
    config = config or FeatureConfig()
    fields: list[FeatureField] = []
    for side, table, names, rows in (("user", users, config.user_fields, n_users),
                                     ("item", items, config.item_fields, n_items)):
        if not names:
            continue
        if table is None:
            raise ValueError(f"{side} fields {names} requested but there is no {side} table")
        if len(table) != rows:
            raise ValueError(f"{side} table has {len(table)} rows, expected one per index ({rows})")
        fields += table_fields(table, side, names, config)  # type: ignore[arg-type]
    return SideFeatures(n_users, n_items, tuple(fields))


def features_from_prepared(prepared: PreparedData, config: FeatureConfig | None = None) -> SideFeatures:
    """Side features of a prepared data set, aligned with its user / item indices."""
    return build_side_features(prepared.users, prepared.catalog, prepared.n_users, prepared.n_items, config)
