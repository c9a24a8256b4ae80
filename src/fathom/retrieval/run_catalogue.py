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

from fathom.data.records import Catalog
from fathom.retrieval.catalogue import catalogue_documents
from fathom.retrieval.personalise import Personaliser
from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig
from fathom.runs import RunFolder
from fathom.text.encoders import EncoderName

SEARCH_DIR = "search"


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
