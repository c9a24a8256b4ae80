"""FM: conformance, the pairwise term against brute force, the fast all-item scores, pointwise training data
(negative ratio, class weights, re-sampling) and a known answer that only side features can give."""

import itertools

import numpy as np
import pytest
import torch

from fathom.data.features import FeatureField, SideFeatures
from fathom.data.interactions import Interactions
from fathom.metrics.pointwise import auc
from fathom.models.base import Recommender
from fathom.models.fm import FM, FieldLayout, FMConfig, FMNet, fm_interaction
from fathom.models.pointwise_data import (
    PointwiseConfig,
    PointwiseSource,
    PopularityNegativeSampler,
    class_weights,
    popularity_probabilities,
    resample_indices,
)
from fathom.models.registry import get_model_class
from tests.models.conformance import RecommenderConformance

FAST = {"epochs": 40, "batch_size": 64, "lr": 0.02, "init_std": 0.1, "progress": False}


class TestFMConformance(RecommenderConformance):
    model_name = "fm"
    config = FAST


# -- the maths --------------------------------------------------------------------------------------------
def test_pairwise_term_hand_example():
    # pairs: <(1,2),(3,-1)> = 1, <(1,2),(.5,4)> = 8.5, <(3,-1),(.5,4)> = -2.5 -> 7
    emb = torch.tensor([[[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]])
    assert fm_interaction(emb).tolist() == [7.0]


def test_pairwise_term_equals_brute_force_sum_over_field_pairs():
    emb = torch.randn(5, 6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    brute = torch.stack([
        sum(emb[b, f] @ emb[b, g] for f, g in itertools.combinations(range(6), 2)) for b in range(5)
    ])
    torch.testing.assert_close(fm_interaction(emb), brute)


def random_features(n_users: int, n_items: int, seed: int = 0) -> SideFeatures:
    rng = np.random.default_rng(seed)
    genres = rng.integers(0, 4, size=(n_items, 3))  # up to 3 genres of 3, 0 = padding
    genres[0] = 0  # an item without genres
    return SideFeatures(n_users, n_items, (
        FeatureField("gender", "user", ("F", "M"), rng.integers(0, 3, n_users), multi=False),
        FeatureField("genres", "item", ("A", "B", "C"), genres, multi=True),
        FeatureField("year", "item", ("1990", "2000"), rng.integers(1, 3, n_items), multi=False),
    ))


def test_all_item_scores_equal_the_pair_logits():
    features = random_features(7, 9)
    net = FMNet(FieldLayout.build(7, 9, features), FMConfig(init_std=0.3))
    torch.nn.init.normal_(net.fields.linear.weight)
    net.fields.set_codes(features)
    users = torch.arange(7)
    full = net.score_all(users, 1 << 10)  # (7, 9)
    u, i = torch.meshgrid(users, torch.arange(9), indexing="ij")
    pairs = net.pair_logits(u.reshape(-1), i.reshape(-1))[0].reshape(7, 9)
    torch.testing.assert_close(full, pairs, rtol=1e-5, atol=1e-5)


def test_multi_valued_field_is_mean_pooled():
    features = random_features(2, 3)
    net = FMNet(FieldLayout.build(2, 3, features), FMConfig(init_std=1.0))
    net.fields.set_codes(features)
    emb, _ = net.fields("item", torch.tensor([1, 0]))  # (2, F_item, d): id, genres, year
    table, offsets = net.fields.embedding.weight, FieldLayout.build(2, 3, features).offsets("item")
    codes = features.get("item", "genres").codes[1]
    present = codes[codes > 0]
    torch.testing.assert_close(emb[0, 1], table[offsets[1] + torch.from_numpy(present)].mean(0))
    torch.testing.assert_close(emb[1, 1], table[offsets[1]])  # no genres: the "missing" code's embedding


# -- pointwise training data -----------------------------------------------------------------------------
def implicit_train() -> Interactions:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(20), 5)
    items = np.concatenate([rng.choice(30, 5, replace=False) for _ in range(20)])
    return Interactions.from_arrays(users, items, 20, 30)


def test_negative_ratio_gives_that_many_true_negatives_per_positive():
    train = implicit_train()
    for sampling in ("uniform", "popularity"):
        config = PointwiseConfig(neg_ratio=3, neg_sampling=sampling)
        ex = PointwiseSource(train, config).epoch(np.random.default_rng(1))
        assert len(ex) == 4 * len(train)
        assert ex.label.sum() == len(train) and (ex.label == 0).sum() == 3 * len(train)
        seen = train.csr()
        neg = ex.label == 0
        assert seen[ex.user[neg], ex.item[neg]].sum() == 0  # no negative is an observed pair
        assert (ex.weight == 1).all()


def test_popularity_sampler_follows_count_power():
    probs = popularity_probabilities(np.array([0, 1, 4, 9]), alpha=0.5)  # sqrt: 0, 1, 2, 3
    np.testing.assert_allclose(probs, [0, 1 / 6, 2 / 6, 3 / 6])
    users = np.zeros(1, np.int64)
    empty = Interactions.from_arrays(np.array([1]), np.array([0]), 2, 4)  # user 0 has no positives
    sampler = PopularityNegativeSampler(empty, np.array([0, 1, 4, 9]), alpha=0.5)
    draws = sampler.sample(users, 60000, np.random.default_rng(0)).ravel()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / len(draws), probs, atol=0.01)


def test_balanced_class_weights():
    labels = np.array([0] * 8 + [1] * 2)
    w = class_weights(labels, "balanced")
    np.testing.assert_allclose(w, [10 / 16, 10 / 4])  # n / (2 n_c)
    assert np.isclose(w[labels].mean(), 1.0)
    assert class_weights(labels, "none").tolist() == [1.0, 1.0]


def test_resampling_counts():
    labels = np.array([1] * 90 + [0] * 10)  # the negatives are the minority here
    rng = np.random.default_rng(0)
    over = resample_indices(labels, "over", 1.0, rng)
    assert len(over) == 180 and (labels[over] == 0).sum() == 90 and set(range(100)) <= set(over)
    under = resample_indices(labels, "under", 1.0, rng)
    assert len(under) == 20 and (labels[under] == 1).sum() == 10 and len(set(under)) == 20
    under3 = resample_indices(labels, "under", 3.0, rng)
    assert (labels[under3] == 1).sum() == 30 and (labels[under3] == 0).sum() == 10
    assert len(resample_indices(labels, "none", 1.0, rng)) == 100


def test_explicit_examples_use_the_labels_weights_and_resampling():
    train = Interactions.from_arrays(np.arange(10) % 3, np.arange(10), 3, 10,
                                     value=np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], np.float32))
    config = PointwiseConfig(label_mode="explicit", class_weight="balanced", resample="over", resample_ratio=2.0)
    ex = PointwiseSource(train, config).epoch(np.random.default_rng(0))
    assert (ex.label == 1).sum() == 4 and (ex.label == 0).sum() == 8  # positives over-sampled to 8 / 2
    np.testing.assert_allclose(ex.weight[ex.label == 1], 12 / 8)
    with pytest.raises(ValueError, match="0 or 1"):
        bad = Interactions.from_arrays(np.array([0]), np.array([0]), 1, 1, value=np.array([3.0], np.float32))
        PointwiseSource(bad, PointwiseConfig(label_mode="explicit"))


# -- known answers from side features ----------------------------------------------------------------------
def xor_data(seed: int = 0):
    """Label = (user is "F") XOR (item has genre "A"); the test users and items never occur in training."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 80, 60
    female = rng.random(n_users) < 0.5
    has_a = rng.random(n_items) < 0.5
    other = rng.integers(2, 4, n_items)  # an uninformative second genre (B or C)
    genres = np.stack([np.where(has_a, 1, other), np.where(has_a, other, 0)], axis=1)
    features = SideFeatures(n_users, n_items, (
        FeatureField("gender", "user", ("F", "M"), np.where(female, 1, 2), multi=False),
        FeatureField("genres", "item", ("A", "B", "C"), genres, multi=True),
    ))

    def pairs(users, items, n):
        u, i = rng.choice(users, n), rng.choice(items, n)
        return Interactions.from_arrays(u, i, n_users, n_items, value=(female[u] ^ has_a[i]).astype(np.float32))

    return pairs(np.arange(60), np.arange(45), 3000), pairs(np.arange(60, 80), np.arange(45, 60), 500), features


@pytest.mark.parametrize("model_name", ["fm", "deepfm"])
def test_label_that_depends_only_on_side_features_is_learnt_for_unseen_users_and_items(model_name):
    train, test, features = xor_data()
    settings = {"label_mode": "explicit", "epochs": 15, "batch_size": 300, "lr": 0.05, "init_std": 0.1,
                "progress": False}
    with_features = get_model_class(model_name)(**settings).fit(train, features=features)
    ids_only = get_model_class(model_name)(**settings).fit(train)
    assert auc(test.value, with_features.predict_proba(test.user, test.item)) > 0.97
    assert abs(auc(test.value, ids_only.predict_proba(test.user, test.item)) - 0.5) < 0.15


# -- fitting with features, validation, persistence --------------------------------------------------------
def test_fit_with_features_validates_on_auc_and_loads_alone(tmp_path):
    train, test, features = xor_data(1)
    model = FM(label_mode="explicit", monitor="auc", epochs=8, batch_size=256, lr=0.02, init_std=0.1,
               progress=False).fit(train, test, features=features)
    assert all("auc" in h and "neg_log_loss" in h for h in model.meta["history"])
    assert model.meta["best_epoch"] == 1 + int(np.argmax([h["auc"] for h in model.meta["history"]]))
    assert model.meta["features"]["fields"][1]["vocab"] == ["A", "B", "C"]
    loaded = Recommender.load(model.save(tmp_path / "fm"))
    np.testing.assert_allclose(loaded.predict_proba(test.user, test.item),
                               model.predict_proba(test.user, test.item), rtol=1e-6)
    np.testing.assert_allclose(loaded.score(np.arange(5)), model.score(np.arange(5)), rtol=1e-5, atol=1e-6)


def test_features_must_match_the_data_and_monitors_are_checked():
    train, _, features = xor_data()
    small = Interactions.from_arrays(np.array([0]), np.array([0]), 5, 5)
    with pytest.raises(ValueError, match="features describe"):
        FM(epochs=1, progress=False).fit(small, features=features)
    with pytest.raises(ValueError, match="monitor"):
        FMConfig(monitor="accuracy")
    assert FMConfig(monitor="neg_log_loss").monitor == "neg_log_loss"
