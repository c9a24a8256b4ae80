"""First start of an empty data folder: load a data set into the store, train a default model, register it as
the active version and build the search index."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fathom.data.dataset import Dataset
from fathom.data.records import Catalog
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.store import Store
from fathom.online.versions import train_version

DEFAULT_DATASET = "movielens-100k"
DEFAULT_MODEL = "ease"
DEFAULT_SETTINGS: dict[str, Any] = {"reg": 250.0}


def items_from_catalog(catalog: Catalog) -> list[ItemRecord]:
    """Catalogue rows as items: ``title``; text columns joined as the description; category and list columns
    as categorical attributes; float columns as numeric ones (missing values left out)."""
    frame, schema = catalog.frame, dict(catalog.schema)
    text = [c for c, k in schema.items() if k == "text" and c != "title"]
    categorical = [c for c, k in schema.items() if k in ("category", "list")]
    numeric = [c for c, k in schema.items() if k == "float"]
    items = []
    for row in frame.to_dict("records"):
        cats = {}
        for c in categorical:
            value = row[c]
            values = [str(value)] if isinstance(value, str) else [str(v) for v in value]
            if values := [v for v in values if v]:
                cats[c] = values
        nums = {c: float(row[c]) for c in numeric if row[c] is not None and not math.isnan(row[c])}
        description = " ".join(str(row[c]) for c in text if row[c])
        items.append(ItemRecord(item_id=str(row["item_id"]), title=str(row["title"]) or str(row["item_id"]),
                                description=description, categorical=cats, numeric=nums))
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
) -> VersionRecord | None:
    """Prepare ``folder`` when it holds nothing yet: data set (default MovieLens-100K) into the store, ``model``
    trained on it and activated as version 1, search index built. Returns the new version, or None when the
    folder was already prepared."""
    from fathom.online.engine import Engine

    start = time.perf_counter()
    store = Store(folder)
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
