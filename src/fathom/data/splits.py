"""Train / validation / test splits of :class:`~fathom.data.interactions.Interactions`, deterministic by seed.

- :func:`split_random`: per user, a random share of the user's rows to each part, with RecBole 1.2.1's
  ``split_by_ratio`` counts (see :func:`ratio_counts`). With ``shuffle="torch"`` the rows are shuffled as RecBole
  1.2.1 shuffles them (``torch.randperm`` over the rows in input order, seeded), so the same rows in the same
  order with the same seed give exactly RecBole's split.
- :func:`split_temporal`: one global timeline, sorted by timestamp and cut by ratio.
- :func:`split_leave_one_out`: per user, the latest row to test and the one before to validation.

Each part keeps the full ``n_users`` / ``n_items`` of its input, so indices mean the same in all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fathom.data.interactions import Interactions

SplitMethod = Literal["random", "temporal", "loo"]
Shuffle = Literal["numpy", "torch"]


@dataclass(frozen=True, eq=False)
class Split:
    """Three disjoint parts of one set of interactions; ``valid`` may be empty."""

    train: Interactions
    valid: Interactions
    test: Interactions

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def _normalise(ratios: Sequence[float]) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    if r.ndim != 1 or len(r) not in (2, 3) or (r < 0).any() or r.sum() <= 0 or r[0] <= 0:
        raise ValueError(f"ratios must be 2 or 3 non-negative numbers with a positive first, got {list(ratios)}")
    total = float(sum(float(x) for x in ratios))
    return np.array([float(x) / total for x in ratios])  # as RecBole: each ratio over the Python sum


def ratio_counts(n: np.ndarray | int, ratios: Sequence[float]) -> np.ndarray:
    """Rows per part for groups of ``n`` rows: RecBole 1.2.1's ``_calcu_split_ids``, vectorised.

    For each n: ``cnt = [int(r * n) for r in ratios]``; ``cnt[0] = n - sum(cnt[1:])``; then for
    i = 1..len(ratios)-1: stop if ``cnt[0] <= 1``; if ``0 < ratios[-i] * n < 1``: move one row from part 0 to
    part -i. So n=10 -> 8/1/1, n=5 -> 3/1/1, n=2 -> 1/0/1, n=1 -> 1/0/0 for ratios (0.8, 0.1, 0.1).

    n: (G,) int or a scalar. Returns (G, k) int64 (or (k,) for a scalar).
    """
    r = _normalise(ratios)
    scalar = np.ndim(n) == 0
    nn = np.atleast_1d(np.asarray(n, dtype=np.int64))
    k = len(r)
    exact = r[None, :] * nn[:, None].astype(np.float64)  # (G, k)
    cnt = exact.astype(np.int64)  # truncation, as int()
    cnt[:, 0] = nn - cnt[:, 1:].sum(axis=1)
    for i in range(1, k):
        # cnt[:, 0] only decreases, so "break once cnt[0] <= 1" is the same as testing it at every step
        move = (cnt[:, 0] > 1) & (exact[:, -i] > 0) & (exact[:, -i] < 1)
        cnt[move, k - i] += 1
        cnt[move, 0] -= 1
    return cnt[0] if scalar else cnt


def _parts_from_rank(rank: np.ndarray, group_counts: np.ndarray) -> np.ndarray:
    """Part (0, 1, 2) of each row given its rank within its group and the group's (k,) counts per row."""
    bounds = np.cumsum(group_counts, axis=1)  # (N, k)
    return (rank[:, None] >= bounds[:, :-1]).sum(axis=1)


def _assemble(inter: Interactions, part: np.ndarray, k: int) -> Split:
    empty = np.zeros(len(inter), bool)
    pieces = [inter.subset(np.flatnonzero(part == j)) for j in range(k)]
    if k == 2:
        pieces = [pieces[0], inter.subset(empty), pieces[1]]
    return Split(*pieces)


def row_permutation(n: int, seed: int, shuffle: Shuffle = "numpy") -> np.ndarray:
    """(n,) int64 random order of ``n`` rows, fixed by ``seed``.

    ``numpy``: ``np.random.default_rng(seed).permutation(n)``. ``torch``: ``torch.randperm(n)`` after
    ``torch.manual_seed(seed)``, which is how RecBole 1.2.1 orders the rows before a random split
    (``eval_args.order: RO``; its ``init_seed`` runs just before, so no other draw comes first).
    """
    if shuffle == "numpy":
        return np.random.default_rng(seed).permutation(n)
    if shuffle == "torch":
        import torch

        return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    raise ValueError(f"unknown shuffle {shuffle!r}; expected numpy or torch")


def split_random(
    inter: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 2020, shuffle: Shuffle = "numpy"
) -> Split:
    """Per user: shuffle the user's rows, give ``ratio_counts`` of them to train / valid / test.

    ``ratios`` of length 2 means (train, test) with an empty valid. Rows keep their input order within each part.
    ``shuffle`` picks the random order of all rows (:func:`row_permutation`); a user's rows go to the parts in
    the order that permutation puts them, as RecBole's ``split_by_ratio(group_by=user)`` assigns them.
    """
    n = len(inter)
    k = len(_normalise(ratios))
    perm = row_permutation(n, seed, shuffle)  # a random order of all rows ...
    order = perm[np.argsort(inter.user[perm], kind="stable")]  # ... grouped by user, random within a user
    users_sorted = inter.user[order]
    sizes = np.bincount(users_sorted, minlength=inter.n_users)  # (n_users,)
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(n) - starts[users_sorted]  # position within the user's shuffled rows
    counts = ratio_counts(sizes, ratios)  # (n_users, k)
    part = np.empty(n, np.int64)
    part[order] = _parts_from_rank(rank, counts[users_sorted])
    return _assemble(inter, part, k)


def _time_order(inter: Interactions) -> np.ndarray:
    return np.argsort(inter.timestamp, kind="stable")  # ties keep input order


def cut_order(inter: Interactions, order: np.ndarray, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """Rows taken in ``order`` ((n,) a permutation of the rows), cut into consecutive parts sized by
    ``ratio_counts(n, ratios)`` (RecBole's ``split_by_ratio`` with ``group_by=None``); rows keep their input
    order within each part. ``ratios`` of length 2 means (train, test) with an empty valid."""
    k = len(_normalise(ratios))
    counts = ratio_counts(len(inter), ratios)  # (k,)
    part = np.empty(len(inter), np.int64)
    part[order] = np.repeat(np.arange(k), counts)  # the i-th row of the order goes to the part i falls in
    return _assemble(inter, part, k)


def split_temporal(inter: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """One global timeline: the earliest rows to train, then valid, then test, sized by ``ratio_counts``.

    Rows with equal timestamps keep their input order, so a cut may fall between rows of the same second.
    """
    return cut_order(inter, _time_order(inter), ratios)


def split_leave_one_out(inter: Interactions, valid: bool = True) -> Split:
    """Per user, by time: the latest row to test, the one before to valid (when ``valid``), the rest to train.

    As RecBole's leave-one-out: a user keeps at least one row in train, so a user with 2 rows gives 1 to train
    and 1 to test, and a user with 1 row keeps it in train. Ties in time keep input order.
    """
    n = len(inter)
    leave = 2 if valid else 1
    order = _time_order(inter)
    order = order[np.argsort(inter.user[order], kind="stable")]  # by user, then time
    users_sorted = inter.user[order]
    sizes = np.bincount(users_sorted, minlength=inter.n_users)
    ends = np.cumsum(sizes)
    from_end = ends[users_sorted] - np.arange(n)  # 1 for a user's latest row
    held = np.minimum(leave, sizes - 1)[users_sorted]  # rows this user leaves out
    part_sorted = np.zeros(n, np.int64)
    out = from_end <= held
    # the last held row goes to test (part 2), an earlier one to valid (part 1)
    part_sorted[out & (from_end == 1)] = 2
    part_sorted[out & (from_end == 2)] = 1
    part = np.empty(n, np.int64)
    part[order] = part_sorted
    return _assemble(inter, part, 3)


def split(
    inter: Interactions,
    method: SplitMethod = "random",
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2020,
    shuffle: Shuffle = "numpy",
) -> Split:
    """Dispatch on ``method``; ``ratios`` apply to random and temporal, ``seed`` and ``shuffle`` to random; for
    "loo" a length-2 ``ratios`` means no validation part."""
    if method == "random":
        return split_random(inter, ratios, seed, shuffle)
    if method == "temporal":
        return split_temporal(inter, ratios)
    if method == "loo":
        return split_leave_one_out(inter, valid=len(ratios) != 2)
    raise ValueError(f"unknown split method {method!r}; expected random, temporal or loo")
