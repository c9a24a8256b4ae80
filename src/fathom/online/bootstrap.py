"""First start of an empty data folder: load a data set into the store, train a default model, register it as
the active version and build the search index."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fathom.data.dataset import Dataset
from fathom.data.records import Catalog
from fathom.online.records import MAX_TIMESTAMP, EventRecord, ItemRecord, VersionRecord
from fathom.online.store import Store
from fathom.online.versions import train_version
from fathom.retrieval.catalogue import catalogue_documents

DEFAULT_DATASET = "movielens-100k"
DEFAULT_MODEL = "ease"
DEFAULT_SETTINGS: dict[str, Any] = {"reg": 250.0}


def items_from_catalog(catalog: Catalog) -> list[ItemRecord]:
    """Catalogue rows as items, through the one catalogue-to-document mapping
    (:func:`fathom.retrieval.catalogue.catalogue_documents`): ``title`` (else the first text column, else the
    id); the other text columns joined as the description; its categorical and numeric attributes. A row
    without any text is kept with its id as title (events may name it)."""
    docs, _ = catalogue_documents(catalog)
    items = []
    for doc in docs:
        texts = {k: v for k, v in doc.fields.items() if v}
        title = texts.pop("title", None) or (texts.pop(next(iter(texts))) if texts else doc.id)
        cats = {k: [v] if isinstance(v, str) else list(v) for k, v in doc.categorical.items()}
        items.append(ItemRecord(item_id=doc.id, title=title, description=" ".join(texts.values()),
                                categorical=cats, numeric=dict(doc.numeric)))
    described = {i.item_id for i in items}
    items += [ItemRecord(item_id=str(i), title=str(i)) for i in catalog.frame["item_id"] if str(i) not in described]
    return items


def load_dataset_into(store: Store, dataset: Dataset, log: Callable[[str], None] = print) -> int:
    """Catalogue, users and events of ``dataset`` into ``store`` (events of items outside a known catalogue are
    left out). Returns the number of events stored."""
    known_items: set[str] | None = None
    if dataset.catalog is not None:
        items = items_from_catalog(dataset.catalog)
        store.upsert_items(items)
        known_items = {i.item_id for i in items}
        log(f"stored {len(items)} catalogue items")
    if dataset.users is not None:
        store.add_users(dataset.users.frame["user_id"].astype(str))
    frame = dataset.events.frame
    if known_items is not None:
        frame = frame[frame["item_id"].isin(known_items)]
    events = [
        EventRecord(user_id=u, item_id=i, event=e, value=float(v), timestamp=int(t))
        for u, i, e, v, t in zip(frame["user_id"], frame["item_id"], frame["event"], frame["value"],
                                 frame["timestamp"], strict=True)
    ]
    count = store.add_events(events)
    log(f"stored {count} events of {store.user_count()} users")
    return count


def bootstrap(
    folder: str | Path,
    dataset: Dataset | None = None,
    model: str = DEFAULT_MODEL,
    settings: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    url: str | None = None,
    artefacts: str | Path | None = None,
) -> VersionRecord | None:
    """Prepare ``folder`` when it holds nothing yet: data set (default MovieLens-100K) into the store, ``model``
    trained on it and activated as version 1, search index built. Returns the new version, or None when the
    folder was already prepared."""
    from fathom.online.engine import Engine

    start = time.perf_counter()
    store = Store(folder, url=url, artefacts=artefacts)
    try:
        if not store.is_empty():
            return None
        if dataset is None:
            from fathom.data.sources import load_builtin

            log(f"1/4 empty data folder {folder}: loading {DEFAULT_DATASET}")
            dataset = load_builtin(DEFAULT_DATASET)
        else:
            log(f"1/4 empty data folder {folder}: loading {dataset.name}")
        log("2/4 storing catalogue, users and events")
        load_dataset_into(store, dataset, log=lambda m: log("    " + m))
        log(f"3/4 training the default model ({model})")
        settings = DEFAULT_SETTINGS if settings is None and model == DEFAULT_MODEL else settings
        record = train_version(store, model, settings, activate=True, log=lambda m: log("    " + m))
        log("4/4 building the search index")
        engine = Engine(store)
        engine.load_index()
        log(f"    indexed {len(engine.index or [])} items")
        log(f"ready in {time.perf_counter() - start:.0f} s")
        return record
    finally:
        store.close()


def bootstrap_from_run(folder: str | Path, run: str | Path, label: str | None = None,
                       log: Callable[[str], None] = print, url: str | None = None,
                       artefacts: str | Path | None = None) -> VersionRecord | None:
    """Prepare an empty ``folder`` from a run folder (``fathom train`` / ``fathom demo``): its catalogue, its
    users' interactions as events (in time order), and its model ``label`` registered and activated as version 1
    (copied in the deployment format the run saved it in). ``GET /recommend`` then answers what
    ``fathom recommend --run RUN`` answers. Returns None when the folder was already prepared."""
    from fathom.online.engine import Engine
    from fathom.online.leases import held_lease
    from fathom.online.processes import lease_owner
    from fathom.online.versions import ModelBundle, save_version_folder
    from fathom.runs import RunFolder

    start = time.perf_counter()
    source = RunFolder(run)
    label, model = source.load_model(label)
    data = source.data()
    store = Store(folder, url=url, artefacts=artefacts)
    try:
        if not store.is_empty():
            return None
        log(f"1/3 empty data folder {folder}: importing run {run} (model {label})")
        items = items_from_catalog(data.catalog) if data.catalog is not None else []
        described = {i.item_id for i in items}
        items += [ItemRecord(item_id=str(i), title=str(i)) for i in data.item_vocab.ids if str(i) not in described]
        store.upsert_items(items)
        inter = data.all_interactions()
        order = np.lexsort((np.arange(len(inter)), inter.timestamp))  # time order; ties keep the run's order
        users, item_ids = data.user_vocab.ids, data.item_vocab.ids
        store.add_events([EventRecord(user_id=str(users[inter.user[r]]), item_id=str(item_ids[inter.item[r]]),
                                      event="click", value=max(float(inter.value[r]), 0.0),
                                      timestamp=int(min(max(inter.timestamp[r], 0), MAX_TIMESTAMP)))
                          for r in order])
        log(f"    stored {len(items)} items and {len(inter)} events of {len(users)} users")
        log("2/3 registering the run's model as version 1")
        metrics_file = source.models_dir / label / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        with held_lease(store, lease_owner("import")):
            relative = save_version_folder(store, ModelBundle(model, data.user_vocab, data.item_vocab), label)
            version = store.add_version(model.name, relative, len(users), len(item_ids), len(inter),
                                        model.config.to_dict(), metrics=metrics,
                                        trained_through=store.events_after(-1), note=f"imported from run {run}")
            record = store.activate(version)
        if (source.path / "kg" / "kg.json").is_file():  # the run's knowledge graph explains the served reasons
            shutil.copytree(source.path / "kg", store.folder / "kg", dirs_exist_ok=True)
            log("    copied the run's knowledge graph (kg/)")
        log("3/3 building the search index")
        engine = Engine(store)
        engine.load_index()
        log(f"ready in {time.perf_counter() - start:.0f} s")
        return record
    finally:
        store.close()
