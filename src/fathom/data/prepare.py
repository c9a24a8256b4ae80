"""From a :class:`~fathom.data.dataset.Dataset` to index-coded train / valid / test interactions.

:func:`prepare` runs, in order: de-duplication, the rating threshold (on ``rating`` events), implicit-feedback
conversion, iterative k-core filtering, vocabulary building (ids in order of first appearance in the cleaned
events) and the split. Every step's removals are counted in :attr:`PreparedData.stats`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from fathom.config import Config
from fathom.data.cleaning import DedupeKeep, deduplicate, filter_min_value, k_core, rating_midpoint, to_implicit
from fathom.data.dataset import Dataset
from fathom.data.interactions import Interactions
from fathom.data.records import Catalog, EventType, Table, UserTable, empty_column
from fathom.data.splits import Shuffle, Split, SplitMethod, split
from fathom.data.vocab import Vocabulary

FORMAT = "fathom.prepared"
VERSION = 1
_PARTS = ("train", "valid", "test")


class PrepareConfig(Config):
    """How to turn a data set's events into training data."""

    min_rating: float | Literal["midpoint"] | None = None
    """Keep ``rating`` events with value >= this (other event types are not affected); None keeps all;
    "midpoint": the middle of the data's rating scale (:func:`~fathom.data.cleaning.rating_midpoint`: 3 on 1-5,
    2.75 on 0.5-5), which :func:`prepare` resolves to a number in the :class:`PreparedData`'s config."""
    dedupe: DedupeKeep | Literal["none"] = "last"
    """Repeated (user, item[, event]) rows: keep the last / first by time, aggregate their values (sum, max,
    mean, count), or keep all ("none")."""
    dedupe_by_event: bool = True
    """De-duplicate per (user, item, event) rather than per (user, item)."""
    user_core: int = Field(0, ge=0)
    """Iteratively drop users with fewer rows (RecBole's user_inter_num_interval lower bound)."""
    item_core: int = Field(0, ge=0)
    """Iteratively drop items with fewer rows."""
    implicit: dict[EventType, float] | None = None
    """Event type -> weight; each row's value becomes its event's weight, rows of other events are dropped.
    None keeps the values (ratings) as they are."""
    split: SplitMethod = "random"
    ratios: tuple[float, ...] = (0.8, 0.1, 0.1)
    """(train, valid, test) or (train, test) shares; for "loo" only the length matters (2: no validation)."""
    seed: int = 2020
    shuffle: Shuffle = "numpy"
    """How "random" orders the rows: numpy's generator, or ``torch.randperm`` as RecBole 1.2.1 does (the same
    rows in the same order with the same seed then give RecBole's own split)."""

    timestamps: Literal["exact", "float32"] = "exact"
    """"float32" rounds each timestamp to the nearest float32 (64-second steps for 2000-era Unix times), as RecBole
    1.2.1 stores float fields; events of a user that close in time then keep their input order wherever rows are
    sorted by time, which is how RecBole's chronological splits and sequences order them."""

    @field_validator("ratios")
    @classmethod
    def _check_ratios(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) not in (2, 3) or any(r < 0 for r in v) or v[0] <= 0:
            raise ValueError(f"ratios must be 2 or 3 non-negative shares with a positive first, got {v}")
        return v

    @classmethod
    def recbole_general(cls) -> Self:
        """RecBole's general-recommendation setting: ratings >= 3, 10-core users and items, random 8:1:1, rows
        shuffled as RecBole shuffles them (on RecBole's files this is RecBole's own split with its seed 2020)."""
        return cls(min_rating=3.0, dedupe="none", user_core=10, item_core=10, split="random",
                   ratios=(0.8, 0.1, 0.1), seed=2020, shuffle="torch")

    @classmethod
    def recbole_seq(cls) -> Self:
        """RecBole's sequential setting: ratings >= 3, 10-core, chronological leave-one-out (last item to test, the
        one before to valid), time held as RecBole holds it (float32: a user's ratings within the same 64 seconds
        keep file order); on RecBole's files, RecBole's own validation and test items and training sequences."""
        return cls(min_rating=3.0, dedupe="none", user_core=10, item_core=10, split="loo", ratios=(0.8, 0.1, 0.1),
                   timestamps="float32")

    def resolved(self, frame: pd.DataFrame) -> Self:
        """This config with ``min_rating="midpoint"`` replaced by the midpoint of ``frame``'s ratings (None when it
        has no rating events)."""
        if self.min_rating != "midpoint":
            return self
        ratings = frame["value"].to_numpy(np.float64)[(frame["event"] == "rating").to_numpy()]
        return self.replace(min_rating=rating_midpoint(ratings))

    @classmethod
    def movielens_100k(cls) -> Self:
        """Default for MovieLens-100k: every rating as an implicit positive (value 1), random 8:1:1."""
        return cls(implicit={"rating": 1.0}, split="random", ratios=(0.8, 0.1, 0.1), seed=2020)


def _reindex(table: Table | None, key: str, vocab: Vocabulary) -> tuple[Table | None, int, int]:
    """``table`` with row i describing vocabulary index i; ids without a row get empty values.
    Returns the table, rows added (ids without a row) and rows dropped (ids outside the vocabulary)."""
    if table is None:
        return None, 0, 0
    frame = table.frame
    ids = vocab.ids
    pos = pd.Index(frame[key]).get_indexer(ids)  # (n,) row of each vocabulary id, -1 if none
    missing = pos < 0
    if missing.any():
        blank = pd.DataFrame({c: empty_column(k, 1) if k != "id" else [""] for c, k in table.schema.items()})
        frame = pd.concat([frame, blank], ignore_index=True)
        pos = np.where(missing, len(frame) - 1, pos)
    out = frame.iloc[pos].reset_index(drop=True)
    out[key] = pd.Series(ids, dtype="str")
    for col in table.columns_of("list"):
        if missing.any():  # one fresh list per added row, not a shared one
            out[col] = [[] if m else v for v, m in zip(out[col], missing, strict=True)]
    dropped = int((~table.frame[key].isin(ids)).sum())
    return table.with_frame(out), int(missing.sum()), dropped


@dataclass(eq=False)
class PreparedData:
    """Vocabularies, the three index-coded parts and the re-indexed side tables (row i = index i)."""

    name: str
    config: PrepareConfig
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    train: Interactions
    valid: Interactions
    test: Interactions
    catalog: Catalog | None = None
    users: UserTable | None = None
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)

    @property
    def split(self) -> Split:
        return Split(self.train, self.valid, self.test)

    def all_interactions(self) -> Interactions:
        parts = [self.train, self.valid, self.test]
        return Interactions(
            np.concatenate([p.user for p in parts]),
            np.concatenate([p.item for p in parts]),
            np.concatenate([p.value for p in parts]),
            np.concatenate([p.timestamp for p in parts]),
            self.n_users,
            self.n_items,
        )

    def summary(self) -> dict:
        sizes = {p: len(getattr(self, p)) for p in _PARTS}
        total = sum(sizes.values())
        cells = self.n_users * self.n_items
        return {
            "name": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": {**sizes, "total": total},
            "density": total / cells if cells else 0.0,
            "steps": dict(self.stats),
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``prepared.json``, ``user_vocab.json``, ``item_vocab.json``, ``{train,valid,test}.parquet`` and
        the side tables as Parquet. No pickle."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.user_vocab.save(folder / "user_vocab.json")
        self.item_vocab.save(folder / "item_vocab.json")
        for part in _PARTS:
            getattr(self, part).to_frame().to_parquet(folder / f"{part}.parquet", index=False)
        if self.catalog is not None:
            self.catalog.to_parquet(folder / "catalog.parquet")
        if self.users is not None:
            self.users.to_parquet(folder / "users.parquet")
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "config": self.config.to_dict(),
            "stats": self.stats,
            "catalog": self.catalog is not None,
            "users": self.users is not None,
        }
        (folder / "prepared.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> PreparedData:
        folder = Path(folder)
        meta = json.loads((folder / "prepared.json").read_text())
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"{folder}: not a prepared Fathom data folder of version {VERSION}")
        users = Vocabulary.load(folder / "user_vocab.json")
        items = Vocabulary.load(folder / "item_vocab.json")
        parts = {
            p: Interactions.from_frame(pd.read_parquet(folder / f"{p}.parquet"), len(users), len(items))
            for p in _PARTS
        }
        return cls(
            name=meta["name"],
            config=PrepareConfig.from_dict(meta["config"]),
            user_vocab=users,
            item_vocab=items,
            **parts,
            catalog=Catalog.read_parquet(folder / "catalog.parquet") if meta["catalog"] else None,
            users=UserTable.read_parquet(folder / "users.parquet") if meta["users"] else None,
            stats={k: int(v) for k, v in meta["stats"].items()},
        )


def _timestamps(ts: np.ndarray, precision: str) -> np.ndarray:
    """(N,) int64 timestamps, rounded through float32 when ``precision`` is "float32"."""
    return ts.astype(np.float32).astype(np.int64) if precision == "float32" else ts


def clean_events(frame: pd.DataFrame, config: PrepareConfig) -> tuple[pd.DataFrame, dict[str, int]]:
    """The cleaning steps of :func:`prepare` on an event frame; returns the frame and removal counts."""
    stats = {"events_in": len(frame)}
    config = config.resolved(frame)
    if config.dedupe != "none":
        keys = ("user_id", "item_id", "event") if config.dedupe_by_event else ("user_id", "item_id")
        res = deduplicate(frame, keys, config.dedupe)
        frame, stats["removed_duplicates"] = res.frame, res.removed_rows
    if config.min_rating is not None:
        res = filter_min_value(frame, config.min_rating, events=("rating",))
        frame, stats["removed_below_min_rating"] = res.frame, res.removed_rows
    if config.implicit is not None:
        res = to_implicit(frame, config.implicit)
        frame, stats["removed_unweighted_events"] = res.frame, res.removed_rows
    if config.user_core or config.item_core:
        res = k_core(frame, config.user_core, config.item_core)
        frame = res.frame
        stats |= {
            "removed_by_core": res.removed_rows,
            "removed_users_by_core": res.removed_users,
            "removed_items_by_core": res.removed_items,
            "core_rounds": res.rounds,
        }
    stats["events_out"] = len(frame)
    return frame, stats


def prepare(dataset: Dataset, config: PrepareConfig | None = None) -> PreparedData:
    """Clean, index and split ``dataset`` as ``config`` says (default: :class:`PrepareConfig` defaults); the
    result's config has ``min_rating="midpoint"`` resolved to the threshold applied."""
    config = (config or PrepareConfig()).resolved(dataset.events.frame)
    frame, stats = clean_events(dataset.events.frame, config)
    if len(frame) == 0:
        raise ValueError(f"{dataset.name}: no events left after cleaning ({stats})")
    user_codes, user_ids = pd.factorize(frame["user_id"])
    item_codes, item_ids = pd.factorize(frame["item_id"])
    user_vocab, item_vocab = Vocabulary(user_ids), Vocabulary(item_ids)
    inter = Interactions(
        user_codes,  # (N,)
        item_codes,  # (N,)
        frame["value"].to_numpy(np.float32),
        _timestamps(frame["timestamp"].to_numpy(np.int64), config.timestamps),
        len(user_vocab),
        len(item_vocab),
    )
    parts = split(inter, config.split, config.ratios, config.seed, config.shuffle)
    catalog, cat_added, cat_dropped = _reindex(dataset.catalog, "item_id", item_vocab)
    users, usr_added, usr_dropped = _reindex(dataset.users, "user_id", user_vocab)
    if dataset.catalog is not None:
        stats |= {"items_without_catalog_row": cat_added, "catalog_rows_dropped": cat_dropped}
    if dataset.users is not None:
        stats |= {"users_without_profile": usr_added, "profiles_dropped": usr_dropped}
    return PreparedData(
        name=dataset.name,
        config=config,
        user_vocab=user_vocab,
        item_vocab=item_vocab,
        train=parts.train,
        valid=parts.valid,
        test=parts.test,
        catalog=catalog,  # type: ignore[arg-type]
        users=users,  # type: ignore[arg-type]
        stats=stats,
    )
