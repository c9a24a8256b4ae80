"""The two shops the assistant is evaluated on, read from ``../shared/data`` (test data, never shipped):

- ``movies``: MovieLens-100K's 1,682 films with IMDb metadata (``ml100k_imdb``): title, plot as the description,
  genres, directors, the first five of the cast, the year; its 100,000 ratings as events;
- ``products``: Amazon Industrial & Scientific (``amazon_scientific``): title, description, brand, every level of
  the category path; its 58,492 reviews as events.

``prepare(name, folder)`` stores a shop in a data folder and trains EASE on its events (once; reused after).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fathom.benchmarks.text_data import text_data_dir
from fathom.online.records import EventRecord, ItemRecord
from fathom.online.store import Store
from fathom.online.versions import train_version

SOURCES = {"movies": "ml100k_imdb", "products": "amazon_scientific"}
CAST = 5


def _list(text: object, separator: str = ",") -> list[str]:
    return [v.strip() for v in str(text or "").split(separator) if v.strip()]


def raw_rows(name: str) -> list[dict]:
    base = text_data_dir()
    if base is None or not (base / SOURCES[name] / "items.jsonl").is_file():
        raise FileNotFoundError(f"{SOURCES[name]}: not found under {base} (the shared data folder)")
    lines = (base / SOURCES[name] / "items.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def items(name: str) -> list[ItemRecord]:
    out = []
    for r in raw_rows(name):
        title = " ".join(str(r.get("title") or "").split()) or f"item {r['item_id']}"
        if name == "movies":
            categorical = {"genres": _list(r.get("genres")), "directors": _list(r.get("directors")),
                           "cast": _list(r.get("cast"))[:CAST]}
            year = str(r.get("year") or "")
            numeric = {"year": float(year)} if year.isdigit() else {}
            description = str(r.get("plot") or "")
        else:
            categorical = {"brand": [str(r["brand"]).strip()] if str(r.get("brand") or "").strip() else [],
                           "categories": _list(r.get("categories"))}
            numeric, description = {}, str(r.get("description") or "")
        out.append(ItemRecord(item_id=str(r["item_id"]), title=title[:1000], description=description[:100_000],
                              categorical={k: v[:100] for k, v in categorical.items() if v}, numeric=numeric))
    return out


def prepare(name: str, folder: Path) -> Path:
    """``folder`` holding the shop (catalogue, events, EASE active); kept when already prepared."""
    store = Store(folder)
    try:
        if not store.is_empty():
            return folder
        store.upsert_items(items(name))
        frame = pd.read_csv(text_data_dir() / SOURCES[name] / "interactions.csv")
        store.add_events([EventRecord(user_id=str(u), item_id=str(i), event="click", timestamp=int(t))
                          for u, i, t in zip(frame["user_id"], frame["item_id"], frame["timestamp"], strict=True)])
        train_version(store, "ease", {"reg": 250.0}, activate=True, log=lambda _: None)
    finally:
        store.close()
    return folder
