"""Online learning: train a candidate from the events stored since the active version was trained, validate it
against the active version on held-out recent events, and activate it only when it is not worse.

One run (:func:`learn_once`):

1. ``new`` = events stored after the active version's ``trained_through`` event; with fewer than
   ``min_new_events`` nothing happens (unless forced).
2. Every stored event becomes one (user, item) pair (its last event). The vocabularies are the active version's,
   extended by the users and items that arrived since, so old indices keep their meaning.
3. Held out by time: for each user, their ``holdout`` most recent pairs that are new (first seen after the active
   version was trained), provided the user keeps at least one other pair. The candidate never sees them; the
   active version never saw them either.
4. The candidate: a neural model of the active version's kind (BPR, SASRec, ...) is warm-started from the active
   weights (:mod:`fathom.online.warm`) and trained ``warm_epochs`` more epochs on all the other pairs; other
   models (EASE, ItemKNN, ...) or another ``model`` are fitted anew on them.
5. Both versions rank every item for each held-out user exactly as the service would serve them
   (:meth:`Recommender.score_history`, from the user's other pairs), and
   :class:`fathom.metrics.evaluator.Evaluator` measures full-ranking NDCG@k and Recall@k, the user's other items
   excluded. Items the active version does not know cannot be ranked by it.
6. The candidate is saved (no pickle) and registered with its metrics, the active version's under ``baseline``,
   and a note; it is activated when ``metric`` is at least the active version's minus ``tolerance``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.data.vocab import Vocabulary
from fathom.metrics.evaluator import Evaluator
from fathom.models.base import Recommender
from fathom.models.fold_in import HistoryPolicy
from fathom.models.registry import get_model_class
from fathom.online.errors import NoActiveModel
from fathom.online.item_text import fit_arguments, note_encoder
from fathom.online.store import Store
from fathom.online.versions import ModelBundle, load_version, save_version_folder


class LearningConfig(Config):
    """Settings of the online learner."""

    interval_s: float | None = Field(None, gt=0, description="run in the background every this many seconds; "
                                                              "None: only when asked (POST /models/train)")
    min_new_events: int = Field(100, ge=1, description="new events needed before a run trains anything")
    metric: Literal["ndcg", "recall"] = Field("ndcg", description="validation metric deciding activation")
    k: int = Field(10, ge=1, description="cutoff of the validation metrics")
    tolerance: float = Field(0.0, description="activate when candidate >= active - tolerance; a negative value "
                                              "demands an improvement")
    holdout: int = Field(1, ge=1, description="most recent new pairs per user held out for validation")
    min_validation_users: int = Field(20, ge=1, description="users with held-out new events needed to compare a "
                                                              "candidate with the active version (fewer: skipped)")
    model: str | None = Field(None, description="model of the candidate; None: the active version's")
    settings: dict[str, Any] = Field({}, description="config overrides of the candidate model")
    warm_start: bool = Field(True, description="continue a neural active model's training from its weights")
    warm_epochs: int = Field(10, ge=1, description="epochs of a warm-started candidate")
    seed: int = 0

    @property
    def monitor(self) -> str:
        return f"{self.metric}@{self.k}"


class LearningReport(BaseModel):
    """What one run did. ``metrics`` / ``baseline``: the candidate's and the active version's validation metrics."""

    status: Literal["skipped", "activated", "rejected"]
    reason: str
    new_events: int
    version: int | None = None
    baseline_version: int | None = None
    metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}


def holdout_recent(pairs: pd.DataFrame, after_id: int, per_user: int) -> np.ndarray:
    """(P,) bool over ``pairs`` (columns user_id, first_id: the id of the pair's first event; sorted by time):
    each user's most recent pairs first seen after event ``after_id``, at most ``per_user`` of them and never
    all of the user's pairs (one at least is left to learn the user from)."""
    is_new = pairs["first_id"].to_numpy() > after_id
    held = np.zeros(len(pairs), bool)
    if is_new.any():
        users = pairs["user_id"]
        room = np.minimum(per_user, users.map(users.value_counts()).to_numpy() - 1)  # (P,) per row's user
        rank = pairs[is_new].groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()  # 0 = latest
        held[np.flatnonzero(is_new)] = rank < room[is_new]
    return held


class ServedScorer:
    """The evaluator's view of a model version: scores users of the run's (extended) vocabularies as the service
    would serve them from their pairs in ``fit``; items the version does not know get -inf."""

    def __init__(self, bundle: ModelBundle, users: Vocabulary, items: Vocabulary, fit: Interactions,
                 history: HistoryPolicy | None = None) -> None:
        self.bundle, self.history = bundle, history or HistoryPolicy()
        model_item = {item_id: i for i, item_id in enumerate(bundle.items.ids)}
        model_user = {user_id: u for u, user_id in enumerate(bundle.users.ids)}
        self.to_model = np.array([model_item.get(i, -1) for i in items.ids], dtype=np.int64)  # (n_ext,)
        self.user_in_model = np.array([model_user.get(u, -1) for u in users.ids], dtype=np.int64)
        self.columns = np.flatnonzero(self.to_model >= 0)  # extended ids of the version's items
        self.popularity = np.zeros(bundle.model.n_items, np.float32)
        counts = fit.item_counts()
        self.popularity[self.to_model[self.columns]] = counts[self.columns]
        order = np.lexsort((np.arange(len(fit)), fit.timestamp, fit.user))  # by user, then time, then row
        self.items_by_user = np.split(fit.item[order].astype(np.int64), np.cumsum(np.bincount(
            fit.user, minlength=fit.n_users))[:-1])
        self.n_items = len(items)

    def score(self, users: np.ndarray) -> np.ndarray:
        out = np.full((len(users), self.n_items), -np.inf, np.float32)  # (B, n_ext)
        for row, u in enumerate(users):
            history = self.to_model[self.items_by_user[u][::-1]]  # recent first, model ids
            history = history[history >= 0]
            user = int(self.user_in_model[u]) if self.user_in_model[u] >= 0 else None
            recent, weights = self.history.recent(history)
            scores = self.bundle.model.score_history(recent, user, self.popularity, weights)  # (n_model,)
            out[row, self.columns] = scores[self.to_model[self.columns]]
        return out


def _pairs(store: Store) -> tuple[pd.DataFrame, int]:
    frame = store.events_frame(with_id=True)
    if frame.empty:
        raise ValueError("the store holds no events to train on")
    first = frame.groupby(["user_id", "item_id"], sort=False)["id"].transform("min")
    pairs = frame.assign(first_id=first).drop_duplicates(["user_id", "item_id"], keep="last")
    return pairs.sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True), int(frame["id"].max())


def _split_pairs(pairs: pd.DataFrame, held: np.ndarray, users: Vocabulary,
                 items: Vocabulary) -> tuple[Interactions, Interactions]:
    """(fit, test) interactions from ``pairs``: the ``held`` rows are the test part; ids are encoded with
    ``users`` / ``items``, which grow by the ids they do not know yet."""
    u = users.encode(pairs["user_id"], add=True)
    i = items.encode(pairs["item_id"], add=True)
    ts = pairs["timestamp"].to_numpy(np.int64)
    fit = Interactions.from_arrays(u[~held], i[~held], len(users), len(items), timestamp=ts[~held])
    test = Interactions.from_arrays(u[held], i[held], len(users), len(items), timestamp=ts[held])
    return fit, test


def offline_metrics(store: Store, model_name: str, settings: dict[str, Any] | None = None, k: int = 10,
                    log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """A new model's offline metrics: each user's latest item held out (users with two items or more),
    ``model_name`` fitted on every other pair, and full-ranking NDCG@k / Recall@k of the held-out items as the
    service would rank them (the user's other items excluded)."""
    pairs, _ = _pairs(store)
    held = holdout_recent(pairs, after_id=-1, per_user=1)
    if not held.any():
        return {}
    users, items = Vocabulary(), Vocabulary()
    fit, test = _split_pairs(pairs, held, users, items)
    log(f"offline metrics: {model_name} fitted on {len(fit)} pairs, each user's latest item held out ({len(test)})")
    cls = get_model_class(model_name)
    model = cls(**(settings or {})).fit(fit, **fit_arguments(cls, store, items))
    metrics = Evaluator(test, exclude=(fit,), ks=(k,), metrics=("ndcg", "recall"))(
        ServedScorer(ModelBundle(model, users, items), users, items, fit))
    return {**metrics, "holdout": "each user's latest item"}


def _candidate(bundle: ModelBundle, active_model: str, active_config: dict, fit: Interactions,
               config: LearningConfig, store: Store, items: Vocabulary) -> tuple[Recommender, str]:
    from fathom.online.warm import can_warm_start, warm_fit  # torch, imported only when training

    name = config.model or active_model
    cls = get_model_class(name)
    text = fit_arguments(cls, store, items)  # the item text vectors, for a model that reads them
    if name == active_model and config.warm_start and can_warm_start(bundle.model):
        model = warm_fit(bundle.model, fit, config.warm_epochs, config.seed, fit_kwargs=text, **config.settings)
        return note_encoder(model), f"warm start from version {bundle.version}, {config.warm_epochs} epochs"
    base = cls.Config.from_dict(active_config) if name == active_model else cls.Config()
    model = cls(base.replace(**config.settings) if config.settings else base).fit(fit, **text)
    return note_encoder(model), "trained anew"


def learn_once(store: Store, config: LearningConfig | None = None, force: bool = False,
               log: Callable[[str], None] = lambda _: None, history: HistoryPolicy | None = None) -> LearningReport:
    """One online-learning run on ``store`` (see the module docstring); ``force`` ignores ``min_new_events``;
    ``history``: how serving reads a user's history (validation ranks as users are served)."""
    config = config or LearningConfig()
    active = store.active_version()
    if active is None:
        raise NoActiveModel("no model version is active: nothing to learn from or compare with")
    try:
        cls = get_model_class(config.model or active.model)
    except KeyError as exc:
        raise ValueError(f"model: {exc.args[0]}") from None
    if config.settings:  # a typo fails now (pydantic ValidationError naming it), not after training
        (cls.Config.from_dict(active.config) if cls.name == active.model else cls.Config()).replace(**config.settings)
    new_events = store.events_after(active.trained_through)
    if new_events == 0 or (new_events < config.min_new_events and not force):
        return LearningReport(status="skipped", new_events=new_events, baseline_version=active.version,
                              reason=f"{new_events} new events since version {active.version} "
                                     f"(at least {config.min_new_events} needed)")
    bundle = load_version(store, active)
    pairs, last_id = _pairs(store)
    held = holdout_recent(pairs, active.trained_through, config.holdout)
    n_validation = int(pairs.loc[held, "user_id"].nunique())
    if n_validation < config.min_validation_users:
        return LearningReport(status="skipped", new_events=new_events, baseline_version=active.version,
                              reason=f"{n_validation} users have a new item besides their only one to validate on "
                                     f"(at least {config.min_validation_users} needed: min_validation_users)")
    users, items = Vocabulary(bundle.users.ids), Vocabulary(bundle.items.ids)
    fit, test = _split_pairs(pairs, held, users, items)
    log(f"online learning: {new_events} new events; training on {len(fit)} pairs, {len(test)} held out")
    start = time.perf_counter()
    model, how = _candidate(bundle, active.model, active.config, fit, config, store, items)
    seconds = time.perf_counter() - start
    candidate = ModelBundle(model, users, items)
    evaluator = Evaluator(test, exclude=(fit,), ks=(config.k,), metrics=("ndcg", "recall"))
    metrics = evaluator(ServedScorer(candidate, users, items, fit, history))
    baseline = evaluator(ServedScorer(bundle, users, items, fit, history))
    accept = metrics[config.monitor] >= baseline[config.monitor] - config.tolerance
    verdict = "activated" if accept else "rejected"
    comparison = "not worse than" if accept else "worse than"
    reason = (f"{config.monitor} {metrics[config.monitor]:.4f} is {comparison} version {active.version}'s "
              f"{baseline[config.monitor]:.4f} (tolerance {config.tolerance:g}) on {int(metrics['n_users'])} "
              f"users' held-out recent events")
    name = config.model or active.model
    relative = save_version_folder(store, candidate, name)
    record = {**metrics, "baseline": {**baseline, "version": active.version}, "new_events": new_events,
              "train_seconds": round(seconds, 3)}
    version = store.add_version(name, relative, len(users), len(items), len(fit), model.config.to_dict(),
                                metrics=record, trained_through=last_id, parent=active.version,
                                note=f"online learning ({how}): {verdict}; {reason}")
    if accept:
        store.activate(version)
    log(f"online learning: version {version} {verdict}: {reason}")
    return LearningReport(status=verdict, reason=reason, new_events=new_events, version=version,
                          baseline_version=active.version, metrics=metrics, baseline=baseline)
