"""Reading table files (CSV, TSV, Parquet, JSON Lines) into raw records, before any validation.

Delimited files are read fast with pyarrow, every value as a string; a file that pyarrow cannot parse (a record
with the wrong number of fields) is re-read record by record so that each malformed record becomes a reported
problem. Physical line numbers are worked out only when a problem needs one.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from fathom.data.validation import DataValidationError, Problem, ValidationReport

TableFormat = Literal["csv", "tsv", "parquet", "jsonl"]

SUFFIX_FORMATS: dict[str, TableFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".inter": "tsv",
    ".item": "tsv",
    ".user": "tsv",
    ".kg": "tsv",
    ".link": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_OPENERS: dict[str, Callable[..., IO[str]]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}



@dataclass
class RawTable:
    """A file's records before validation. ``rows``: 1-based data row of each frame row (None: position + 1);
    ``lines``: physical line of each frame row, or ``line_of`` to compute them on demand."""

    frame: pd.DataFrame
    rows_read: int
    rows: np.ndarray | None = None
    lines: np.ndarray | None = None
    line_of: Callable[[], np.ndarray] | None = None
    problems: list[Problem] = field(default_factory=list)


def detect_format(path: str | Path, format: TableFormat | None = None) -> TableFormat:
    if format is not None:
        return format
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in _OPENERS:
        suffixes.pop()
    if suffixes and suffixes[-1] in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffixes[-1]]
    raise ValueError(
        f"cannot tell the format of {Path(path).name!r} from its suffix; "
        "pass format= one of csv, tsv, parquet, jsonl"
    )


def open_text(path: Path, encoding: str) -> IO[str]:
    opener = _OPENERS.get(path.suffix.lower())
    if opener is not None:
        return opener(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def record_lines(path: Path, sep: str, encoding: str, header: bool) -> np.ndarray:
    """Physical line on which each data record of a delimited file starts (blank lines skipped)."""
    lines = []
    with open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=sep)
        prev = 0
        for rec in reader:
            start, prev = prev + 1, reader.line_num
            if not rec:
                continue
            if header:
                header = False
                continue
            lines.append(start)
    return np.asarray(lines, dtype=np.int64)


def _read_delimited_slowly(path: Path, sep: str, names: list[str] | None, encoding: str, name: str) -> RawTable:
    """Record by record, so that malformed records (wrong number of fields) become reported problems."""
    records, rows, lines, problems = [], [], [], []
    header = names
    n_rec = 0
    with open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=sep)
        prev = 0
        for rec in reader:
            start, prev = prev + 1, reader.line_num
            if not rec:
                continue
            if header is None:
                header = rec
                continue
            n_rec += 1
            if len(rec) != len(header):
                reason = f"expected {len(header)} fields, found {len(rec)}"
                problems.append(Problem(name, n_rec, start, "", reason, sep.join(rec)[:80]))
                continue
            records.append(rec)
            rows.append(n_rec)
            lines.append(start)
    if header is None:
        raise DataValidationError(ValidationReport(name, 0, 0), f"{name}: the file is empty")
    frame = pd.DataFrame(records, columns=header, dtype="str")
    return RawTable(frame, n_rec, np.asarray(rows, np.int64), np.asarray(lines, np.int64), problems=problems)


def _read_delimited(path: Path, sep: str, names: list[str] | None, encoding: str, name: str) -> RawTable:
    header = names is None
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype="str",
            keep_default_na=False,
            engine="pyarrow",
            header=0 if header else None,
            names=names,
            encoding=encoding,
        )
    except pd.errors.EmptyDataError:
        raise DataValidationError(ValidationReport(name, 0, 0), f"{name}: the file is empty") from None
    except (pd.errors.ParserError, ValueError):
        return _read_delimited_slowly(path, sep, names, encoding, name)
    return RawTable(frame, len(frame), line_of=lambda: record_lines(path, sep, encoding, header))


def _read_jsonl(path: Path, encoding: str, name: str) -> RawTable:
    records, rows, lines, problems = [], [], [], []
    n_rec = 0
    with open_text(path, encoding) as fh:
        for lineno, text in enumerate(fh, 1):
            if not text.strip():
                continue
            n_rec += 1
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                reason = f"invalid JSON ({exc.msg})"
                problems.append(Problem(name, n_rec, lineno, "", reason, text.strip()[:80]))
                continue
            if not isinstance(obj, dict):
                problems.append(Problem(name, n_rec, lineno, "", "expected a JSON object", text.strip()[:80]))
                continue
            records.append(obj)
            rows.append(n_rec)
            lines.append(lineno)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return RawTable(frame, n_rec, np.asarray(rows, np.int64), np.asarray(lines, np.int64), problems=problems)


def read_raw(
    source: str | Path | pd.DataFrame,
    format: TableFormat | None = None,
    separator: str | None = None,
    names: list[str] | None = None,
    encoding: str = "utf-8",
) -> tuple[RawTable, str]:
    """The records of a file (or a frame) before validation, and the name used in reports.

    Delimited files are read with every value as a string; ``names`` is for a file without a header row.
    """
    if isinstance(source, pd.DataFrame):
        return RawTable(source.reset_index(drop=True), len(source)), "<frame>"
    path = Path(source)
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    fmt = detect_format(path, format)
    if fmt in ("csv", "tsv"):
        sep = separator or ("," if fmt == "csv" else "\t")
        return _read_delimited(path, sep, names, encoding, name), name
    if fmt == "jsonl":
        return _read_jsonl(path, encoding, name), name
    frame = pd.read_parquet(path)
    return RawTable(frame, len(frame)), name
