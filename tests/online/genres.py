"""A tiny two-genre data set for online-learning tests with known answers.

Items ``a0..a19`` ("Alpine Hike N", genre Outdoors) and ``b0..b19`` ("Baking Class N", genre Baking). Users
``u0..u19`` interact with eight random items of genre A, ``u20..u39`` with eight of genre B, so a model trained on
them recommends each user items of their own genre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fathom.online.records import EventRecord, ItemRecord
from fathom.online.store import Store
from fathom.online.versions import train_version

GENRES = {"a": ("Alpine Hike", "Outdoors", "mountain trail walking boots"),
          "b": ("Baking Class", "Baking", "oven bread flour dough")}
# small and fast: enough to separate two genres in a few seconds on a busy CPU
BPR_SETTINGS = {
    "factors": 16, "lr": 0.05, "epochs": 40, "batch_size": 64, "reg": 1e-4, "init_std": 0.1, "progress": False,
}


def items() -> list[ItemRecord]:
    return [ItemRecord(item_id=f"{g}{n}", title=f"{title} {n}", description=text, categorical={"genre": [genre]})
            for g, (title, genre, text) in GENRES.items() for n in range(20)]


def events(seed: int = 0) -> list[EventRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for u in range(40):
        genre = "a" if u < 20 else "b"
        for j, n in enumerate(rng.choice(20, 8, replace=False)):
            out.append(EventRecord(user_id=f"u{u}", item_id=f"{genre}{n}", event="click", timestamp=1_000 + j))
    return out


def prepare_store(folder: Path, model: str = "bpr", settings: dict | None = None) -> Store:
    """An open store in ``folder`` holding the items and events, with ``model`` trained and active (version 1)."""
    store = Store(folder)
    store.upsert_items(items())
    store.add_events(events())
    if settings is None:
        settings = BPR_SETTINGS if model == "bpr" else {"reg": 1.0} if model == "ease" else {}
    train_version(store, model, settings, activate=True)
    return store


def genre_share(item_ids: list[str], genre: str) -> float:
    return sum(i.startswith(genre) for i in item_ids) / max(len(item_ids), 1)
