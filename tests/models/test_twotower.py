"""TwoTower: conformance, and known answers (the towers' formulas; a cold item whose text equals a warm item's
gets the warm item's text-only score; the ID term is what separates them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fathom.data.interactions import Interactions
from fathom.models.twotower import TwoTower
from tests.models.conformance import RecommenderConformance

FAST = {"epochs": 20, "batch_size": 64, "lr": 1e-2, "dim": 16, "progress": False, "patience": None}


class TestTwoTowerConformance(RecommenderConformance):
    model_name = "twotower"
    config = FAST


def _data() -> tuple[Interactions, np.ndarray]:
    """8 items in two text groups (0-3, 4-7); users take 3 items of one group; item 7 is never interacted with."""
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(20):
        group = np.arange(4) if u < 10 else np.arange(4, 7)
        users += [u] * 3
        items += list(rng.permutation(group)[:3])
    e = rng.normal(0, 0.1, (8, 6))
    e[:4, 0] += 1
    e[4:, 1] += 1
    return Interactions.from_arrays(np.array(users), np.array(items), 20, 8), e.astype(np.float32)


def test_scores_follow_the_tower_formulas():
    train, e = _data()
    model = TwoTower(**FAST).fit(train, item_vectors=e)
    net = model.net
    with torch.no_grad():
        t = torch.from_numpy(e)
        warm = torch.tensor([1.0] * 7 + [0.0])
        v = F.normalize(net.item_adaptor(t) + warm[:, None] * net.item_id.weight, dim=-1)  # (n, dim)
        history = [0, 2]
        u = net.user_adaptor(t[history].mean(0)) + (warm[history, None] * net.context_id.weight[history]).mean(0)
        expected = (F.normalize(u, dim=-1) @ v.T / model.config.temperature).numpy()
    np.testing.assert_allclose(model.score_history(np.array(history)), expected, rtol=1e-4, atol=1e-5)
    assert net.warm.tolist() == warm.tolist()


def test_a_cold_item_with_a_warm_items_text_gets_its_text_only_score():
    train, e = _data()
    model = TwoTower(**FAST).fit(train, item_vectors=e)
    (new,) = model.add_items(e[[1]])
    history = np.array([0, 2, 3])
    scores = model.score_history(history)
    with torch.no_grad():
        u = model.net.users(torch.sparse_coo_tensor(torch.tensor([[0, 0, 0], list(history)]),
                                                    torch.full((3,), 1 / 3), (1, model.n_items),
                                                    check_invariants=False),
                            torch.from_numpy(model.item_text))
        text_only = F.normalize(model.net.item_adaptor(torch.from_numpy(e[[1]])), dim=-1)
        expected = float((u @ text_only.T)[0, 0]) / model.config.temperature
    assert scores[new] == pytest.approx(expected, abs=1e-4)
    assert scores[new] > scores[4:8].max()  # read as group 0 from its text alone
    no_ids = TwoTower(**FAST, id_embeddings=False).fit(train, item_vectors=e)
    no_ids.add_items(e[[1]])
    s = no_ids.score_history(history)
    assert abs(s[new] - s[1]) < 1e-4  # without ID terms, the same text is the same score
