"""Typed tables: events, item catalogues and user profiles.

Each table is a pandas DataFrame wrapped in a small frozen dataclass with a declared schema
(column name -> :data:`ColumnKind`). Construction checks the frame against the schema and brings every column
to its canonical dtype:

========== ============================================================ ============================
kind       meaning                                                      dtype
========== ============================================================ ============================
id         external identifier, never missing                           ``str``
event      one of :data:`EVENT_TYPES`                                   ``str``
float      numeric value (missing: NaN)                                 ``float64``
timestamp  seconds since the epoch, UTC (0 where unknown)               ``int64``
text       free text (missing: "")                                      ``str``
category   categorical attribute (missing: "")                          ``str``
list       multi-valued attribute such as tags or genres                object, each cell ``list[str]``
========== ============================================================ ============================

Tables are read from user files by :mod:`fathom.data.loading`, which reports bad values row by row; the
constructors here raise ``ValueError`` on a frame that breaks the contract, since that is a programming error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Self, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

EventType = Literal["view", "click", "favourite", "cart", "purchase", "rating"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

ColumnKind = Literal["id", "event", "float", "timestamp", "text", "category", "list"]
COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)

STR_KINDS = frozenset({"id", "event", "text", "category"})
_SCHEMA_KEY = b"fathom.schema"
_TABLE_KEY = b"fathom.table"


def _is_str_dtype(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype)


def _as_str_list(cell: object) -> list[str]:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return []
    if isinstance(cell, str):
        raise ValueError(f"expected a list of strings, got the string {cell!r}")
    return [str(x) for x in cell]  # type: ignore[union-attr]


def canonical_column(series: pd.Series, kind: ColumnKind, name: str) -> pd.Series:
    """``series`` converted to the canonical dtype of ``kind``; ValueError when that is impossible."""
    if kind in STR_KINDS:
        if not _is_str_dtype(series):
            missing = series.isna()
            series = series.astype("str")
            if missing.any():
                series = series.mask(missing)
        if kind in ("text", "category"):
            return series.fillna("")
        if series.isna().any() or (series == "").any():
            raise ValueError(f"column {name!r} ({kind}) has missing values")
        if kind == "event":
            bad = ~series.isin(EVENT_TYPES)
            if bad.any():
                first = series[bad].iloc[0]
                raise ValueError(f"column {name!r} has unknown event type {first!r}; expected {EVENT_TYPES}")
        return series
    if kind == "float":
        if series.dtype == np.float64:
            return series
        return pd.to_numeric(series, errors="raise").astype(np.float64)
    if kind == "timestamp":
        if series.dtype == np.int64:
            return series
        if series.isna().any():
            raise ValueError(f"column {name!r} (timestamp) has missing values")
        if pd.api.types.is_datetime64_any_dtype(series):
            utc = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
            return (utc - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        return pd.to_numeric(series, errors="raise").astype(np.int64)
    if kind == "list":
        if series.dtype == object and all(type(x) is list for x in series):
            return series
        cells = [_as_str_list(x) for x in series]
        return pd.Series(cells, index=series.index, dtype=object, name=series.name)
    raise ValueError(f"unknown column kind {kind!r} for column {name!r}; expected one of {COLUMN_KINDS}")


def empty_column(kind: ColumnKind, n: int) -> pd.Series:
    """A column of ``n`` missing values of ``kind`` (not valid for id/event/timestamp)."""
    if kind == "float":
        return pd.Series(np.full(n, np.nan))
    if kind in ("text", "category"):
        return pd.Series([""] * n, dtype="str")
    if kind == "list":
        return pd.Series([[] for _ in range(n)], dtype=object)
    raise ValueError(f"a column of kind {kind!r} cannot be left empty")


@dataclass(frozen=True, eq=False)
class Table:
    """A DataFrame with a declared schema. Subclasses fix ``REQUIRED`` columns and an optional unique ``KEY``.

    ``schema`` lists every column of ``frame`` in order; columns in ``REQUIRED`` may be omitted from it.
    """

    frame: pd.DataFrame
    schema: Mapping[str, ColumnKind] = field(default_factory=dict)

    REQUIRED: ClassVar[dict[str, ColumnKind]] = {}
    KEY: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        schema: dict[str, ColumnKind] = dict(self.REQUIRED)
        for name, kind in dict(self.schema).items():
            if name in self.REQUIRED and kind != self.REQUIRED[name]:
                raise ValueError(f"{type(self).__name__}: column {name!r} must be {self.REQUIRED[name]!r}")
            if kind not in COLUMN_KINDS:
                raise ValueError(f"unknown column kind {kind!r} for {name!r}; expected one of {COLUMN_KINDS}")
            schema[name] = kind
        missing = [c for c in schema if c not in self.frame.columns]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: frame lacks column(s) {missing}; it has {list(self.frame.columns)}"
            )
        extra = [c for c in self.frame.columns if c not in schema]
        if extra:
            raise ValueError(f"{type(self).__name__}: column(s) {extra} are not in the schema {schema}")
        frame = pd.DataFrame(
            {name: canonical_column(self.frame[name], kind, name) for name, kind in schema.items()}
        ).reset_index(drop=True)
        if self.KEY is not None:
            dup = frame[self.KEY].duplicated()
            if dup.any():
                raise ValueError(
                    f"{type(self).__name__}: duplicate {self.KEY} {frame[self.KEY][dup].iloc[0]!r}"
                )
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "schema", schema)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    def columns_of(self, kind: ColumnKind) -> list[str]:
        return [c for c, k in self.schema.items() if k == kind]

    def with_frame(self, frame: pd.DataFrame) -> Self:
        """The same schema over another frame (for instance a row subset)."""
        return type(self)(frame, self.schema)

    def to_parquet(self, path: str | Path) -> None:
        """Write the frame with its schema in the Parquet metadata."""
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_SCHEMA_KEY] = json.dumps(self.schema).encode()
        meta[_TABLE_KEY] = type(self).__name__.encode()
        pq.write_table(table.replace_schema_metadata(meta), path)

    @classmethod
    def read_parquet(cls, path: str | Path) -> Self:
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        if _SCHEMA_KEY not in meta:
            raise ValueError(f"{path}: not a Fathom table (no schema in the Parquet metadata)")
        schema = json.loads(meta[_SCHEMA_KEY])
        return cls(table.to_pandas(), schema)


@dataclass(frozen=True, eq=False)
class EventTable(Table):
    """Interactions with external ids: ``user_id``, ``item_id``, ``event``, ``value``, ``timestamp``.

    ``value`` is the rating for ``rating`` events and a weight (usually 1) otherwise. Extra columns (session,
    context) are allowed when declared in ``schema``.
    """

    REQUIRED: ClassVar[dict[str, ColumnKind]] = {
        "user_id": "id",
        "item_id": "id",
        "event": "event",
        "value": "float",
        "timestamp": "timestamp",
    }

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, schema: Mapping[str, ColumnKind] | None = None) -> EventTable:
        """Lenient constructor: fills absent ``value`` (1.0), ``timestamp`` (0) and ``event`` ("rating" when
        a value column is present, else "click")."""
        frame = frame.copy()
        n = len(frame)
        if "event" not in frame:
            frame["event"] = "rating" if "value" in frame else "click"
        if "value" not in frame:
            frame["value"] = np.ones(n)
        if "timestamp" not in frame:
            frame["timestamp"] = np.zeros(n, np.int64)
        return cls(frame, dict(schema or {}))

    def users(self) -> np.ndarray:
        """Distinct user ids in order of first appearance."""
        return self.frame["user_id"].unique()

    def items(self) -> np.ndarray:
        """Distinct item ids in order of first appearance."""
        return self.frame["item_id"].unique()


@dataclass(frozen=True, eq=False)
class Catalog(Table):
    """Items: unique ``item_id``, ``title`` text, plus declared attributes (text, category, float, list)."""

    REQUIRED: ClassVar[dict[str, ColumnKind]] = {"item_id": "id", "title": "text"}
    KEY: ClassVar[str | None] = "item_id"


@dataclass(frozen=True, eq=False)
class UserTable(Table):
    """User profiles: unique ``user_id`` plus declared attributes."""

    REQUIRED: ClassVar[dict[str, ColumnKind]] = {"user_id": "id"}
    KEY: ClassVar[str | None] = "user_id"
