"""MMoE: conformance, gates, per-task loss weights, task labels and masks, the ranking head, task learning."""

import numpy as np
import pytest
import torch

from fathom.data.interactions import Interactions
from fathom.metrics.pointwise import auc
from fathom.models.fm import FieldLayout
from fathom.models.mmoe import MMoE, MMoEConfig, MMoENet, MultiTaskObjective, multitask_loss, task_labels
from tests.models.conformance import RecommenderConformance
from tests.models.test_fm import random_features

FAST = {"epochs": 40, "batch_size": 64, "lr": 0.02, "init_std": 0.1, "progress": False}


class TestMMoEConformance(RecommenderConformance):
    model_name = "mmoe"
    config = {**FAST, "n_experts": 3, "expert_layers": (16,), "tower_layers": (8,)}


def tiny_net(**settings) -> MMoENet:
    features = random_features(6, 11, seed=4)
    torch.manual_seed(0)
    net = MMoENet(FieldLayout.build(6, 11, features), MMoEConfig(init_std=0.3, **settings))
    net.fields.set_codes(features)
    return net.eval()


def test_each_task_gate_is_a_distribution_over_the_experts():
    net = tiny_net(n_experts=5, tasks=("interact", "like"))
    gates = net.gates(torch.tensor([0, 1, 5]), torch.tensor([3, 10, 0]))
    assert gates.shape == (3, 2, 5)
    assert (gates > 0).all()
    torch.testing.assert_close(gates.sum(-1), torch.ones(3, 2))
    assert not torch.allclose(gates[:, 0], gates[:, 1])  # one gate per task


def test_all_item_scores_equal_the_pair_logits():
    net = tiny_net(expert_layers=(8, 6), tower_layers=(4,))
    users = torch.arange(6)
    u, i = torch.meshgrid(users, torch.arange(11), indexing="ij")
    with torch.no_grad():
        pairs = net.pair_logits(u.reshape(-1), i.reshape(-1))[0].reshape(6, 11, 2)
        torch.testing.assert_close(net.score_all(users, 5), pairs, rtol=1e-5, atol=1e-5)


def rated() -> Interactions:
    return Interactions.from_arrays(np.array([0, 0, 1, 2]), np.array([1, 2, 3, 4]), 6, 11,
                                    value=np.array([5.0, 2.0, 4.0, 3.0], np.float32))


def test_task_labels_and_masks():
    config = MMoEConfig(tasks=("like", "interact"))
    negatives = np.array([[7], [8], [9], [10]])
    users, items, labels, mask = task_labels(rated(), negatives, config)
    assert users.tolist() == [0, 0, 1, 2, 0, 0, 1, 2] and items.tolist() == [1, 2, 3, 4, 7, 8, 9, 10]
    assert labels[:, 0].tolist() == [1, 0, 1, 0, 0, 0, 0, 0]  # like: rating >= 4, observed rows only
    assert mask[:, 0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert labels[:, 1].tolist() == [1, 1, 1, 1, 0, 0, 0, 0] and mask[:, 1].tolist() == [1] * 8


def test_loss_is_the_weighted_sum_of_per_task_means():
    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5], [-0.7, 1.5]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    bce = torch.nn.functional.softplus(logits) - logits * labels
    first, second = bce[:, 0].mean(), (bce[0, 1] + bce[2, 1]) / 2  # the masked row does not count
    for w in ([1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.3, 2.0]):
        got = multitask_loss(logits, labels, mask, torch.tensor(w))
        torch.testing.assert_close(got, w[0] * first + w[1] * second)


def test_per_task_loss_weights_change_the_training_loss():
    def loss_with(weights):
        config = MMoEConfig(loss_weights=weights, neg_ratio=1)
        objective = MultiTaskObjective(tiny_net(), rated(), config)
        batch = next(iter(objective.batches(np.random.default_rng(0), 100)))
        return float(objective.loss(batch).detach())

    both, interact, like = loss_with((1.0, 1.0)), loss_with((1.0, 0.0)), loss_with((0.0, 1.0))
    assert interact > 0 and like > 0
    assert both == pytest.approx(interact + like, rel=1e-6)
    assert loss_with((2.0, 0.5)) == pytest.approx(2 * interact + 0.5 * like, rel=1e-6)


def test_config_checks_tasks_and_weights():
    with pytest.raises(ValueError, match="loss_weights"):
        MMoEConfig(loss_weights=(1.0,))
    with pytest.raises(ValueError, match="distinct"):
        MMoEConfig(tasks=("like", "like"))
    with pytest.raises(ValueError):
        MMoEConfig(tasks=("click",))


def taste_data(seed: int = 0) -> tuple[Interactions, Interactions]:
    """Users 0-29 watch items 0-19 and like the even ones; users 30-59 watch items 20-39 and like the odd ones."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(60):
        block = np.arange(20) if u < 30 else np.arange(20, 40)
        chosen = rng.choice(block, 12, replace=False)
        users += [u] * 12
        items += list(chosen)
    users, items = np.array(users), np.array(items)
    liked = np.where(users < 30, items % 2 == 0, items % 2 == 1)
    ratings = np.where(liked, 5.0, 2.0).astype(np.float32)
    inter = Interactions.from_arrays(users, items, 60, 40, value=ratings)
    test = np.arange(len(users)) % 6 == 0
    return inter.subset(~test), inter.subset(test)


def test_both_heads_learn_and_ranking_uses_the_interact_head():
    train, test = taste_data()
    model = MMoE(**{**FAST, "epochs": 15, "batch_size": 128, "lr": 0.03, "n_experts": 3, "expert_layers": (16,),
                    "tower_layers": (8,)})
    model.fit(train)
    like = model.predict_proba(test.user, test.item, task="like")
    assert auc(test.value >= 4, like) > 0.9
    rng = np.random.default_rng(1)
    other_block = np.where(test.user < 30, rng.integers(20, 40, len(test)), rng.integers(0, 20, len(test)))
    interact = model.predict_proba(np.r_[test.user, test.user], np.r_[test.item, other_block], task="interact")
    assert auc(np.r_[np.ones(len(test)), np.zeros(len(test))], interact) > 0.9
    assert model.ranking_task == "interact"
    np.testing.assert_allclose(model.score(np.arange(3)), model.pair_logits(
        np.repeat(np.arange(3), 40), np.tile(np.arange(40), 3))[:, 0].reshape(3, 40), rtol=1e-5, atol=1e-5)
    single = MMoE(**{**FAST, "epochs": 2, "tasks": ("like",)}).fit(train)
    assert single.ranking_task == "like"
    with pytest.raises(KeyError, match="interact"):
        single.predict_proba(test.user, test.item, task="interact")


def test_validation_on_task_auc():
    train, test = taste_data(1)
    model = MMoE(**{**FAST, "epochs": 3, "monitor": "auc"}).fit(train, test)
    record = model.meta["history"][-1]
    assert {"auc_interact", "auc_like", "auc"} <= set(record)
    assert record["auc"] == pytest.approx((record["auc_interact"] + record["auc_like"]) / 2)
