"""A tiny synthetic catalogue with two disjoint tastes, for tests with known answers.

Items ``s0..s9`` are "Space Voyage N" (genre Sci-Fi), ``c0..c9`` "Kitchen Recipe N" (genre Cooking); item N of
each group has ``year`` 2000 + N. Users ``u0..u9`` like space items, ``u10..u19`` cooking items: user i has the
six items (i + j) mod 10, j = 0..5, of their group, so every recommendation for them should come from their
own group.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fathom.data.dataset import Dataset
from fathom.data.records import Catalog, EventTable
from fathom.online.records import EventRecord, ItemRecord
from fathom.online.store import Store
from fathom.online.versions import train_version

GROUPS = {"s": ("Space Voyage", "Sci-Fi", "a starship crew explores distant galaxies"),
          "c": ("Kitchen Recipe", "Cooking", "a chef bakes bread and simmers soup")}


def items() -> list[ItemRecord]:
    return [ItemRecord(item_id=f"{g}{n}", title=f"{title} {n}", description=text, categorical={"genre": [genre]},
                       numeric={"year": 2000.0 + n})
            for g, (title, genre, text) in GROUPS.items() for n in range(10)]


def history(user: int) -> list[str]:
    group = "s" if user < 10 else "c"
    return [f"{group}{(user + j) % 10}" for j in range(6)]


def events() -> list[EventRecord]:
    return [EventRecord(user_id=f"u{u}", item_id=item, event="click", timestamp=1_000 + 10 * u + j)
            for u in range(20) for j, item in enumerate(history(u))]


def prepare_folder(folder: Path, model: str = "ease", settings: dict | None = None, url: str | None = None,
                   artefacts: Path | None = None) -> Path:
    """Store items and events in ``folder`` (or the PostgreSQL database ``url``, artefacts in ``folder`` or
    ``artefacts``) and train + activate ``model`` as version 1."""
    store = Store(folder, url=url, artefacts=artefacts)
    try:
        store.upsert_items(items())
        store.add_events(events())
        train_version(store, model, {"reg": 1.0} if settings is None and model == "ease" else settings,
                      activate=True)
    finally:
        store.close()
    return folder


def dataset() -> Dataset:
    """The same data as a :class:`Dataset` (for the first-start path)."""
    rows = items()
    catalog = Catalog(pd.DataFrame({"item_id": [i.item_id for i in rows], "title": [i.title for i in rows],
                                    "genre": [i.categorical["genre"] for i in rows],
                                    "year": [i.numeric["year"] for i in rows]}),
                      {"genre": "list", "year": "float"})
    evs = events()
    frame = pd.DataFrame({"user_id": [e.user_id for e in evs], "item_id": [e.item_id for e in evs],
                          "event": [e.event for e in evs], "value": [e.value for e in evs],
                          "timestamp": [e.timestamp for e in evs]})
    return Dataset("synthetic", EventTable(frame), catalog)
