"""Model versions for serving: a trained model with the vocabularies it was trained with, saved under the
store's artefacts folder and registered in the store's ``model_versions`` table.

A version folder holds ``model.json`` + ``weights.safetensors`` (``Recommender.save``) and ``user_vocab.json``
/ ``item_vocab.json`` mapping external ids to the model's indices. Nothing is pickled.
"""

from __future__ import annotations

import os
import shutil
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
from fathom.online.leases import held_lease
from fathom.online.processes import lease_owner
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
    with held_lease(store, lease_owner("train")):  # the only writer of model folders while it runs
        return _train_version(store, model_cls, model_name, settings, activate, log, evaluate)


def _train_version(store: Store, model_cls: type[Recommender], model_name: str, settings: dict[str, Any] | None,
                   activate: bool, log: Callable[[str], None], evaluate: bool) -> VersionRecord:
    metrics: dict[str, Any] = {}
    if evaluate:
        from fathom.online.learning import offline_metrics

        metrics = offline_metrics(store, model_name, settings, log=log)
        if metrics:
            log(f"offline ndcg@10 {metrics.get('ndcg@10', float('nan')):.4f} on {int(metrics['n_users'])} users")
    frame = store.events_frame(with_id=True)
    inter, users, items = interactions_from_events(frame)
    log(f"training {model_name} on {len(inter)} interactions ({len(users)} users x {len(items)} items)")
    from fathom.online.item_text import fit_arguments, note_encoder

    start = time.perf_counter()
    model = note_encoder(model_cls(**(settings or {})).fit(inter, **fit_arguments(model_cls, store, items)))
    log(f"trained {model_name} in {time.perf_counter() - start:.1f} s")
    relative = save_version_folder(store, ModelBundle(model, users, items), model_name)
    version = store.add_version(model_name, relative, len(users), len(items), len(inter), model.config.to_dict(),
                                metrics=metrics, trained_through=int(frame["id"].max()),
                                note="trained on every stored event")
    log(f"registered {model_name} as model version {version}")
    return store.activate(version) if activate else store.version(version)


PARTIAL = ".partial-"
"""Prefix of a version folder being written; renamed to its final name once complete."""


def save_version_folder(store: Store, bundle: ModelBundle, model_name: str) -> str:
    """Save ``bundle`` under ``artefacts/models/`` and return its path relative to the artefacts folder, for
    :meth:`Store.add_version`. It is written under a ``.partial-`` name first and renamed once complete, so a
    process killed while saving leaves a folder that :func:`remove_unfinished` recognises."""
    name = f"{model_name}-{time.time_ns()}"
    partial = store.artefacts / "models" / f"{PARTIAL}{name}"
    bundle.save(partial)
    partial.rename(partial.with_name(name))
    return f"models/{name}"


def remove_unfinished(store: Store) -> list[tuple[str, int]]:
    """Delete the folders under ``artefacts/models/`` that no version is registered with (left by a run killed
    while it saved or before it registered). Call it holding the learner lease (:mod:`fathom.online.leases`),
    which every writer of these folders holds. Returns (path relative to the artefacts folder, bytes) of each
    removed folder."""
    root = store.artefacts / "models"
    if not root.is_dir():
        return []
    registered = {Path(v.path).as_posix() for v in store.versions()}
    removed = []
    for folder in sorted(root.iterdir()):
        relative = f"models/{folder.name}"
        if not folder.is_dir() or relative in registered:
            continue
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        removed.append((relative, size))
    return removed


FORGOTTEN = "\x00forgotten:{index}"
"""What a deleted user's id becomes in the vocabularies of versions trained on their data (ids cannot hold
control characters, so no real id is ever equal to one)."""


def forget_users(users: Vocabulary, user_ids: set[str]) -> Vocabulary:
    """``users`` with each id in ``user_ids`` replaced by a placeholder at the same index: the learned row stays
    where it is (indices keep their meaning for warm starts) but no id reaches it any more."""
    ids = users.ids
    hit = [i for i, u in enumerate(ids) if u in user_ids]
    if not hit:
        return users
    ids = ids.copy()
    for i in hit:
        ids[i] = FORGOTTEN.format(index=i)
    return Vocabulary(ids)


def forget_in_version_folders(store: Store, user_id: str) -> int:
    """Remove ``user_id`` from the ``user_vocab.json`` of every registered version (written atomically);
    returns how many files held it."""
    changed = 0
    for record in store.versions():
        path = store.artefacts / record.path / "user_vocab.json"
        try:
            users = Vocabulary.load(path)
        except (OSError, ValueError):
            continue
        if user_id not in users:
            continue
        partial = path.with_name(f"{PARTIAL}{path.name}")
        forget_users(users, {user_id}).save(partial)
        os.replace(partial, path)
        changed += 1
    return changed


def load_version(store: Store, record: VersionRecord) -> ModelBundle:
    """A registered version, the users deleted since it was trained left out of its vocabulary."""
    bundle = ModelBundle.load(store.artefacts / record.path, record.version)
    bundle.users = forget_users(bundle.users, store.forgotten_users(before=record.created_at))
    return bundle
