"""BPR matrix factorisation: learns a known block structure, is deterministic, saves and loads."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from fathom.data.interactions import Interactions
from fathom.models.base import NotFittedError, Recommender
from fathom.models.bpr import BPRMF, BPRConfig
from fathom.models.registry import get_model_class

FAST = {
    "epochs": 10, "batch_size": 128, "lr": 0.1, "factors": 8, "init_std": 0.1, "reg": 0.0, "n_neg": 1,
    "progress": False,
}


def two_blocks(n_users: int = 40, block: int = 10) -> tuple[Interactions, Interactions, np.ndarray]:
    """Users 0..n/2-1 like items 0..block-1, the others items block..2*block-1.

    Each user has every item of their block in train except one held-out item (test), so among the items a
    user has not seen, the held-out one is the only one from their block. Returns (train, test, held_out).
    """
    rng = np.random.default_rng(0)
    users, items, held = [], [], np.empty(n_users, np.int64)
    for u in range(n_users):
        mine = np.arange(block) + (0 if u < n_users // 2 else block)
        held[u] = rng.choice(mine)
        rest = mine[mine != held[u]]
        users += [u] * len(rest)
        items += list(rest)
    train = Interactions.from_arrays(np.array(users), np.array(items), n_users, 2 * block)
    test = Interactions.from_arrays(np.arange(n_users), held, n_users, 2 * block)
    return train, test, held


@pytest.fixture(scope="module")
def fitted():
    train, test, held = two_blocks()
    return BPRMF(**FAST).fit(train), train, test, held


def test_registry_and_defaults():
    assert get_model_class("bpr") is BPRMF
    cfg = BPRMF().config
    assert cfg.factors == 64 and cfg.optimizer == "adam"
    assert (cfg.lr, cfg.epochs, cfg.patience) == (2e-3, 300, 10)  # docs/experiments/bpr-defaults.md
    with pytest.raises(pydantic.ValidationError):
        BPRMF(factor=8)


def four_communities(n_users: int = 240, per_block: int = 25, per_user: int = 12
                     ) -> tuple[Interactions, Interactions]:
    """User u likes block u % 4 of the items: ``per_user`` of its items in train, one more in valid."""
    rng = np.random.default_rng(0)
    users, items, held = [], [], []
    for u in range(n_users):
        chosen = rng.choice(per_block, size=per_user + 1, replace=False) + (u % 4) * per_block
        users += [u] * per_user
        items += list(chosen[:-1])
        held.append(chosen[-1])
    n_items = 4 * per_block
    train = Interactions.from_arrays(np.array(users), np.array(items), n_users, n_items)
    return train, Interactions.from_arrays(np.arange(n_users), np.array(held), n_users, n_items)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks train fastest on one thread
    yield
    torch.set_num_threads(before)


def test_the_default_config_learns_within_its_default_epochs(one_thread):
    """Defaults only (batch 2048: two steps an epoch here): early stopping ends training well before the cap, and
    the kept epoch recommends each user's own community (random over all unseen items: NDCG@10 about .05; the
    held-out item is one of 13 unseen items of the community, so about .35 is the most there is to learn)."""
    train, valid = four_communities()
    model = BPRMF(progress=False).fit(train, valid)
    assert model.meta["stopped_early"] and model.meta["best_epoch"] <= 30 < model.config.epochs
    best = max(r["ndcg@10"] for r in model.meta["history"] if "ndcg@10" in r)
    assert best > 0.3
    ids, _ = model.recommend(np.arange(train.n_users), k=10, exclude=train)
    own = ids // 25 == (np.arange(train.n_users) % 4)[:, None]  # (users, 10)
    assert own.mean() > 0.97


def test_held_out_item_ranks_first(fitted):
    model, train, _, held = fitted
    ids, scores = model.recommend(np.arange(train.n_users), k=1, exclude=train)
    np.testing.assert_array_equal(ids[:, 0], held)
    assert model.meta["best_epoch"] == FAST["epochs"] and len(model.meta["history"]) == FAST["epochs"]


def test_own_block_scores_higher_and_similar_items_share_a_block(fitted):
    model, train, _, _ = fitted
    scores = model.score(np.array([0, 39]))
    assert scores.shape == (2, 20) and scores.dtype == np.float32
    assert scores[0, :10].min() > scores[0, 10:].max()
    assert scores[1, 10:].min() > scores[1, :10].max()
    assert model.item_vectors().shape == (20, 8) and model.user_vectors().shape == (40, 8)
    ids, _ = model.similar_items(np.array([0, 15]), k=3)
    assert (ids[0] < 10).all() and (ids[1] >= 10).all()
    np.testing.assert_allclose(scores, model.user_vectors()[[0, 39]] @ model.item_vectors().T, rtol=1e-5)


def test_deterministic_given_the_seed():
    train, _, _ = two_blocks()
    cfg = {**FAST, "epochs": 3}
    a, b = BPRMF(**cfg).fit(train), BPRMF(**cfg).fit(train)
    np.testing.assert_array_equal(a.item_vectors(), b.item_vectors())
    assert a.meta["history"][-1]["loss"] == b.meta["history"][-1]["loss"]
    c = BPRMF(**{**cfg, "seed": 1}).fit(train)
    assert not np.array_equal(a.item_vectors(), c.item_vectors())


def test_fit_leaves_global_torch_rng_alone():
    train, _, _ = two_blocks()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    BPRMF(**{**FAST, "epochs": 1}).fit(train)
    assert torch.equal(torch.rand(3), expected)


def test_validation_keeps_the_best_epoch(fitted):
    train, test, _ = two_blocks()
    model = BPRMF(**{**FAST, "epochs": 6, "eval_every": 2}).fit(train, valid=test)
    history = model.meta["history"]
    validated = [r for r in history if "ndcg@10" in r]
    assert [r["epoch"] for r in validated] == [2, 4, 6]
    best = max(validated, key=lambda r: r["ndcg@10"])
    assert model.meta["best_epoch"] == best["epoch"]


def test_save_load_round_trip(fitted, tmp_path):
    model, _, _, _ = fitted
    model.save(tmp_path / "bpr")
    loaded = Recommender.load(tmp_path / "bpr")
    assert isinstance(loaded, BPRMF) and loaded.config == model.config
    users = np.arange(40)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    assert loaded.meta["history"] == model.meta["history"]


def test_unfitted_model_refuses_to_score():
    with pytest.raises(NotFittedError):
        BPRMF().score(np.array([0]))
    assert BPRConfig.from_json(BPRConfig(factors=16).to_json()).factors == 16
