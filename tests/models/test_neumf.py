"""NeuMF: learns a known block structure, scores all items exactly as pairwise, saves and loads."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.neumf import NeuMF, NeuMFConfig, NeuMFNet
from fathom.models.registry import get_model_class

FAST = {
    "epochs": 10, "batch_size": 128, "lr": 0.03, "gmf_factors": 8, "mlp_factors": 8, "layers": (16, 8),
    "neg_ratio": 2, "init_std": 0.1, "progress": False,
}


def two_blocks(n_users: int = 40, block: int = 10) -> tuple[Interactions, np.ndarray]:
    """Users of the first half like items 0..block-1, the others the next block; one held-out item each.

    Among the items a user has not seen, the held-out one is the only one from their block.
    """
    rng = np.random.default_rng(0)
    users, items, held = [], [], np.empty(n_users, np.int64)
    for u in range(n_users):
        mine = np.arange(block) + (0 if u < n_users // 2 else block)
        held[u] = rng.choice(mine)
        rest = mine[mine != held[u]]
        users += [u] * len(rest)
        items += list(rest)
    return Interactions.from_arrays(np.array(users), np.array(items), n_users, 2 * block), held


@pytest.fixture(scope="module")
def fitted():
    train, held = two_blocks()
    return NeuMF(**FAST).fit(train), train, held


def test_registry_and_config():
    assert get_model_class("neumf") is NeuMF
    cfg = NeuMF().config
    assert cfg.gmf_factors == 64 and cfg.mlp_factors == 64
    assert NeuMFConfig.from_json(NeuMFConfig(layers=(32, 16, 8)).to_json()).layers == (32, 16, 8)
    with pytest.raises(pydantic.ValidationError):
        NeuMFConfig(layers=())
    with pytest.raises(pydantic.ValidationError):
        NeuMFConfig(layers=(8, 0))
    with pytest.raises(pydantic.ValidationError):
        NeuMFConfig(negratio=3)


def test_held_out_item_ranks_first(fitted):
    model, train, held = fitted
    ids, _ = model.recommend(np.arange(train.n_users), k=1, exclude=train)
    np.testing.assert_array_equal(ids[:, 0], held)


@pytest.mark.parametrize("layer_norm, dropout", [(False, 0.0), (True, 0.2)])
def test_score_all_equals_pairwise_forward(layer_norm, dropout):
    """Chunked full scoring (split first layer) equals the network applied to explicit (user, item) pairs."""
    torch.manual_seed(0)
    cfg = NeuMFConfig(gmf_factors=4, mlp_factors=6, layers=(8, 5, 3), layer_norm=layer_norm, dropout=dropout)
    net = NeuMFNet(7, 11, cfg).eval()
    users = torch.tensor([0, 3, 6])
    with torch.no_grad():
        full = net.score_all(users, chunk_pairs=4)  # (3, 11) in chunks of one item
        pairs = net(users, torch.arange(11).expand(3, 11))  # (3, 11)
        # reference: the textbook NeuMF on the concatenated MLP input
        first = torch.cat([net.first_user.weight, net.first_item.weight], dim=1)  # (8, 12)
        x = torch.cat([net.user_mlp(users)[:, None].expand(3, 11, 6), net.item_mlp.weight.expand(3, 11, 6)], -1)
        mlp = net.tower(x @ first.T + net.first_user.bias)
        gmf = net.user_gmf(users)[:, None] * net.item_gmf.weight
        ref = net.predict(torch.cat([gmf, mlp], -1)).squeeze(-1)
    torch.testing.assert_close(full, pairs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(full, ref, rtol=1e-5, atol=1e-6)


def test_score_is_chunked_and_deterministic(fitted):
    model, train, _ = fitted
    users = np.arange(train.n_users)
    big = model.score(users)
    small = NeuMF(model.config.replace(score_chunk=7, score_batch_size=3))
    small.n_users, small.n_items, small.net, small.fitted = model.n_users, model.n_items, model.net, True
    np.testing.assert_allclose(small.score(users), big, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.score(users), big)  # eval mode: dropout off
    assert big.shape == (40, 20) and big.dtype == np.float32
    assert model.item_vectors().shape == (20, 16)


def test_deterministic_given_the_seed():
    train, _ = two_blocks()
    cfg = {**FAST, "epochs": 2, "dropout": 0.3}
    a, b = NeuMF(**cfg).fit(train), NeuMF(**cfg).fit(train)
    users = np.arange(train.n_users)
    np.testing.assert_array_equal(a.score(users), b.score(users))
    c = NeuMF(**{**cfg, "seed": 5}).fit(train)
    assert not np.array_equal(a.score(users), c.score(users))


def test_save_load_round_trip(fitted, tmp_path):
    model, train, _ = fitted
    model.save(tmp_path / "neumf")
    loaded = Recommender.load(tmp_path / "neumf")
    assert isinstance(loaded, NeuMF) and loaded.config == model.config
    users = np.arange(train.n_users)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    np.testing.assert_allclose(
        loaded.score_pairs(np.array([0, 39]), np.array([3, 15])),
        model.score(np.array([0, 39]))[[0, 1], [3, 15]],
        rtol=1e-6,
    )
