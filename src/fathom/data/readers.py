"""Reading table files (CSV, TSV, Parquet, JSON Lines) into raw records, before any validation.

Text files are sniffed first (:func:`sniff_text`): compression is told by its magic bytes (gzip, bz2, xz; a
``.gz`` suffix alone does not decide), the encoding by a byte-order mark (UTF-8, UTF-16, UTF-32) else the one
given (UTF-8 by default), and a file that is empty or not text at all (binary content) is refused with one line
naming it. Delimited files are then read fast with pyarrow, every value as a string; a file that pyarrow cannot
parse (a record with the wrong number of fields) is re-read record by record so that each malformed record
becomes a reported problem. Physical line numbers are worked out only when a problem needs one.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import lzma
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Literal

import numpy as np
import pandas as pd

from fathom.data.validation import DataValidationError, Problem, ValidationReport

TableFormat = Literal["csv", "tsv", "parquet", "jsonl"]
Compression = Literal["gzip", "bz2", "xz"]

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
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")
_MAGIC: dict[bytes, Compression] = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_OPENERS: dict[Compression, Callable[..., BinaryIO]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_BOMS = [  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_OTHER_BINARY = {b"PK\x03\x04": "a zip archive: unzip it first", b"PAR1": "a Parquet file: give it a .parquet suffix"}
_HEAD = 1 << 16  # bytes sniffed
_CONTROL = frozenset(chr(c) for c in [*range(0x20), 0x7F]) - set("\t\n\r\f\v")


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


@dataclass(frozen=True)
class TextFile:
    """A text table file: how it is compressed (None: not at all) and its encoding (BOM included)."""

    path: Path
    compression: Compression | None
    encoding: str

    def open_binary(self) -> BinaryIO:
        opener = _OPENERS.get(self.compression) if self.compression else None
        return opener(self.path, "rb") if opener is not None else open(self.path, "rb")

    def open(self) -> IO[str]:
        return io.TextIOWrapper(self.open_binary(), encoding=self.encoding, newline="")


def detect_format(path: str | Path, format: TableFormat | None = None) -> TableFormat:
    if format is not None:
        return format
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    if suffixes and suffixes[-1] in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffixes[-1]]
    raise ValueError(
        f"cannot tell the format of {Path(path).name!r} from its suffix; "
        "pass format= one of csv, tsv, parquet, jsonl"
    )


def _fail(name: str, message: str) -> DataValidationError:
    return DataValidationError(ValidationReport(name, 0, 0), f"{name}: {message}")


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def sniff_text(path: Path, encoding: str | None, name: str) -> TextFile:
    """Compression from magic bytes, encoding from a byte-order mark (when ``encoding`` is None or UTF-8);
    raises :class:`DataValidationError` for an empty file or binary content."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"{name}: unknown encoding {encoding!r} (e.g. utf-8, utf-16, latin-1)") from None
    with open(path, "rb") as fh:
        magic = fh.read(8)
    compression = next((c for m, c in _MAGIC.items() if magic.startswith(m)), None)
    text_file = TextFile(path, compression, encoding or "utf-8")
    try:
        with text_file.open_binary() as fh:
            head = fh.read(_HEAD)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise _fail(name, f"damaged {compression} data ({exc})") from None
    if encoding is None or _is_utf8(encoding):
        bom, found = next(((b, e) for b, e in _BOMS if head.startswith(b)), (b"", None))
        if found is not None:
            text_file = TextFile(path, compression, found)
            head = head[len(bom):]
    text = head.decode(text_file.encoding.removesuffix("-sig"), errors="replace")
    if not text.strip():
        raise _fail(name, "the file is empty")
    controls = sum(n for ch, n in Counter(text).items() if ch in _CONTROL)
    if "\x00" in text or controls > len(text) / 100:
        what = next((w for m, w in _OTHER_BINARY.items() if magic.startswith(m)), None)
        for order, half in (("le", head[1::2]), ("be", head[0::2])):
            if what is None and half.count(0) > len(head) // 4:
                what = f"if it is UTF-16 text without a byte-order mark, pass --encoding utf-16-{order}"
        raise _fail(name, "not a text table (binary content" + (f"; {what})" if what else ")"))
    return text_file


def undecodable_error(src: TextFile, name: str) -> DataValidationError:
    """The error for a file that does not decode: the first bad byte, its line and offset, and what to do."""
    enc = src.encoding
    label = "UTF-8" if _is_utf8(enc) else enc
    where = "undecodable bytes"
    with src.open_binary() as fh:
        if any(w in codecs.lookup(enc).name for w in ("16", "32")):  # lines cannot be split on b"\n"
            data = fh.read()
            try:
                data.decode(enc)
            except UnicodeDecodeError as exc:
                line = data[: exc.start].decode(enc, errors="replace").count("\n") + 1
                where = f"invalid byte 0x{data[exc.start]:02x} at line {line}, byte offset {exc.start}"
        else:
            offset = 0
            for lineno, line_bytes in enumerate(fh, 1):
                try:
                    line_bytes.decode(enc)
                except UnicodeDecodeError as exc:
                    bad = offset + exc.start
                    where = f"invalid byte 0x{line_bytes[exc.start]:02x} at line {lineno}, byte offset {bad}"
                    break
                offset += len(line_bytes)
    hint = "pass --encoding latin-1 (or the file's encoding)" if label == "UTF-8" else "pass its real --encoding"
    return _fail(name, f"not {label} text ({where}); convert it to UTF-8 or {hint}")


def record_lines(src: TextFile, sep: str, header: bool) -> np.ndarray:
    """Physical line on which each data record of a delimited file starts (blank lines skipped)."""
    lines = []
    with src.open() as fh:
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


def _check_header(src: TextFile, sep: str, name: str) -> None:
    """A column named twice is an error (pandas would silently rename the second one ``name.1``)."""
    with src.open() as fh:
        header = next((rec for rec in csv.reader(fh, delimiter=sep) if rec), [])
    repeated = [col for col, n in Counter(header).items() if n > 1]
    if repeated:
        col = repeated[0]
        places = " and ".join(str(i + 1) for i, c in enumerate(header) if c == col)
        raise DataValidationError(
            ValidationReport(name, 0, 0),
            f"{name}: column {col!r} appears more than once in the header (columns {places}); "
            "rename or remove the repeat",
        )


def _read_delimited_slowly(src: TextFile, sep: str, names: list[str] | None, name: str) -> RawTable:
    """Record by record, so that malformed records (wrong number of fields) become reported problems."""
    records, rows, lines, problems = [], [], [], []
    header = names
    n_rec = 0
    with src.open() as fh:
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
        raise _fail(name, "the file is empty")
    frame = pd.DataFrame(records, columns=header, dtype="str")
    return RawTable(frame, n_rec, np.asarray(rows, np.int64), np.asarray(lines, np.int64), problems=problems)


def _read_delimited(src: TextFile, sep: str, names: list[str] | None, name: str) -> RawTable:
    header = names is None
    if header:
        _check_header(src, sep, name)
    try:
        frame = pd.read_csv(
            src.path,
            sep=sep,
            dtype="str",
            keep_default_na=False,
            engine="pyarrow",
            header=0 if header else None,
            names=names,
            encoding=src.encoding,
            compression=src.compression,
        )
    except pd.errors.EmptyDataError:
        raise _fail(name, "the file is empty") from None
    except (pd.errors.ParserError, ValueError):
        return _read_delimited_slowly(src, sep, names, name)
    return RawTable(frame, len(frame), line_of=lambda: record_lines(src, sep, header))


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = Counter(k for k, _ in pairs)
    repeated = [k for k, n in keys.items() if n > 1]
    if repeated:
        raise ValueError(f"key {repeated[0]!r} appears more than once in the object")
    return dict(pairs)


def _read_jsonl(src: TextFile, name: str) -> RawTable:
    records, rows, lines, problems = [], [], [], []
    n_rec = 0
    with src.open() as fh:
        for lineno, text in enumerate(fh, 1):
            if not text.strip():
                continue
            n_rec += 1
            try:
                obj = json.loads(text, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as exc:
                reason = f"invalid JSON ({exc.msg})"
                problems.append(Problem(name, n_rec, lineno, "", reason, text.strip()[:80]))
                continue
            except ValueError as exc:
                problems.append(Problem(name, n_rec, lineno, "", str(exc), text.strip()[:80]))
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
    encoding: str | None = None,
) -> tuple[RawTable, str]:
    """The records of a file (or a frame) before validation, and the name used in reports.

    Delimited files are read with every value as a string; ``names`` is for a file without a header row.
    ``encoding`` None (or UTF-8) reads UTF-8, or UTF-16/32 when the file starts with their byte-order mark.
    """
    if isinstance(source, pd.DataFrame):
        return RawTable(source.reset_index(drop=True), len(source)), "<frame>"
    path = Path(source)
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    fmt = detect_format(path, format)
    if fmt == "parquet":
        frame = pd.read_parquet(path)
        return RawTable(frame, len(frame)), name
    src = sniff_text(path, encoding, name)
    try:
        if fmt == "jsonl":
            return _read_jsonl(src, name), name
        sep = separator or ("," if fmt == "csv" else "\t")
        return _read_delimited(src, sep, names, name), name
    except UnicodeDecodeError:
        raise undecodable_error(src, name) from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        if src.compression is None:
            raise
        raise _fail(name, f"damaged {src.compression} data ({exc})") from None
