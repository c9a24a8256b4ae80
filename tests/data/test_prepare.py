"""Dataset from files, preparation, and the save/load round trips."""

import numpy as np
import pandas as pd
import pytest

from fathom.data.dataset import Dataset
from fathom.data.loading import LoadConfig
from fathom.data.prepare import PrepareConfig, PreparedData, clean_events, prepare
from fathom.data.records import EventTable


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for u in range(12):
        for i in rng.choice(20, size=int(rng.integers(2, 15)), replace=False):
            rows.append((f"user{u}", f"item{i}", int(rng.integers(1, 6)), int(rng.integers(0, 1000))))
    events = tmp_path / "ratings.csv"
    pd.DataFrame(rows, columns=["uid", "iid", "stars", "time"]).to_csv(events, index=False)
    catalog = tmp_path / "items.tsv"
    items = [(f"item{i}", f"Title {i}", "a|b" if i % 2 else "c", 10.0 + i) for i in range(1, 25)]  # no item0
    pd.DataFrame(items, columns=["item_id", "title", "tags", "price"]).to_csv(catalog, index=False, sep="\t")
    users = tmp_path / "users.jsonl"
    users.write_text("".join(f'{{"user_id": "user{u}", "age": {20 + u}}}\n' for u in range(12)))
    return events, catalog, users


def load(files):
    events, catalog, users = files
    return Dataset.from_files(
        events, catalog, users, name="toy",
        events_config=LoadConfig(columns={"uid": "user_id", "iid": "item_id", "stars": "value", "time": "timestamp"}),
        catalog_config=LoadConfig(kinds={"tags": "list", "price": "float"}),
    )


def test_dataset_from_files_and_its_round_trip(files, tmp_path):
    ds = load(files)
    assert ds.name == "toy" and set(ds.reports) == {"events", "catalog", "users"}
    assert all(r.ok for r in ds.reports.values())
    summary = ds.summary()
    assert summary["users"] == 12 and summary["catalog_items"] == 24 and summary["user_profiles"] == 12
    assert summary["events_without_catalog_item"] == int((ds.events.frame["item_id"] == "item0").sum())
    ds.save(tmp_path / "saved")
    back = Dataset.load(tmp_path / "saved")
    pd.testing.assert_frame_equal(back.events.frame, ds.events.frame)
    pd.testing.assert_frame_equal(back.catalog.frame, ds.catalog.frame)
    pd.testing.assert_frame_equal(back.users.frame, ds.users.frame)


def test_prepare_codes_every_kept_event_and_reindexes_side_tables(files):
    ds = load(files)
    config = PrepareConfig(min_rating=2, user_core=3, item_core=2, split="random", seed=1)
    prepared = prepare(ds, config)
    cleaned, stats = clean_events(ds.events.frame, config)
    assert prepared.stats == {**stats, **{k: prepared.stats[k] for k in prepared.stats if k not in stats}}
    assert stats["events_out"] == len(cleaned) == sum(prepared.split.sizes().values())
    assert stats["removed_below_min_rating"] == int((ds.events.frame["value"] < 2).sum())
    # decoding the three parts gives back exactly the cleaned events
    all_ = prepared.all_interactions()
    decoded = sorted(zip(prepared.user_vocab.decode(all_.user), prepared.item_vocab.decode(all_.item), strict=True))
    assert decoded == sorted(zip(cleaned["user_id"], cleaned["item_id"], strict=True))
    assert prepared.user_vocab.ids.tolist() == list(pd.unique(cleaned["user_id"]))  # first appearance
    # catalog row i describes item index i; item0 has no catalogue row and gets empty values
    cat = prepared.catalog.frame
    assert cat["item_id"].tolist() == prepared.item_vocab.ids.tolist()
    row = cat.iloc[prepared.item_vocab.index("item0")]
    assert row["title"] == "" and row["tags"] == [] and np.isnan(row["price"])
    assert prepared.stats["items_without_catalog_row"] == 1
    row = cat.iloc[prepared.item_vocab.index("item3")]
    assert row["title"] == "Title 3" and row["tags"] == ["a", "b"] and row["price"] == 13.0
    assert prepared.users.frame["user_id"].tolist() == prepared.user_vocab.ids.tolist()
    assert prepared.stats["catalog_rows_dropped"] == 24 - (len(prepared.item_vocab) - prepared.stats[
        "items_without_catalog_row"])
    summary = prepared.summary()
    assert summary["users"] == len(prepared.user_vocab) and summary["interactions"]["total"] == len(cleaned)
    assert summary["density"] == pytest.approx(len(cleaned) / (summary["users"] * summary["items"]))


def test_prepare_is_deterministic_and_seed_dependent(files):
    ds = load(files)
    a = prepare(ds, PrepareConfig(seed=3))
    b = prepare(ds, PrepareConfig(seed=3))
    c = prepare(ds, PrepareConfig(seed=4))
    assert np.array_equal(a.test.item, b.test.item) and np.array_equal(a.test.user, b.test.user)
    assert not (np.array_equal(a.test.item, c.test.item) and np.array_equal(a.test.user, c.test.user))


def test_implicit_weights_and_loo(tmp_path):
    frame = pd.DataFrame({
        "user_id": ["u", "u", "u", "u", "v"],
        "item_id": ["a", "b", "c", "d", "a"],
        "event": ["purchase", "click", "view", "cart", "click"],
        "value": 1.0,
        "timestamp": [1, 2, 3, 4, 5],
    })
    ds = Dataset("shop", EventTable(frame))
    prepared = prepare(ds, PrepareConfig(implicit={"purchase": 5, "cart": 3, "click": 1}, split="loo"))
    assert prepared.stats["removed_unweighted_events"] == 1
    assert sorted(prepared.all_interactions().value.tolist()) == [1, 1, 3, 5]
    test_items = prepared.item_vocab.decode(prepared.test.item).tolist()
    assert test_items == ["d"]  # u's latest kept event; v has one row and keeps it in train
    assert prepared.item_vocab.decode(prepared.valid.item).tolist() == ["b"]


def test_float32_timestamps_order_close_events_by_input_order():
    # 978300740 is a 2000-era Unix time: float32 steps there are 64 s, so b (10 s after c) and c tie once rounded
    frame = pd.DataFrame({
        "user_id": ["u"] * 4,
        "item_id": ["a", "b", "c", "d"],
        "event": "rating",
        "value": 5.0,
        "timestamp": [978_300_000, 978_300_750, 978_300_740, 978_299_000],
    })
    ds = Dataset("times", EventTable(frame))
    exact = prepare(ds, PrepareConfig(split="loo"))
    assert exact.item_vocab.decode(exact.test.item).tolist() == ["b"]  # the latest by the exact time
    rounded = prepare(ds, PrepareConfig(split="loo", timestamps="float32"))
    assert rounded.item_vocab.decode(rounded.test.item).tolist() == ["c"]  # b and c tie: c comes later in the file
    assert rounded.item_vocab.decode(rounded.valid.item).tolist() == ["b"]
    assert rounded.test.timestamp.tolist() == [978_300_736]  # the float32 nearest to both
    with pytest.raises(ValueError, match="timestamps"):
        PrepareConfig(timestamps="float16")


def test_prepared_data_round_trip(files, tmp_path):
    prepared = prepare(load(files), PrepareConfig(min_rating=2))
    prepared.save(tmp_path / "prep")
    assert not list((tmp_path / "prep").glob("*.pkl"))
    back = PreparedData.load(tmp_path / "prep")
    assert back.config == prepared.config and back.stats == prepared.stats and back.name == "toy"
    assert back.user_vocab == prepared.user_vocab and back.item_vocab == prepared.item_vocab
    for part in ("train", "valid", "test"):
        x, y = getattr(prepared, part), getattr(back, part)
        for arr in ("user", "item", "value", "timestamp"):
            assert np.array_equal(getattr(x, arr), getattr(y, arr)) and getattr(x, arr).dtype == getattr(y, arr).dtype
        assert (x.n_users, x.n_items) == (y.n_users, y.n_items)
    pd.testing.assert_frame_equal(back.catalog.frame, prepared.catalog.frame)
    assert back.summary() == prepared.summary()


def test_config_presets_and_validation():
    general = PrepareConfig.recbole_general()
    assert (general.min_rating, general.user_core, general.item_core, general.split, general.ratios) == (
        3.0, 10, 10, "random", (0.8, 0.1, 0.1))
    assert (general.shuffle, general.timestamps) == ("torch", "exact")
    seq = PrepareConfig.recbole_seq()
    assert (seq.min_rating, seq.user_core, seq.split, seq.shuffle, seq.timestamps) == (3.0, 10, "loo", "numpy",
                                                                                      "float32")
    assert PrepareConfig.from_json(seq.to_json()) == seq
    ml = PrepareConfig.movielens_100k()
    assert ml.implicit == {"rating": 1.0} and ml.min_rating is None and ml.seed == 2020
    assert PrepareConfig.from_json(ml.to_json()) == ml
    with pytest.raises(ValueError):
        PrepareConfig(user_kore=5)
    with pytest.raises(ValueError):
        PrepareConfig(ratios=(0.5, 0.2, 0.2, 0.1))
    with pytest.raises(ValueError):
        PrepareConfig(implicit={"like": 1.0})


def test_prepare_without_side_tables_and_empty_result():
    frame = pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "event": ["rating"], "value": [1.0], "timestamp": [0]})
    ds = Dataset("tiny", EventTable(frame))
    prepared = prepare(ds, PrepareConfig())
    assert prepared.catalog is None and prepared.users is None and len(prepared.train) == 1
    with pytest.raises(ValueError, match="no events left"):
        prepare(ds, PrepareConfig(min_rating=3))
