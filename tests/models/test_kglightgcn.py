"""KG-LightGCN: conformance (with a stand-in knowledge graph), the collaborative-KG adjacency by hand, and a new
item placed exactly as LightGCN would propagate a node whose only edges are its entity links."""

import numpy as np
import scipy.sparse as sp
import torch

from fathom.models.kglightgcn import KGLightGCN, kg_adjacency
from fathom.models.lightgcn import propagate, to_torch_csr
from tests.models.conformance import RecommenderConformance, block_data, block_item_entities

CONFIG = {"factors": 16, "layers": 2, "epochs": 30, "batch_size": 512, "lr": 0.05, "reg": 1e-4,
          "eval_every": 5, "patience": None, "progress": False}


class TestKGLightGCN(RecommenderConformance):
    model_name = "kglightgcn"
    config = CONFIG


def test_adjacency_joins_users_items_and_entities_by_hand():
    # u0: {i0}; i0 - e0 (weight 2), i1 - e0; nodes u0 i0 i1 e0; degrees u0 1, i0 1 + 2, i1 2, e0 4
    adj = kg_adjacency(sp.csr_matrix([[1.0, 0.0]]), sp.csr_matrix([[1.0], [1.0]]), kg_weight=2.0).toarray()
    deg = np.array([1.0, 3.0, 2.0, 4.0])
    raw = np.zeros((4, 4))
    raw[0, 1] = raw[1, 0] = 1.0
    raw[1, 3] = raw[3, 1] = raw[2, 3] = raw[3, 2] = 2.0
    np.testing.assert_allclose(adj, raw / np.sqrt(np.outer(deg, deg)), rtol=1e-6)


def test_a_cold_item_is_placed_through_its_entities():
    """Item 29 has no training interaction but links to block-1 entities: it ranks with block 1."""
    train, test = block_data()
    model = KGLightGCN(**CONFIG).fit(train, test, item_entities=block_item_entities(30))
    scores = model.score_history(np.array([16, 18, 20, 22]))  # a block-1 history
    assert scores[29] > np.sort(scores[:15])[-1], "the cold block-1 item ranks above every block-0 item"


def test_new_item_embedding_equals_the_propagation_of_its_entity_links():
    """The new item as a node of its own (ego zero, no user edge) that reads its entities with LightGCN's weights
    ``1 / sqrt(d_item d_entity)`` (entity degrees those of the trained graph: nothing else moves)."""
    train, test = block_data()
    ents = block_item_entities(30)
    model = KGLightGCN(**CONFIG).fit(train, test, item_entities=ents)
    new_row = block_item_entities(1)
    model.add_items(item_entities=new_row)
    n_u, n_i, n_e = train.n_users, 30, ents.shape[1]
    old = kg_adjacency(train.csr(), ents, 1.0).tolil()  # (U + 30 + F) square
    nodes = n_u + n_i + 1 + n_e  # the new item sits between the old items and the entities
    full = sp.lil_matrix((nodes, nodes), dtype=np.float32)
    keep = np.r_[0:n_u + n_i, n_u + n_i + 1:nodes]
    full[np.ix_(keep, keep)] = old.toarray()
    entity_degree = np.asarray(ents.sum(axis=0)).ravel()
    for e in new_row.indices:
        full[n_u + n_i, n_u + n_i + 1 + e] = 1.0 / np.sqrt(new_row.nnz * entity_degree[e])
    net = model.net
    ego = net._ego().detach()  # the trained ego embeddings (a cold item's held at zero); the new row: zero
    final = propagate(to_torch_csr(full.tocsr()), ego, 2)
    np.testing.assert_allclose(model.item_vectors()[n_i], final[n_u + n_i].numpy(), rtol=1e-4, atol=1e-6)


def test_negatives_never_land_on_items_without_training_interactions():
    from fathom.models.kglightgcn import KGLightGCNConfig, KGLightGCNNet, _KGObjective

    train, _ = block_data()  # item 29 has no training interaction
    config = KGLightGCNConfig(n_neg=8)
    warm = (np.bincount(train.item, minlength=train.n_items) > 0).astype(np.float32)  # as KGLightGCN.fit builds it
    net = KGLightGCNNet(train.n_users, train.n_items, 8, 4, 2, 0.1, warm)
    objective = _KGObjective(net, train, config, block_item_entities(30))
    negs = torch.cat([neg.flatten() for _, _, neg in objective.batches(np.random.default_rng(0), 64)])
    assert len(negs) == 8 * len(train) and not (negs == 29).any()
