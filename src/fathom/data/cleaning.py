"""Cleaning steps on event frames (columns ``user_id``, ``item_id``, ``event``, ``value``, ``timestamp``).

Each function is pure: it returns a new frame (rows in their original order, index reset) and a
:class:`Cleaned` record of what it removed. Nothing is removed without being counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

DedupeKeep = Literal["last", "first", "sum", "max", "mean", "count"]


@dataclass(frozen=True)
class Cleaned:
    """A cleaned frame and what the step removed."""

    frame: pd.DataFrame
    removed_rows: int
    removed_users: int = 0
    removed_items: int = 0
    rounds: int = 0
    detail: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {"removed_rows": self.removed_rows}
        if self.removed_users or self.removed_items or self.rounds:
            out |= {"removed_users": self.removed_users, "removed_items": self.removed_items, "rounds": self.rounds}
        return out | self.detail


def _codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(frame[column])
    return codes.astype(np.int64), len(uniques)


def _pair_key(frame: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """One int64 per row, equal exactly when all ``keys`` columns are equal."""
    key = np.zeros(len(frame), np.int64)
    for col in keys:
        codes, n = _codes(frame, col)
        key = key * max(n, 1) + codes
    return key


def _take(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    return frame.loc[keep].reset_index(drop=True)


def deduplicate(
    frame: pd.DataFrame, keys: Sequence[str] = ("user_id", "item_id"), keep: DedupeKeep = "last"
) -> Cleaned:
    """One row per distinct ``keys``.

    ``last``/``first``: the latest/earliest row by timestamp (ties by file order). ``sum``/``max``/``mean``:
    the latest row with its value replaced by the aggregate of the group's values; ``count``: by the number of
    rows in the group.
    """
    n = len(frame)
    if n == 0:
        return Cleaned(frame.reset_index(drop=True), 0)
    key = _pair_key(frame, keys)
    order = np.argsort(frame["timestamp"].to_numpy(), kind="stable")
    sorted_key = pd.Series(key[order])
    chosen = sorted_key.duplicated(keep="first" if keep == "first" else "last").to_numpy()
    mask = np.zeros(n, bool)
    mask[order[~chosen]] = True
    out = _take(frame, mask)
    if keep in ("sum", "max", "mean", "count"):
        _, group = np.unique(key, return_inverse=True)
        values = frame["value"].to_numpy(np.float64)
        if keep == "count":
            agg = np.bincount(group).astype(np.float64)
        elif keep == "sum":
            agg = np.bincount(group, weights=values)
        elif keep == "mean":
            agg = np.bincount(group, weights=values) / np.bincount(group)
        else:
            agg = np.full(group.max() + 1, -np.inf)
            np.maximum.at(agg, group, values)
        out["value"] = agg[group[mask]]
    return Cleaned(out, n - len(out))


def filter_min_value(frame: pd.DataFrame, threshold: float, events: Sequence[str] | None = None) -> Cleaned:
    """Keep rows with ``value >= threshold``. With ``events``, only rows of those event types are tested
    (e.g. ``("rating",)``); other rows are kept."""
    values = frame["value"].to_numpy(np.float64)
    keep = values >= threshold
    if events is not None:
        keep |= ~frame["event"].isin(list(events)).to_numpy()
    return Cleaned(_take(frame, keep), int((~keep).sum()))


def rating_midpoint(ratings: np.ndarray) -> float | None:
    """The middle of the rating scale that ``ratings`` use, taken to run from the lower of their lowest value and 1
    up to their highest: 3 on a 1-5 scale, 2.75 on MovieLens's 0.5-5 (so 3 stars and up), 5.5 on 1-10. None when
    there are no ratings."""
    ratings = np.asarray(ratings, dtype=np.float64)
    ratings = ratings[np.isfinite(ratings)]
    if len(ratings) == 0:
        return None
    return (min(float(ratings.min()), 1.0) + float(ratings.max())) / 2


def k_core(
    frame: pd.DataFrame,
    user_min: int = 0,
    item_min: int = 0,
    user_max: int | None = None,
    item_max: int | None = None,
    max_rounds: int | None = None,
) -> Cleaned:
    """Drop users and items whose number of rows lies outside [min, max], repeatedly, until stable.

    As RecBole's ``user_inter_num_interval`` / ``item_inter_num_interval``: each round counts rows per user
    and per item on what is left and removes every row of an out-of-range user or item at once. With only lower
    bounds the result is the unique maximal subgraph where every user has >= ``user_min`` rows and every item
    >= ``item_min`` (the order of removals does not matter).
    """
    n = len(frame)
    user, n_users = _codes(frame, "user_id")
    item, n_items = _codes(frame, "item_id")
    keep = np.ones(n, bool)
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        cu = np.bincount(user[keep], minlength=n_users)  # (n_users,)
        ci = np.bincount(item[keep], minlength=n_items)  # (n_items,)
        bad_user = cu < user_min
        bad_item = ci < item_min
        if user_max is not None:
            bad_user |= cu > user_max
        if item_max is not None:
            bad_item |= ci > item_max
        drop = keep & (bad_user[user] | bad_item[item])
        if not drop.any():
            break
        keep &= ~drop
        rounds += 1
    users_before, items_before = len(np.unique(user)), len(np.unique(item))
    users_after = len(np.unique(user[keep]))
    items_after = len(np.unique(item[keep]))
    return Cleaned(
        _take(frame, keep),
        int(n - keep.sum()),
        removed_users=users_before - users_after,
        removed_items=items_before - items_after,
        rounds=rounds,
    )


def to_implicit(frame: pd.DataFrame, weights: Mapping[str, float]) -> Cleaned:
    """Implicit feedback: each row's value becomes the weight of its event type, e.g.
    ``{"purchase": 5, "cart": 3, "click": 1}``. Rows whose event has no weight, or weight 0, are removed and
    counted per event type in ``detail`` (``removed_<event>``)."""
    for event, w in weights.items():
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"implicit weight for {event!r} must be a finite number >= 0, got {w}")
    w = frame["event"].map(dict(weights)).to_numpy(np.float64, na_value=np.nan)
    keep = np.nan_to_num(w, nan=0.0) > 0
    dropped = frame.loc[~keep, "event"].value_counts()
    out = _take(frame, keep)
    out["value"] = w[keep]
    detail = {f"removed_{e}": int(c) for e, c in dropped.items()}
    return Cleaned(out, int((~keep).sum()), detail=detail)
