"""Loading events, catalogues and user tables from CSV, TSV, Parquet and JSON Lines files.

A :class:`LoadConfig` says how to read a file: its format (else taken from the suffix), how the file's
columns map onto Fathom's (``columns={"userId": "user_id"}``), constants for columns the file lacks
(``defaults={"event": "purchase"}``), the kinds of attribute columns, how to read timestamps and lists, and
what to do with bad rows (``on_error``). Every value is checked (see :mod:`fathom.data.validation`); nothing
is dropped without being reported in the :class:`LoadResult`'s report.

RecBole atomic files (``.inter``, ``.item``, ``.user``, ``.kg``, ``.link``) read as TSV, and their typed
headers (``user_id:token``) lose the ``:type`` suffix.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from fathom.config import Config
from fathom.data.readers import RawTable, TableFormat, read_raw
from fathom.data.records import Catalog, ColumnKind, EventTable, Table, UserTable, empty_column
from fathom.data.validation import (
    DataValidationError,
    Issues,
    MissingColumnError,
    Problem,
    UnmappedColumn,
    ValidationReport,
    clean_strings,
    duplicate_keys,
    parse_event,
    parse_float,
    parse_id,
    parse_list,
    parse_text,
    parse_timestamp,
    problems_frame,
    said_missing,
    to_float,
)

T = TypeVar("T", bound=Table)
_ATOMIC_SUFFIX = re.compile(r":(token|token_seq|float|float_seq)$")


class DataWarning(UserWarning):
    """Rows were skipped while loading (``on_error="skip"``); the report lists each problem."""


class UnmappedColumnWarning(UserWarning):
    """A column looks like one of Fathom's (``rating`` like ``value``) but is not mapped; the report's
    ``unmapped`` lists it."""


# Fathom column -> file column names (lower case, letters and digits only) that probably hold it, best first
_LIKELY_NAMES: dict[str, tuple[str, ...]] = {
    "user_id": ("user", "uid", "userid", "customerid", "customer", "memberid", "visitorid", "readerid", "viewerid"),
    "item_id": ("item", "iid", "itemid", "movieid", "productid", "bookid", "songid", "trackid", "articleid",
                "sku", "asin", "docid", "id"),
    "value": ("rating", "ratings", "score", "stars", "value"),
    "timestamp": ("timestamp", "ts", "time", "datetime", "date", "unixtime", "eventtime"),
    "event": ("event", "eventtype", "action", "behavior", "behaviour", "interaction"),
    "title": ("title", "name", "movietitle", "productname"),
}
_RATING_NAMES = frozenset({"rating", "ratings", "score", "stars", "star"})
_LIST_SHARE = 1 / 3  # share of a column's non-empty cells that must hold the list separator to read it as a list
_LIST_TOKEN_CHARS = 50  # the longest value a detected list may hold (longer ones: free text)


class LoadConfig(Config):
    """How to read one table file."""

    format: TableFormat | None = None
    """File format; None takes it from the suffix (compression suffixes .gz/.bz2/.xz are looked through)."""
    columns: dict[str, str] = {}
    """File column -> Fathom column, e.g. ``{"userId": "user_id", "movieId": "item_id"}``."""
    defaults: dict[str, str | int | float] = {}
    """Constant values for columns absent from the file, e.g. ``{"event": "rating"}``."""
    kinds: dict[str, ColumnKind] = {}
    """Kinds of attribute columns (after renaming), e.g. ``{"genres": "list", "price": "float"}``."""
    extra_columns: Literal["infer", "drop"] = "infer"
    """Columns neither required nor in ``kinds``: kept with a guessed kind, or dropped (listed in
    ``LoadResult.ignored_columns``). The guess: float if every value is a number (blank, NA, N/A, null... are
    missing), in a catalogue or user table list if at least a third of the values hold ``list_separator`` and
    every part is short (``Adventure|Animation``), else text."""
    separator: str | None = None
    """Field delimiter; None: "," for CSV, tab for TSV."""
    names: list[str] | None = None
    """Column names for a delimited file without a header row."""
    list_separator: str = "|"
    """Separator inside multi-valued cells (tags, genres)."""
    timestamp_unit: Literal["s", "ms", "us", "ns"] = "s"
    """Unit of numeric timestamps; non-numeric ones are parsed as ISO 8601 (naive = UTC)."""
    timestamp_format: str | None = None
    """strptime format for textual timestamps that are not ISO 8601."""
    non_negative: tuple[str, ...] = ("price",)
    """Float columns where a negative value is a problem."""
    on_error: Literal["reject", "skip"] = "reject"
    """reject: raise :class:`DataValidationError`; skip: drop bad rows and keep the report."""
    report_path: str | None = None
    """Where to write the problem report (``.csv`` or ``.json``) when there are problems."""
    missing_values: tuple[str, ...] = ()
    """Cell values read as missing in every column, e.g. ``("unknown", "N/A")``; blank cells always are."""
    encoding: str | None = None
    """Text encoding of CSV/TSV/JSON Lines files; None: UTF-8, or UTF-16/32 when the file starts with their
    byte-order mark (a UTF-8 mark is skipped). A file that does not decode is an error naming line and byte."""


@dataclass(frozen=True)
class LoadResult(Generic[T]):
    """A loaded table, the validation report (rows read/kept, each problem) and the columns not kept."""

    table: T
    report: ValidationReport
    ignored_columns: tuple[str, ...] = ()


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _rename(frame: pd.DataFrame, config: LoadConfig, name: str) -> pd.DataFrame:
    original = [str(c) for c in frame.columns]
    used = set()
    targets = []
    for col in original:
        stripped = _ATOMIC_SUFFIX.sub("", col).strip()
        for key in (col, stripped):
            if key in config.columns:
                used.add(key)
                targets.append(config.columns[key])
                break
        else:
            targets.append(stripped)
    unknown = [k for k in config.columns if k not in used]
    if unknown:
        raise DataValidationError(
            ValidationReport(name, 0, 0),
            f"{name}: the column mapping names {unknown} but the file has columns {original}",
        )
    seen: dict[str, str] = {}
    for src, dst in zip(original, targets, strict=True):
        if dst in seen:
            raise DataValidationError(
                ValidationReport(name, 0, 0),
                f"{name}: columns {seen[dst]!r} and {src!r} both become {dst!r}",
            )
        seen[dst] = src
    return frame.set_axis(targets, axis=1)


def _infer_kind(raw: pd.Series, list_separator: str | None = None) -> ColumnKind:
    """The kind of an undeclared column; ``list_separator`` None: never a list (unless it holds sequences)."""
    dtype = raw.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "category"
    if pd.api.types.is_numeric_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if dtype is np.dtype(object) and any(isinstance(v, list | tuple | np.ndarray) for v in raw.to_numpy()):
        return "list"
    s = clean_strings(raw)
    present = s.notna().to_numpy() & ~said_missing(s)
    if present.any() and not np.isnan(to_float(s)[present]).any():
        return "float"
    if list_separator and _looks_like_list(s[s.notna()], list_separator):
        return "list"
    return "text"


def _looks_like_list(cells: pd.Series, separator: str) -> bool:
    """Whether non-empty string ``cells`` are values joined by ``separator``: at least a third of them hold it
    and no value between separators is longer than a short label."""
    if len(cells) == 0:
        return False
    joined = cells.str.contains(separator, regex=False)
    if joined.mean() < _LIST_SHARE:
        return False
    parts = cells.str.split(separator, regex=False).explode().str.strip()
    return bool(parts.str.len().max() <= _LIST_TOKEN_CHARS)


def _parse(
    raw: pd.Series, column: str, kind: ColumnKind, issues: Issues, config: LoadConfig, required: bool
) -> pd.Series:
    if kind == "id":
        return parse_id(raw, column, issues)
    if kind == "event":
        return parse_event(raw, column, issues)
    if kind == "float":
        return parse_float(raw, column, issues, required=required, non_negative=column in config.non_negative)
    if kind == "timestamp":
        return parse_timestamp(raw, column, issues, unit=config.timestamp_unit, fmt=config.timestamp_format)
    if kind == "list":
        return parse_list(raw, config.list_separator)
    return parse_text(raw, strip=kind == "category")


def _table_default(table: type[Table], column: str, frame: pd.DataFrame) -> object | None:
    if table is EventTable:
        return {"event": "rating" if "value" in frame else "click", "value": 1.0, "timestamp": 0}.get(column)
    if table is Catalog and column == "title":
        return ""
    return None


def _constant(value: object, column: str, kind: ColumnKind, n: int, config: LoadConfig) -> pd.Series:
    if kind in ("float", "text", "category", "list") and value is None:
        return empty_column(kind, n)
    issues = Issues()
    parsed = _parse(pd.Series([value]), column, kind, issues, config, required=True)
    if issues.positions:
        raise ValueError(f"default for column {column!r} is invalid: {issues.reasons[0][0]} ({value!r})")
    if kind == "list":
        return pd.Series([list(parsed.iloc[0]) for _ in range(n)], dtype=object)
    return parsed.repeat(n).reset_index(drop=True)


def _likely_column(column: str, found: list[str], taken: Collection[str] = ()) -> str | None:
    """The file column that probably holds Fathom's ``column``: the same name up to case and punctuation, else
    a usual name for it (``movieId`` for ``item_id``); None when there is none."""
    names = {c: _norm(_ATOMIC_SUFFIX.sub("", c)) for c in found if c not in taken}
    for wanted in (_norm(column), *_LIKELY_NAMES.get(column, ())):
        for col, name in names.items():
            if name == wanted:
                return col
    return None


def _unmapped_rating(frame: pd.DataFrame, name: str, config: LoadConfig) -> UnmappedColumn | None:
    """A numeric column named like ratings (rating, score, stars) in an events file whose ``value`` is neither a
    column nor a default: without it every row gets value 1."""
    if "value" in frame or "value" in config.defaults:
        return None
    for column in frame.columns:
        if _norm(str(column)) in _RATING_NAMES and column not in config.kinds and _infer_kind(frame[column]) == "float":
            clicks = "event" not in frame and "event" not in config.defaults
            return UnmappedColumn(name, str(column), "value", "ratings",
                                  "every row " + ("counts as a click of value 1" if clicks else "has value 1"))
    return None


def load_table(
    source: str | Path | pd.DataFrame, table: type[T], config: LoadConfig | None = None, **options: Any
) -> LoadResult[T]:
    """Read, check and convert one table. ``options`` override fields of ``config``."""
    config = (config or LoadConfig()).replace(**options) if options else (config or LoadConfig())
    raw, name = read_raw(source, config.format, config.separator, config.names, config.encoding)
    found = [str(c) for c in raw.frame.columns]
    frame = _rename(raw.frame, config, name)
    if config.missing_values:
        frame = frame.apply(
            lambda col: col.mask(col.isin(config.missing_values)) if not is_numeric_dtype(col.dtype) else col
        )
    n = len(frame)

    schema: dict[str, ColumnKind] = {**table.REQUIRED, **config.kinds}
    issues = Issues()
    out: dict[str, pd.Series] = {}
    for column, kind in schema.items():
        if column in frame:
            out[column] = _parse(frame[column], column, kind, issues, config, column in table.REQUIRED)
        elif column in config.defaults:
            out[column] = _constant(config.defaults[column], column, kind, n, config)
        elif (default := _table_default(table, column, frame)) is not None:
            out[column] = _constant(default, column, kind, n, config)
        else:
            raise MissingColumnError(name, column, found, _likely_column(column, found, set(config.columns)))
    ignored = []
    for column in frame.columns:
        if column in schema:
            continue
        if config.extra_columns == "drop":
            ignored.append(column)
            continue
        kind = _infer_kind(frame[column], None if table is EventTable else config.list_separator)
        schema[column] = kind
        out[column] = _parse(frame[column], column, kind, issues, config, required=False)
    if table.KEY is not None:
        duplicate_keys(out[table.KEY], table.KEY, issues, raw.rows)
    rating = _unmapped_rating(frame, name, config) if table is EventTable else None
    unmapped = [rating] if rating is not None else []
    for note in unmapped:
        warnings.warn(note.message(), UnmappedColumnWarning, stacklevel=3)

    line_of = _line_lookup(raw, n)
    found_problems = issues.frame(name, raw.rows, line_of)
    if raw.rows_read == 0:
        raw.problems.append(Problem(name, None, None, "", "no data rows (nothing below the header)"))
    if raw.problems:
        found_problems = pd.concat([problems_frame(raw.problems), found_problems], ignore_index=True)
        found_problems = found_problems.sort_values("row", kind="stable").reset_index(drop=True)
    bad = issues.bad_mask(n)
    kept = raw.rows_read - sum(p.row is not None for p in raw.problems) - int(bad.sum())
    report = ValidationReport(name, raw.rows_read, kept, found_problems, unmapped)
    if not report.ok:
        where = "; LoadResult.report lists them (set report_path to write them to a file)"
        if config.report_path is not None:
            where = f"; report written to {report.write(config.report_path)}"
        if config.on_error == "reject":
            raise DataValidationError(report, report.summary(rejected=True))
        warnings.warn(f"{report.summary()}{where}", DataWarning, stacklevel=3)
    result = pd.DataFrame({c: s.reset_index(drop=True) for c, s in out.items()}, index=pd.RangeIndex(n))
    if bad.any():
        result = result.loc[~bad]
    return LoadResult(table(result, schema), report, tuple(ignored))


def _line_lookup(raw: RawTable, n: int) -> Callable[[np.ndarray], np.ndarray | None]:
    def line_of(pos: np.ndarray) -> np.ndarray | None:
        lines = raw.lines
        if lines is None and raw.line_of is not None:
            lines = raw.line_of()
        if lines is None or len(lines) != n:
            return None
        return lines[pos]

    return line_of


def load_events(source: str | Path | pd.DataFrame, config: LoadConfig | None = None, **options: Any
                ) -> LoadResult[EventTable]:
    """Events (user_id, item_id, event, value, timestamp) from a file; see :func:`load_table`."""
    return load_table(source, EventTable, config, **options)


def load_catalog(source: str | Path | pd.DataFrame, config: LoadConfig | None = None, **options: Any
                 ) -> LoadResult[Catalog]:
    """An item catalogue (item_id, title, attributes) from a file; see :func:`load_table`."""
    return load_table(source, Catalog, config, **options)


def load_users(source: str | Path | pd.DataFrame, config: LoadConfig | None = None, **options: Any
               ) -> LoadResult[UserTable]:
    """User profiles (user_id, attributes) from a file; see :func:`load_table`."""
    return load_table(source, UserTable, config, **options)
