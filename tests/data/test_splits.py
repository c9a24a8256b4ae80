"""Splits: RecBole's per-user counts, determinism, disjointness, temporal order, leave-one-out."""

import numpy as np
import pytest
import torch

from fathom.data.interactions import Interactions
from fathom.data.splits import ratio_counts, split, split_leave_one_out, split_random, split_temporal


def recbole_calcu_split_ids(tot, ratios):
    """RecBole 1.2.1 Dataset._calcu_split_ids (counts rather than cut points), written as RecBole does."""
    tot_ratio = sum(ratios)
    ratios = [_ / tot_ratio for _ in ratios]
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


@pytest.mark.parametrize(("n", "expected"), [(10, [8, 1, 1]), (5, [3, 1, 1]), (4, [2, 1, 1]), (3, [1, 1, 1]),
                                             (2, [1, 0, 1]), (1, [1, 0, 0]), (0, [0, 0, 0]), (20, [16, 2, 2])])
def test_ratio_counts_hand_cases(n, expected):
    assert ratio_counts(n, (0.8, 0.1, 0.1)).tolist() == expected


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (8, 1, 1), (0.7, 0.2, 0.1), (0.6, 0.2, 0.2), (0.8, 0.2),
                                    (0.9, 0.05, 0.05)])
def test_ratio_counts_equal_recbole_for_every_n(ratios):
    ns = np.arange(0, 400)
    expected = [recbole_calcu_split_ids(int(n), list(ratios)) for n in ns]
    assert ratio_counts(ns, ratios).tolist() == expected


def random_interactions(n_users=50, n_items=80, seed=0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 30, size=n_users)
    user = np.repeat(np.arange(n_users), sizes)
    item = np.concatenate([rng.choice(n_items, size=s, replace=False) for s in sizes])
    ts = rng.integers(0, 10_000, size=len(user))
    perm = rng.permutation(len(user))  # users interleaved, as in a log file
    return Interactions.from_arrays(user[perm], item[perm], n_users, n_items, timestamp=ts[perm])


def rows(inter):
    return set(zip(inter.user.tolist(), inter.item.tolist(), strict=True))


def test_random_split_counts_per_user_are_recboles():
    inter = random_interactions()
    parts = split_random(inter, (0.8, 0.1, 0.1), seed=7)
    for u in range(inter.n_users):
        n = int((inter.user == u).sum())
        got = [int((p.user == u).sum()) for p in (parts.train, parts.valid, parts.test)]
        assert got == recbole_calcu_split_ids(n, [0.8, 0.1, 0.1])


def test_random_split_is_a_partition_and_deterministic_by_seed():
    inter = random_interactions()
    a = split_random(inter, seed=1)
    b = split_random(inter, seed=1)
    c = split_random(inter, seed=2)
    parts = (a.train, a.valid, a.test)
    assert sum(len(p) for p in parts) == len(inter)
    assert rows(a.train) | rows(a.valid) | rows(a.test) == rows(inter)
    assert not (rows(a.train) & rows(a.test)) and not (rows(a.train) & rows(a.valid)) and not (
        rows(a.valid) & rows(a.test))
    for x, y in zip((a.train, a.valid, a.test), (b.train, b.valid, b.test), strict=True):
        assert np.array_equal(x.user, y.user) and np.array_equal(x.item, y.item)
    assert rows(a.test) != rows(c.test)
    assert a.train.n_users == inter.n_users and a.test.n_items == inter.n_items
    assert a.sizes() == {"train": len(a.train), "valid": len(a.valid), "test": len(a.test)}


def recbole_split_by_ratio(inter, ratios, seed):
    """RecBole 1.2.1's order RO + split_by_ratio(group_by=user), written as RecBole does: (train, valid, test)
    row index lists."""
    with torch.random.fork_rng():  # leave the test process's global generator as it was
        torch.manual_seed(seed)  # init_seed, then Interaction.shuffle
        index = torch.randperm(len(inter)).numpy()
    grouped = {}  # Dataset._grouped_index over the shuffled rows
    for i, key in enumerate(inter.user[index].tolist()):
        grouped.setdefault(key, []).append(i)
    parts = [[], [], []]
    for rows_of_user in grouped.values():
        cuts = np.cumsum(recbole_calcu_split_ids(len(rows_of_user), ratios))[:-1]
        for j, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(rows_of_user)], strict=True)):
            parts[j] += [int(index[r]) for r in rows_of_user[a:b]]
    return [sorted(p) for p in parts]


@pytest.mark.parametrize("seed", [2020, 5])
def test_torch_shuffle_gives_recboles_split(seed):
    inter = random_interactions(seed=seed)
    got = split_random(inter, (0.8, 0.1, 0.1), seed=seed, shuffle="torch")
    expected = recbole_split_by_ratio(inter, [0.8, 0.1, 0.1], seed)
    for part, rows_expected in zip((got.train, got.valid, got.test), expected, strict=True):
        assert rows(part) == rows(inter.subset(np.array(rows_expected, dtype=np.int64)))
    numpy_split = split_random(inter, (0.8, 0.1, 0.1), seed=seed)
    assert rows(numpy_split.test) != rows(got.test)  # a different random order from numpy's default
    with pytest.raises(ValueError, match="shuffle"):
        split_random(inter, seed=seed, shuffle="python")


def test_random_split_keeps_values_and_timestamps_with_their_rows():
    inter = random_interactions()
    value = (inter.user * 1000 + inter.item).astype(np.float32)
    inter = Interactions(inter.user, inter.item, value, inter.timestamp, inter.n_users, inter.n_items)
    for p in split_random(inter, seed=3).__dict__.values():
        assert np.array_equal(p.value, (p.user * 1000 + p.item).astype(np.float32))


def test_two_ratios_leave_valid_empty():
    inter = random_interactions()
    parts = split_random(inter, (0.8, 0.2), seed=0)
    assert len(parts.valid) == 0 and len(parts.train) + len(parts.test) == len(inter)
    with pytest.raises(ValueError):
        split_random(inter, (0.5, 0.2, 0.2, 0.1))


def test_temporal_split_cuts_one_timeline():
    inter = random_interactions()
    parts = split_temporal(inter, (0.7, 0.2, 0.1))
    assert [len(parts.train), len(parts.valid), len(parts.test)] == recbole_calcu_split_ids(len(inter),
                                                                                           [0.7, 0.2, 0.1])
    assert parts.train.timestamp.max() <= parts.valid.timestamp.min()
    assert parts.valid.timestamp.max() <= parts.test.timestamp.min()


def test_leave_one_out_by_time():
    # user 0: five rows (times given out of order); user 1: two rows; user 2: one row
    user = np.array([0, 0, 0, 0, 0, 1, 1, 2])
    item = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    ts = np.array([50, 10, 40, 20, 30, 7, 3, 1])
    inter = Interactions.from_arrays(user, item, 3, 5, timestamp=ts)
    parts = split_leave_one_out(inter)
    assert sorted(rows(parts.test)) == [(0, 0), (1, 0)]  # each user's latest
    assert sorted(rows(parts.valid)) == [(0, 2)]  # user 0's second latest; user 1 keeps one row in train
    assert sorted(rows(parts.train)) == [(0, 1), (0, 3), (0, 4), (1, 1), (2, 2)]
    no_valid = split_leave_one_out(inter, valid=False)
    assert len(no_valid.valid) == 0 and sorted(rows(no_valid.test)) == [(0, 0), (1, 0)]
    assert rows(split(inter, "loo", (0.8, 0.2)).test) == rows(no_valid.test)


def test_dispatch():
    inter = random_interactions()
    assert rows(split(inter, "random", (0.8, 0.1, 0.1), seed=5).test) == rows(split_random(inter, seed=5).test)
    assert rows(split(inter, "temporal").test) == rows(split_temporal(inter).test)
    with pytest.raises(ValueError, match="unknown split method"):
        split(inter, "bogus")
