"""Model versions for serving: a trained model with the vocabularies it was trained with, saved under the
store's artefacts folder and registered in the store's ``model_versions`` table.

A version folder holds ``model.json`` + ``weights.safetensors`` (``Recommender.save``) and ``user_vocab.json``
/ ``item_vocab.json`` mapping external ids to the model's indices. Nothing is pickled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fathom.data.interactions import Interactions
from fathom.data.vocab import Vocabulary
from fathom.models.base import Recommender
from fathom.models.registry import get_model_class
from fathom.online.records import VersionRecord
from fathom.online.store import Store


@dataclass(eq=False)
class ModelBundle:
    """A fitted model plus its user and item vocabularies (index i of the model = ``items.ids[i]``)."""

    model: Recommender
    users: Vocabulary
    items: Vocabulary
    version: int = 0

    def save(self, folder: str | Path) -> Path:
        folder = self.model.save(folder)
        self.users.save(folder / "user_vocab.json")
        self.items.save(folder / "item_vocab.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path, version: int = 0) -> ModelBundle:
        folder = Path(folder)
        model = Recommender.load(folder)
        users = Vocabulary.load(folder / "user_vocab.json")
        items = Vocabulary.load(folder / "item_vocab.json")
        if len(items) != model.n_items or len(users) != model.n_users:
            raise ValueError(f"{folder}: vocabularies ({len(users)} users, {len(items)} items) do not match the "
                             f"model ({model.n_users} users, {model.n_items} items)")
        return cls(model, users, items, version)


def interactions_from_events(frame: pd.DataFrame, users: Vocabulary | None = None,
                             items: Vocabulary | None = None) -> tuple[Interactions, Vocabulary, Vocabulary]:
    """Implicit feedback from an events frame (user_id, item_id, timestamp): one row per distinct
    (user, item) pair (its last event, in arrival order), value 1. Ids are indexed in order of first appearance,
    after those of ``users`` / ``items`` when given (copies are extended: a warm-started model keeps its indices).
    """
    if frame.empty:
        raise ValueError("the store holds no events to train on")
    pairs = frame.drop_duplicates(["user_id", "item_id"], keep="last")
    users = Vocabulary(() if users is None else users.ids)
    items = Vocabulary(() if items is None else items.ids)
    user_codes = users.encode(pairs["user_id"], add=True)
    item_codes = items.encode(pairs["item_id"], add=True)
    inter = Interactions.from_arrays(
        user_codes, item_codes, len(users), len(items), timestamp=pairs["timestamp"].to_numpy(np.int64)
    )
    return inter, users, items


def train_version(
    store: Store,
    model_name: str,
    settings: dict[str, Any] | None = None,
    activate: bool = False,
    log: Callable[[str], None] = lambda _: None,
    evaluate: bool = True,
) -> VersionRecord:
    """Train ``model_name`` on every stored event, save it under ``artefacts/models/`` and register it.

    ``evaluate``: first measure the model's offline metrics with each user's latest item held out
    (:func:`fathom.online.learning.offline_metrics`, one extra fit), registered with the version.
    Returns the new version's record (activated first when ``activate``)."""
    model_cls = get_model_class(model_name)
    metrics: dict[str, Any] = {}
    if evaluate:
        from fathom.online.learning import offline_metrics

        metrics = offline_metrics(store, model_name, settings, log=log)
        if metrics:
            log(f"offline ndcg@10 {metrics.get('ndcg@10', float('nan')):.4f} on {int(metrics['n_users'])} users")
    frame = store.events_frame(with_id=True)
    inter, users, items = interactions_from_events(frame)
    log(f"training {model_name} on {len(inter)} interactions ({len(users)} users x {len(items)} items)")
    start = time.perf_counter()
    model = model_cls(**(settings or {})).fit(inter)
    log(f"trained {model_name} in {time.perf_counter() - start:.1f} s")
    relative = f"models/{model_name}-{time.time_ns()}"
    ModelBundle(model, users, items).save(store.artefacts / relative)
    version = store.add_version(model_name, relative, len(users), len(items), len(inter), model.config.to_dict(),
                                metrics=metrics, trained_through=int(frame["id"].max()),
                                note="trained on every stored event")
    log(f"registered {model_name} as model version {version}")
    return store.activate(version) if activate else store.version(version)


def load_version(store: Store, record: VersionRecord) -> ModelBundle:
    return ModelBundle.load(store.artefacts / record.path, record.version)
