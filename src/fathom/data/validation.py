"""Row-level validation of loaded tables: every bad value is reported with file, row, column and reason.

The parsers here are vectorised: each takes a raw column (strings as read from a text file, or typed values
from Parquet) and returns the canonical values plus the positions of bad rows and why each is bad. The loader
(:mod:`fathom.data.loading`) gathers these into a :class:`ValidationReport` and then either raises
:class:`DataValidationError` (``on_error="reject"``) or drops the bad rows and keeps the report
(``on_error="skip"``).

Rows are numbered as data rows in the file, from 1, header excluded: ``row 1`` is the first record. For text
files ``line`` is the physical line on which the record starts (the header is line 1 of a CSV).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fathom.data.records import EVENT_TYPES

PROBLEM_COLUMNS = ["file", "row", "line", "column", "reason", "value"]
EVENT_ALIASES = {"favorite": "favourite", "fav": "favourite", "buy": "purchase", "add_to_cart": "cart"}
_SHOWN = 5  # problems named in an error message
TIMESTAMP_RANGE = (-9_223_372_036, 9_223_372_036)
"""Seconds since the epoch that a timestamp may hold: the dates pandas can represent (1677-09-22 to 2262-04-11);
numbers outside it (a 23-digit value, milliseconds read as seconds times a thousand) are problems, never wrapped."""
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
MISSING_TOKENS = frozenset({"na", "n/a", "#n/a", "nan", "null", "none", "nil"})
"""Cell values (in any case) read as missing in a numeric or timestamp column, as a blank cell always is: a number
column with a few ``NA`` stays numeric."""

HintStyle = Literal["python", "cli"]
"""Who reads a hint: a Python caller (``columns={'userId': 'user_id'}``) or a command-line user (``--map``)."""


def mapping_hint(theirs: str | None, ours: str, style: HintStyle = "python", option: str = "--map") -> str:
    """How to map the file's column ``theirs`` (None: one to choose) onto Fathom's column ``ours``: the
    ``LoadConfig.columns`` entry for Python, or the command line's ``option`` (``--map userId=user_id``)."""
    if style == "cli":
        return f"{option} {theirs or 'COLUMN'}={ours}"
    return f"columns={{{(theirs or 'COLUMN')!r}: {ours!r}}}"


@dataclass(frozen=True)
class Problem:
    """One bad value. ``row`` is the 1-based data row; ``line`` the physical line (text files), else None."""

    file: str
    row: int | None
    line: int | None
    column: str
    reason: str
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
            if self.line is not None:
                where += f" (line {self.line})"
        col = f", column {self.column!r}" if self.column else ""
        shown = f": {self.value!r}" if self.value is not None and repr(self.value) not in self.reason else ""
        return f"{where}{col}: {self.reason}{shown}"


def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="Int64" if c in ("row", "line") else "str") for c in PROBLEM_COLUMNS}
    )


@dataclass
class ValidationReport:
    """What a load found: rows read and kept, one entry per problem (a frame of :data:`PROBLEM_COLUMNS`)."""

    file: str
    rows_read: int
    rows_kept: int
    problems: pd.DataFrame = field(default_factory=_empty_problems)
    unmapped: list[UnmappedColumn] = field(default_factory=list)
    """Columns that look like one of Fathom's but were not mapped (not problems: the rows load)."""

    @property
    def rows_dropped(self) -> int:
        return self.rows_read - self.rows_kept

    @property
    def ok(self) -> bool:
        return len(self.problems) == 0

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        for rec in self.problems.itertuples(index=False):
            yield Problem(
                file=rec.file,
                row=None if pd.isna(rec.row) else int(rec.row),
                line=None if pd.isna(rec.line) else int(rec.line),
                column=rec.column,
                reason=rec.reason,
                value=None if pd.isna(rec.value) else rec.value,
            )

    def messages(self, limit: int | None = None) -> list[str]:
        out = []
        for i, p in enumerate(self):
            if limit is not None and i >= limit:
                break
            out.append(str(p))
        return out

    def summary(self, rejected: bool = False) -> str:
        """One line: rows read and the problems; ``rejected``: nothing was loaded, so no rows are called kept."""
        if self.ok:
            return f"{self.file}: {self.rows_read} rows, no problems"
        if self.rows_read == 0:
            return f"{self.file}: no data rows"
        out = f"{self.file}: {len(self)} problem(s) in {self.rows_dropped} of {self.rows_read} rows"
        if rejected:
            return out + "; nothing loaded"
        return out + (f"; kept {self.rows_kept}" if self.rows_kept else "")

    def problems_per_column(self) -> dict[str, int]:
        """Number of problems in each column, most first (problems of a whole record have column "")."""
        counts = self.problems["column"].value_counts(sort=False)
        return {str(c): int(n) for c, n in sorted(counts.items(), key=lambda p: (-p[1], p[0]))}

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "problems": [p.__dict__ for p in self],
        }

    def write(self, path: str | Path) -> Path:
        """Write the problems as ``.csv`` (one row each) or ``.json`` (counts and a list)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2))
        elif path.suffix.lower() == ".csv":
            self.problems.to_csv(path, index=False)
        else:
            raise ValueError(f"report file must end in .csv or .json, got {path.name!r}")
        return path


class DataValidationError(ValueError):
    """Bad input data. The message names file, row, column and reason of the first problems and the total."""

    def __init__(self, report: ValidationReport, headline: str | None = None) -> None:
        self.report = report
        lines = [headline or report.summary()]
        lines += ["  " + m for m in report.messages(_SHOWN)]
        if len(report) > _SHOWN:
            lines.append(f"  ... and {len(report) - _SHOWN} more ({len(report)} problems in total)")
        super().__init__("\n".join(lines))


class MissingColumnError(DataValidationError):
    """A required column is absent from a file (raised whatever ``on_error`` says). ``suggestion`` is the file's
    column that probably holds it (None: no good guess); the hint is worded for ``style``'s reader."""

    def __init__(self, file: str, column: str, found: list[str], suggestion: str | None = None,
                 style: HintStyle = "python", option: str = "--map") -> None:
        self.file, self.column, self.found, self.suggestion = file, column, list(found), suggestion
        problem = Problem(file, None, None, column, f"missing required column {column!r}")
        hint = mapping_hint(suggestion, column, style, option)
        how = f"map it with {hint}" if suggestion else f"map a file column onto it with {hint}"
        headline = f"{file}: missing required column {column!r}; columns found: {self.found} ({how})"
        super().__init__(ValidationReport(file, 0, 0, problems_frame([problem])), headline)

    def for_cli(self, option: str = "--map") -> MissingColumnError:
        """The same error with its hint in the command line's words (``option`` is the mapping option)."""
        return MissingColumnError(self.file, self.column, self.found, self.suggestion, "cli", option)


@dataclass(frozen=True)
class UnmappedColumn:
    """A file column that looks like one of Fathom's (``rating`` like ``value``) but is not mapped onto it, and
    what Fathom does instead (``consequence``)."""

    file: str
    column: str
    target: str
    looks_like: str
    consequence: str

    def message(self, style: HintStyle = "python", option: str = "--map") -> str:
        return (f"{self.file}: column {self.column!r} looks like {self.looks_like} but is not mapped, so "
                f"{self.consequence}; map it with {mapping_hint(self.column, self.target, style, option)}")


# --------------------------------------------------------------------------------------------------- parsing


@dataclass
class Issues:
    """Bad positions (0-based, into the column) with a reason and the offending raw value for each."""

    positions: list[np.ndarray] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    reasons: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def add(self, column: str, mask: np.ndarray, reasons: np.ndarray | str, raw: pd.Series) -> None:
        """Record the rows where boolean ``mask`` is set; ``reasons`` is one string or one per set row."""
        positions = np.flatnonzero(mask)
        if len(positions) == 0:
            return
        if isinstance(reasons, str):
            reasons = np.full(len(positions), reasons, dtype=object)
        values = raw.iloc[positions].to_numpy(dtype=object)
        self.positions.append(positions)
        self.columns.append(column)
        self.reasons.append(np.asarray(reasons, dtype=object))
        self.values.append(np.asarray([None if _isna(v) else str(v) for v in values], dtype=object))

    def bad_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, bool)
        for p in self.positions:
            mask[p] = True
        return mask

    def frame(
        self, file: str, rows: np.ndarray | None, line_of: Callable[[np.ndarray], np.ndarray | None]
    ) -> pd.DataFrame:
        """Problems sorted by row, then in the order the columns were checked.

        ``rows`` maps a position to its 1-based data row (None: position + 1); ``line_of`` maps positions to
        physical lines, or returns None where lines do not apply.
        """
        if not self.positions:
            return _empty_problems()
        pos = np.concatenate(self.positions)
        col = np.concatenate(
            [np.full(len(p), c, dtype=object) for p, c in zip(self.positions, self.columns, strict=True)]
        )
        lines = line_of(pos)
        out = pd.DataFrame(
            {
                "file": file,
                "row": pd.array(pos + 1 if rows is None else rows[pos], dtype="Int64"),
                "line": pd.array(lines if lines is not None else [None] * len(pos), dtype="Int64"),
                "column": pd.array(col, dtype="str"),
                "reason": pd.array(np.concatenate(self.reasons), dtype="str"),
                "value": pd.array(np.concatenate(self.values), dtype="str"),
            }
        )
        return out.sort_values("row", kind="stable").reset_index(drop=True)


def _isna(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


def _where(mask: np.ndarray | pd.Series) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def said_missing(s: pd.Series) -> np.ndarray:
    """(N,) bool: cells of clean strings ``s`` that spell a missing value (:data:`MISSING_TOKENS`)."""
    return s.str.lower().isin(MISSING_TOKENS).to_numpy(dtype=bool)


def clean_strings(raw: pd.Series) -> pd.Series:
    """Raw values as stripped strings, missing (None/NaN/blank) as NaN."""
    if pd.api.types.is_float_dtype(raw.dtype):
        vals = raw.to_numpy()
        integral = np.isfinite(vals) & (vals == np.round(vals))
        if integral[~np.isnan(vals)].all():
            raw = raw.astype("Int64")
    if not isinstance(raw.dtype, pd.StringDtype):
        missing = raw.isna()
        raw = raw.astype("str").mask(missing)
    raw = raw.str.strip()
    return raw.mask(raw == "")


def parse_id(raw: pd.Series, column: str, issues: Issues) -> pd.Series:
    s = clean_strings(raw)
    missing = s.isna().to_numpy()
    issues.add(column, missing, f"missing {column}", raw)
    return s


def parse_event(raw: pd.Series, column: str, issues: Issues) -> pd.Series:
    s = clean_strings(raw).str.lower()
    s = s.replace(EVENT_ALIASES)
    missing = s.isna().to_numpy()
    issues.add(column, missing, f"missing {column}", raw)
    unknown = (~s.isin(EVENT_TYPES)).to_numpy() & ~missing
    if unknown.any():
        expected = ", ".join(EVENT_TYPES)
        reasons = np.array([f"unknown event type {v!r} (expected one of {expected})" for v in s[unknown]])
        issues.add(column, unknown, reasons, raw)
    return s


def to_float(s: pd.Series) -> np.ndarray:
    """Strings (NaN = missing) to float64; unparsable entries become NaN. Arrow fast path, pandas fallback."""
    try:
        return pc.cast(pa.array(s, from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def parse_float(
    raw: pd.Series, column: str, issues: Issues, *, required: bool = True, non_negative: bool = False
) -> pd.Series:
    """Numbers; missing is a problem when ``required`` (else NaN); ``non_negative`` rejects values < 0."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        vals = raw.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        missing = np.isnan(vals)
        unparsable = np.zeros(len(vals), bool)
    else:
        s = clean_strings(raw)
        missing = s.isna().to_numpy().copy()
        vals = to_float(s)
        unparsable = np.isnan(vals) & ~missing
        spelt = unparsable & said_missing(s)  # NA, N/A, null, nan...
        missing |= spelt
        unparsable &= ~spelt
    if required:
        issues.add(column, missing, f"missing {column}", raw)
    issues.add(column, unparsable, f"non-numeric {column}", raw)
    infinite = np.isinf(vals)
    issues.add(column, infinite, f"non-finite {column}", raw)
    if non_negative:
        negative = vals < 0
        issues.add(column, negative, f"negative {column}", raw)
    return pd.Series(vals, index=raw.index, name=raw.name)


def parse_timestamp(
    raw: pd.Series, column: str, issues: Issues, *, unit: str = "s", fmt: str | None = None
) -> pd.Series:
    """Seconds since the epoch (int64). Numbers are epoch times in ``unit``; other strings are parsed as
    ISO 8601 (or with the strptime ``fmt``), naive times taken as UTC."""
    scale = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    out = np.zeros(len(raw), np.int64)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        missing = raw.isna().to_numpy()
        dt = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
        secs = (dt - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        out[~missing] = secs[~missing].to_numpy(dtype=np.int64)
        issues.add(column, missing, f"missing {column}", raw)
        return pd.Series(out, index=raw.index, name=raw.name)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        nums = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(nums)
        text = None
    else:
        text = clean_strings(raw)
        missing = text.isna().to_numpy() | said_missing(text)
        nums = to_float(text) if fmt is None else np.full(len(raw), np.nan)
    numeric = ~np.isnan(nums) & np.isfinite(nums)
    secs = np.floor(nums[numeric] / scale)
    in_range = (secs >= TIMESTAMP_RANGE[0]) & (secs <= TIMESTAMP_RANGE[1])
    out_of_range = numeric.copy()
    out_of_range[numeric] = ~in_range
    numeric[numeric] = in_range
    out[numeric] = secs[in_range].astype(np.int64)
    issues.add(column, missing, f"missing {column}", raw)
    issues.add(column, out_of_range, f"{column} out of range (as {_UNIT_NAMES[unit]} since 1970 it is not "
               "a date between 1677 and 2262)", raw)
    rest = ~numeric & ~missing & ~out_of_range
    if rest.any():
        bad = rest.copy()
        if text is not None:
            sub = text[rest]
            if fmt is None:
                parsed = pd.to_datetime(sub, format="ISO8601", utc=True, errors="coerce")
            else:
                parsed = pd.to_datetime(sub, format=fmt, utc=True, errors="coerce")
            ok = parsed.notna().to_numpy()
            idx = _where(rest)[ok]
            secs = (parsed[ok] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
            out[idx] = secs.to_numpy(np.int64)
            bad[idx] = False
        issues.add(column, bad, f"unparsable {column}", raw)
    return pd.Series(out, index=raw.index, name=raw.name)


def parse_list(raw: pd.Series, separator: str) -> pd.Series:
    """Multi-valued cells: strings split on ``separator`` (blanks dropped); sequences kept; missing: []."""

    def cell(v: object) -> list[str]:
        if _isna(v):
            return []
        if isinstance(v, str):
            return [p.strip() for p in v.split(separator) if p.strip()]
        return [str(x) for x in v]  # type: ignore[union-attr]

    cells = [cell(v) for v in raw.to_numpy(dtype=object)]
    return pd.Series(cells, index=raw.index, dtype=object, name=raw.name)


def parse_text(raw: pd.Series, strip: bool = False) -> pd.Series:
    if not isinstance(raw.dtype, pd.StringDtype):
        missing = raw.isna()
        raw = raw.astype("str").mask(missing)
    if strip:
        raw = raw.str.strip()
    return raw.fillna("")


def duplicate_keys(keys: pd.Series, column: str, issues: Issues, rows: np.ndarray | None = None) -> None:
    """Report every repeat of a key after its first occurrence (``rows``: data row of each position)."""
    codes, _ = pd.factorize(keys)
    n = len(codes)
    present = codes >= 0
    first = np.full(int(codes.max()) + 1 if n else 0, -1, np.int64)
    pos = np.arange(n)[present][::-1]
    first[codes[present][::-1]] = pos  # the last write per code is its first position
    dup = present & (first[np.where(present, codes, 0)] != np.arange(n)) if n else np.zeros(0, bool)
    if not dup.any():
        return
    row_of = (lambda p: p + 1) if rows is None else (lambda p: rows[p])
    first_rows = row_of(first[codes[dup]])
    reasons = np.array(
        [f"duplicate {column} {k!r} (first at row {f})" for k, f in zip(keys[dup], first_rows, strict=True)],
        dtype=object,
    )
    issues.add(column, dup, reasons, keys)


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """A problems frame (:data:`PROBLEM_COLUMNS`) from a list of :class:`Problem`."""
    if not problems:
        return _empty_problems()
    out = pd.DataFrame([p.__dict__ for p in problems], columns=PROBLEM_COLUMNS)
    return out.astype({"row": "Int64", "line": "Int64", "file": "str", "column": "str", "reason": "str",
                       "value": "str"})
