"""DeepFM: conformance, the chunked all-item scores against pair logits, and FM + MLP composition.

The known answer from side features alone is in ``test_fm.py`` (parametrised over FM and DeepFM)."""

import numpy as np
import torch

from fathom.models.deepfm import DeepFMConfig, DeepFMNet, chunked_pairs
from fathom.models.fm import FieldLayout, FMNet
from tests.models.conformance import RecommenderConformance
from tests.models.test_fm import random_features


class TestDeepFMConformance(RecommenderConformance):
    model_name = "deepfm"
    config = {"epochs": 40, "batch_size": 64, "lr": 0.02, "init_std": 0.1, "layers": (32,), "dropout": 0.0,
              "progress": False}


def tiny_net(**settings) -> tuple[DeepFMNet, object]:
    features = random_features(6, 11, seed=3)
    torch.manual_seed(0)
    net = DeepFMNet(FieldLayout.build(6, 11, features), DeepFMConfig(init_std=0.3, layers=(8, 4), **settings))
    net.fields.set_codes(features)
    return net.eval(), features


def test_chunked_all_item_scores_equal_the_pair_logits():
    net, _ = tiny_net()
    users = torch.arange(6)
    u, i = torch.meshgrid(users, torch.arange(11), indexing="ij")
    with torch.no_grad():
        pairs = net.pair_logits(u.reshape(-1), i.reshape(-1))[0].reshape(6, 11)
        for chunk in (1, 7, 1 << 10):  # one pair per pass, ragged chunks, everything at once
            torch.testing.assert_close(net.score_all(users, chunk), pairs, rtol=1e-5, atol=1e-5)


def test_logit_is_the_fm_part_plus_the_mlp_part():
    net, features = tiny_net()
    fm = FMNet(FieldLayout.build(6, 11, features), DeepFMConfig())
    fm.load_state_dict({k: v for k, v in net.state_dict().items() if k.startswith(("fields.", "bias"))})
    users, items = torch.tensor([0, 3, 5]), torch.tensor([10, 2, 0])
    with torch.no_grad():
        eu, _ = net.fields("user", users)
        ei, _ = net.fields("item", items)
        x = torch.cat([eu.flatten(1), ei.flatten(1)], dim=1)  # the concatenated field embeddings
        w = torch.cat([net.first.user.weight, net.first.item.weight], dim=1)  # the unsplit first layer
        deep = net.out(net.tower(x @ w.T + net.first.user.bias)).squeeze(-1)
        torch.testing.assert_close(net.pair_logits(users, items)[0], fm.pair_logits(users, items)[0] + deep)


def test_chunked_pairs_broadcasts_user_and_item_parts():
    user_part, item_part = torch.tensor([[1.0], [10.0]]), torch.tensor([[0.5], [2.0], [3.0]])
    out = chunked_pairs(user_part, item_part, lambda h: h.squeeze(-1) ** 2, chunk_pairs=2)
    np.testing.assert_allclose(out.numpy(), [[2.25, 9, 16], [110.25, 144, 169]])
