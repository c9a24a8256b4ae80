"""The text data sets' loader and protocols: known answers on a small folder in the shared-data layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fathom.benchmarks.text_data import (
    HistoryScorer,
    cold_item_split,
    history_buckets,
    load_text_data,
    loo_split,
)
from fathom.models.ease import EASE


@pytest.fixture
def folder(tmp_path):
    """12 users with 4-8 items each (positions as timestamps) over 30 items with titles and brands."""
    root = tmp_path / "data"
    (root / "amazon_scientific").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,timestamp"]
    for u in range(12):
        for pos, item in enumerate(rng.choice(30, size=4 + u % 5, replace=False)):
            lines.append(f"{100 + u},{item * 10},{pos}")
    (root / "amazon_scientific" / "interactions.csv").write_text("\n".join(lines) + "\n")
    items = [{"item_id": i * 10, "title": f"Item {i}", "description": "", "brand": "B" if i % 2 else "",
              "categories": "Tools,Staples"} for i in range(30)]
    (root / "amazon_scientific" / "items.jsonl").write_text("\n".join(json.dumps(r) for r in items) + "\n")
    return root


def test_load_reindexes_ids_and_renders_the_product_template(folder):
    data = load_text_data("amazon_scientific", folder)
    assert (data.inter.n_users, data.inter.n_items) == (12, 30)
    assert data.item_ids[3] == 30 and data.user_ids[0] == 100
    assert data.texts()[1] == "title: Item 1; brand: B; categories: Tools,Staples"
    assert data.texts()[2] == "title: Item 2; categories: Tools,Staples"  # empty fields are left out


def test_a_missing_folder_or_item_is_named(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="ml100k_imdb: not found"):
        load_text_data("ml100k_imdb", folder)
    with pytest.raises(ValueError, match="unknown data set"):
        load_text_data("nope", folder)
    path = folder / "amazon_scientific" / "interactions.csv"
    path.write_text(path.read_text() + "999,12345,99\n")
    with pytest.raises(ValueError, match="1 items missing from items.jsonl"):
        load_text_data("amazon_scientific", folder)


def test_loo_and_cold_item_splits(folder):
    inter = load_text_data("amazon_scientific", folder).inter
    split = loo_split(inter)
    assert len(split.test) == len(split.valid) == 12 and len(split.train) == len(inter) - 24
    last = {int(u): int(i) for u, i, t in zip(inter.user, inter.item, inter.timestamp, strict=True)
            if t == np.bincount(inter.user)[u] - 1}
    assert {int(u): int(i) for u, i in zip(split.test.user, split.test.item, strict=True)} == last
    cold = cold_item_split(inter, 0.2, seed=1)
    assert len(cold.cold_items) == 6
    assert not np.isin(cold.train.item, cold.cold_items).any() and not np.isin(cold.valid.item, cold.cold_items).any()
    assert np.isin(cold.cold_test.item, cold.cold_items).all() and not np.isin(cold.warm_test.item,
                                                                                 cold.cold_items).any()
    assert len(cold.cold_test) + len(cold.warm_test) == len(split.test) == len(cold.test)
    with pytest.raises(ValueError, match="share"):
        cold_item_split(inter, 1.0)


def test_history_buckets_and_the_history_scorer(folder):
    inter = load_text_data("amazon_scientific", folder).inter
    split = loo_split(inter)
    buckets = history_buckets(split.train, edges=(3, 4))
    lengths = np.bincount(split.train.user, minlength=12)
    assert buckets["1-3"].tolist() == np.flatnonzero(lengths <= 3).tolist()
    assert sorted(np.concatenate(list(buckets.values())).tolist()) == list(range(12))
    model = EASE(reg=1.0, keep=None).fit(split.train)
    scores = HistoryScorer(model, split.train, split.valid).score(np.array([0, 5]))
    for row, u in enumerate((0, 5)):  # exact fold-in of the train items plus the validation item
        seen = np.concatenate([split.train.item[split.train.user == u], split.valid.item[split.valid.user == u]])
        np.testing.assert_allclose(scores[row], model.weights[np.unique(seen)].sum(axis=0), rtol=1e-5, atol=1e-6)
