"""Read a catalogue file (JSONL or CSV) into :class:`Document` objects and build a :class:`SearchIndex`.

Column roles, unless given explicitly: the id column is ``id`` (else ``_id``, ``item_id``); text fields are
the title-like columns (``title``, ``name``; weight 2) and description-like ones (``text``, ``description``,
``body``, ``summary``; weight 1); other string columns (and lists of strings) are categorical, with
``list_sep`` splitting a CSV cell into several values (``Comedy|Drama``); number columns are numeric.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from fathom.data.records import Catalog
from fathom.retrieval.search_index import Document, SearchIndex, SearchIndexConfig

ID_COLUMNS = ("id", "_id", "item_id", "doc_id")
TITLE_COLUMNS = ("title", "name")
TEXT_COLUMNS = ("text", "description", "body", "summary", "abstract")


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a ``.jsonl`` / ``.json`` (list) / ``.csv`` / ``.tsv`` file."""
    path = Path(path)
    if path.suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: a .json catalogue must hold a list of objects")
        return data
    if path.suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ","))
    raise ValueError(f"{path}: unsupported catalogue format (use .jsonl, .json, .csv or .tsv)")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.number):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def infer_text_fields(columns: Iterable[str]) -> dict[str, float]:
    """Text fields and weights from column names: title-like 2.0, description-like 1.0."""
    cols = list(columns)
    out = {c: 2.0 for c in cols if c.lower() in TITLE_COLUMNS}
    out.update({c: 1.0 for c in cols if c.lower() in TEXT_COLUMNS})
    if not out:
        raise ValueError(f"no text column among {cols}; name one with --text-fields")
    return out


def rows_to_documents(
    rows: Sequence[Mapping],
    text_fields: Sequence[str],
    id_field: str | None = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    list_sep: str = "|",
) -> list[Document]:
    """Documents from rows; ``categorical`` / ``numeric`` None means infer from the values."""
    if not rows:
        return []
    columns = list(rows[0])
    id_field = id_field or next((c for c in ID_COLUMNS if c in columns), None)
    if id_field is None:
        raise ValueError(f"no id column among {columns}; name one with --id-field")
    rest = [c for c in columns if c != id_field and c not in text_fields]
    if numeric is None:
        numeric = [c for c in rest if all(_number(r.get(c)) is not None for r in rows if r.get(c) not in (None, ""))]
    if categorical is None:
        categorical = [c for c in rest if c not in numeric]
    return [row_document(r, str(r[id_field]), text_fields, categorical, numeric, list_sep) for r in rows]


def row_document(row: Mapping, doc_id: str, text_fields: Sequence[str], categorical: Sequence[str],
                 numeric: Sequence[str], list_sep: str | None = "|") -> Document:
    """The one row-to-document mapping: text fields as strings; categorical values as a list (a list or array
    as it is, a string split on ``list_sep`` when given; blanks and missing values left out); numeric values
    that are finite numbers."""
    cats: dict[str, str | list[str]] = {}
    for c in categorical:
        v = row.get(c)
        if isinstance(v, list | tuple | np.ndarray):
            values = [str(x) for x in v]
        elif v is None or (isinstance(v, float) and not np.isfinite(v)):
            values = []
        else:
            values = str(v).split(list_sep) if list_sep else [str(v)]
        if values := [x.strip() for x in values if x.strip()]:
            cats[c] = values
    nums = {c: x for c in numeric if (x := _number(row.get(c))) is not None and np.isfinite(x)}
    fields = {f: str(row.get(f) or "") for f in text_fields}
    return Document(id=doc_id, fields=fields, categorical=cats, numeric=nums)


def build_catalogue_index(
    path: str | Path,
    config: SearchIndexConfig | None = None,
    text_fields: Mapping[str, float] | None = None,
    id_field: str | None = None,
    list_sep: str = "|",
    progress: bool = False,
) -> SearchIndex:
    """Read ``path`` and index it; text fields and weights are inferred unless ``text_fields`` is given."""
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path}: empty catalogue")
    fields = dict(text_fields) if text_fields else infer_text_fields(rows[0])
    config = config or SearchIndexConfig()
    config = config.replace(lexical={**config.lexical.to_dict(), "field_weights": fields})
    index = SearchIndex(config)
    index.add(rows_to_documents(rows, list(fields), id_field, list_sep=list_sep), progress=progress)
    return index


def catalogue_documents(catalog: Catalog) -> tuple[list[Document], dict[str, float]]:
    """Documents of a typed catalogue table, and the text fields with their weights: the one mapping from
    catalogue rows to search documents (run folders' search and the service's items use it). Text columns are
    fields (title-like ones weigh 2, others 1); category and list columns are categorical attributes; float
    columns are numeric ones (missing and non-finite values left out). Rows without any text are left out."""
    schema = dict(catalog.schema)
    text = [c for c, kind in schema.items() if kind == "text"]
    fields = {c: 2.0 if c.lower() in TITLE_COLUMNS else 1.0 for c in text}
    categorical = [c for c, kind in schema.items() if kind in ("category", "list")]
    numeric = [c for c, kind in schema.items() if kind == "float"]
    docs = []
    for row in catalog.frame.to_dict("records"):
        if not any(str(row[c] or "") for c in text):
            continue  # an item the events know but the catalogue does not describe
        docs.append(row_document(row, str(row["item_id"]), text, categorical, numeric, list_sep=None))
    return docs, fields
