"""Cleaning steps: known answers on small frames."""

import numpy as np
import pandas as pd
import pytest

from fathom.data.cleaning import deduplicate, filter_min_value, k_core, to_implicit


def events(rows):
    """rows: (user, item, event, value, timestamp)."""
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event", "value", "timestamp"])


def pairs(frame):
    return sorted(zip(frame["user_id"], frame["item_id"], strict=True))


def test_k_core_cascades_until_stable():
    # u4 has one row -> goes; then item c has one row -> goes; then u3 has one row -> goes. a/b x u1/u2 stay.
    frame = events([
        ("u1", "a", "rating", 1, 0), ("u1", "b", "rating", 1, 0),
        ("u2", "a", "rating", 1, 0), ("u2", "b", "rating", 1, 0),
        ("u3", "b", "rating", 1, 0), ("u3", "c", "rating", 1, 0),
        ("u4", "c", "rating", 1, 0),
    ])
    res = k_core(frame, user_min=2, item_min=2)
    assert pairs(res.frame) == [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")]
    assert (res.removed_rows, res.removed_users, res.removed_items, res.rounds) == (3, 2, 1, 3)
    # a single pass would have kept u3-b and u3-c
    one = k_core(frame, user_min=2, item_min=2, max_rounds=1)
    assert one.removed_rows == 1 and one.rounds == 1


def test_k_core_users_only_and_upper_bound():
    frame = events([("u1", "a", "click", 1, 0), ("u1", "b", "click", 1, 0), ("u2", "a", "click", 1, 0)])
    assert pairs(k_core(frame, user_min=2).frame) == [("u1", "a"), ("u1", "b")]
    assert pairs(k_core(frame, user_max=1).frame) == [("u2", "a")]
    assert k_core(frame).removed_rows == 0


def _core_one_vertex_at_a_time(edges, user_min, item_min):
    """Reference: remove one violating user or item at a time (Python sets) until none is left."""
    edges = set(edges)
    while True:
        users = pd.Series([u for u, _ in edges]).value_counts()
        items = pd.Series([i for _, i in edges]).value_counts()
        bad_users = users[users < user_min].index
        if len(bad_users):
            edges = {e for e in edges if e[0] != bad_users[0]}
            continue
        bad_items = items[items < item_min].index
        if len(bad_items):
            edges = {e for e in edges if e[1] != bad_items[0]}
            continue
        return edges


def test_k_core_matches_a_one_at_a_time_reference():
    rng = np.random.default_rng(0)
    # a dense block among the first 12 users/items plus a sparse fringe: removals cascade over several rounds
    ui = np.concatenate([rng.integers(0, 12, size=(100, 2)), rng.integers(0, 40, size=(200, 2))])
    frame = events([(f"u{u}", f"i{i}", "click", 1, 0) for u, i in ui]).drop_duplicates(["user_id", "item_id"])
    res = k_core(frame, user_min=5, item_min=4)
    expected = _core_one_vertex_at_a_time(pairs(frame), 5, 4)
    assert 0 < len(expected) < len(frame) and res.rounds > 2
    assert set(pairs(res.frame)) == expected
    assert res.removed_rows == len(frame) - len(expected)


def test_deduplicate_keep_last_first_and_aggregates():
    frame = events([
        ("u", "i", "rating", 2, 50),  # the latest (u, i) rating, first in the file
        ("u", "i", "rating", 5, 10),
        ("u", "j", "rating", 4, 20),
        ("u", "i", "rating", 3, 30),
    ])
    last = deduplicate(frame, keep="last")
    assert last.removed_rows == 2
    assert last.frame[["item_id", "value", "timestamp"]].values.tolist() == [["i", 2, 50], ["j", 4, 20]]
    first = deduplicate(frame, keep="first").frame
    assert first[["item_id", "value", "timestamp"]].values.tolist() == [["i", 5, 10], ["j", 4, 20]]
    assert deduplicate(frame, keep="sum").frame["value"].tolist() == [10, 4]
    assert deduplicate(frame, keep="max").frame["value"].tolist() == [5, 4]
    assert deduplicate(frame, keep="mean").frame["value"].tolist() == pytest.approx([10 / 3, 4])
    assert deduplicate(frame, keep="count").frame["value"].tolist() == [3, 1]


def test_deduplicate_per_event_keeps_distinct_events():
    frame = events([("u", "i", "click", 1, 1), ("u", "i", "purchase", 1, 2), ("u", "i", "click", 1, 3)])
    assert deduplicate(frame, keys=("user_id", "item_id", "event")).frame["event"].tolist() == [
        "purchase", "click"]
    assert deduplicate(frame).frame["event"].tolist() == ["click"]


def test_ties_in_time_keep_file_order():
    frame = events([("u", "i", "click", 1, 5), ("u", "i", "click", 2, 5)])
    assert deduplicate(frame, keep="last").frame["value"].tolist() == [2]
    assert deduplicate(frame, keep="first").frame["value"].tolist() == [1]


def test_filter_min_value():
    frame = events([("u", "a", "rating", 2, 0), ("u", "b", "rating", 3, 0), ("u", "c", "click", 1, 0)])
    res = filter_min_value(frame, 3)
    assert res.frame["item_id"].tolist() == ["b"] and res.removed_rows == 2
    res = filter_min_value(frame, 3, events=("rating",))
    assert res.frame["item_id"].tolist() == ["b", "c"] and res.removed_rows == 1


def test_to_implicit_weights_events_and_counts_what_it_drops():
    frame = events([
        ("u", "a", "purchase", 1, 0), ("u", "b", "cart", 1, 0), ("u", "c", "click", 1, 0),
        ("u", "d", "view", 1, 0), ("u", "e", "view", 1, 0),
    ])
    res = to_implicit(frame, {"purchase": 5, "cart": 3, "click": 1})
    assert res.frame["value"].tolist() == [5, 3, 1]
    assert res.removed_rows == 2 and res.detail == {"removed_view": 2}
    assert res.counts() == {"removed_rows": 2, "removed_view": 2}
    with pytest.raises(ValueError, match="finite number"):
        to_implicit(frame, {"click": -1})


def test_steps_do_not_modify_their_input():
    frame = events([("u", "i", "rating", 2, 0), ("u", "i", "rating", 4, 1)])
    before = frame.copy()
    deduplicate(frame, keep="sum")
    to_implicit(frame, {"rating": 1})
    pd.testing.assert_frame_equal(frame, before)
