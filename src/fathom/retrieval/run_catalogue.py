"""Search over a run folder's catalogue (for the main job: MovieLens titles, release years and genres),
personalised by the run's trained models.

The catalogue table becomes one document per item, its id the external item id: text columns are searched
(``title`` with weight 2, any other text column 1), category and list columns (``genres``) are categorical
attributes for filters and facets, float columns (``release_year``) numeric ones. The index is built on first
use and cached in ``RUN/search/`` next to ``data/`` and ``models/``; a fingerprint of the catalogue and the
encoder name decide whether the cached one is still valid.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from fathom.data.records import Catalog
from fathom.retrieval.personalise import Personaliser
from fathom.retrieval.search_index import Document, SearchIndex, SearchIndexConfig
from fathom.runs import RunFolder
from fathom.text.encoders import EncoderName

SEARCH_DIR = "search"
TITLE_COLUMNS = ("title", "name")


def catalogue_documents(catalog: Catalog) -> tuple[list[Document], dict[str, float]]:
    """Documents of a catalogue table, and the text fields with their weights."""
    schema = dict(catalog.schema)
    text = [c for c, kind in schema.items() if kind == "text"]
    fields = {c: 2.0 if c.lower() in TITLE_COLUMNS else 1.0 for c in text}
    categorical = [c for c, kind in schema.items() if kind in ("category", "list")]
    numeric = [c for c, kind in schema.items() if kind == "float"]
    docs = []
    for row in catalog.frame.to_dict("records"):
        texts = {c: str(row[c] or "") for c in text}
        if not any(texts.values()):
            continue  # an item the events know but the catalogue does not describe
        cats: dict[str, str | list[str]] = {}
        for c in categorical:
            if schema[c] == "list" and len(row[c]):
                cats[c] = [str(v) for v in row[c]]
            elif schema[c] == "category" and row[c]:
                cats[c] = str(row[c])
        nums = {c: float(row[c]) for c in numeric if row[c] is not None and np.isfinite(row[c])}
        docs.append(Document(id=str(row["item_id"]), fields=texts, categorical=cats, numeric=nums))
    return docs, fields


def _fingerprint(catalog: Catalog, encoder: str | None) -> str:
    payload = json.dumps({"encoder": encoder, "rows": catalog.frame.to_dict("list")}, default=str, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def run_search_index(run: RunFolder, encoder: EncoderName | None = None, rebuild: bool = False) -> SearchIndex:
    """The search index of ``run``'s catalogue (lexical only unless ``encoder``), from the cache when current."""
    data = run.data()
    if data.catalog is None:
        raise ValueError(f"{run.path} has no item catalogue to search: train with --catalog FILE")
    folder = run.path / SEARCH_DIR
    stamp = _fingerprint(data.catalog, encoder)
    stamp_file = folder / "fingerprint.txt"
    if not rebuild and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        return SearchIndex.load(folder)
    docs, fields = catalogue_documents(data.catalog)
    if not docs:
        raise ValueError(f"{run.path}: the catalogue has no item with a text to search")
    base = SearchIndexConfig(encoder=encoder)
    config = base.replace(lexical={**base.lexical.to_dict(), "field_weights": fields})
    index = SearchIndex(config)
    index.add(docs)
    try:
        index.save(folder)
        stamp_file.write_text(stamp + "\n")
    except OSError:  # a read-only run folder: search without caching
        pass
    return index


def best_model_label(run: RunFolder) -> str:
    """The run's model with the best validation NDCG@10 (written at training time); the only one if just one."""
    labels = run.model_labels()
    if not labels:
        raise FileNotFoundError(f"no trained model in {run.models_dir}: see `fathom train`")

    def valid_ndcg(label: str) -> float:
        path = Path(run.models_dir / label / "metrics.json")
        try:
            return float(json.loads(path.read_text())["valid"]["ndcg@10"])
        except (OSError, KeyError, TypeError, ValueError):
            return float("-inf")

    return max(labels, key=lambda label: (valid_ndcg(label), label))


def run_personaliser(run: RunFolder, label: str | None = None) -> tuple[str, Personaliser]:
    """The personaliser of model ``label`` of ``run`` (default: the best on validation)."""
    label, model = run.load_model(label or best_model_label(run))
    data = run.data()
    return label, Personaliser(model, data.user_vocab, data.item_vocab)
