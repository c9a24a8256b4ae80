"""LightGCN: conformance, the normalised adjacency and the propagation against hand-computed answers."""

import numpy as np
import scipy.sparse as sp
import torch

from fathom.models.lightgcn import normalized_adjacency, propagate, to_torch_csr
from tests.models.conformance import RecommenderConformance

R2 = np.sqrt(0.5)  # 1 / sqrt(2)


class TestLightGCN(RecommenderConformance):
    model_name = "lightgcn"
    config = {
        "factors": 16, "layers": 2, "epochs": 30, "batch_size": 512, "lr": 0.05, "reg": 1e-4,
        "eval_every": 5, "patience": None, "progress": False,
    }

    def test_cached_embeddings_equal_a_fresh_propagation(self, model, data):
        train, _ = data
        adj = to_torch_csr(normalized_adjacency(train.csr()))
        with torch.no_grad():
            users, items = model.net.propagate(adj)
        np.testing.assert_allclose(model.user_vectors(), users.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.item_vectors(), items.numpy(), rtol=1e-5, atol=1e-6)
        expected = users[:3].numpy() @ items.numpy().T
        np.testing.assert_allclose(model.score(np.arange(3)), expected, rtol=1e-5, atol=1e-5)
        # the cache holds the kept (best validation) epoch, not the last one
        validated = [h for h in model.meta["history"] if "ndcg@10" in h]
        assert model.meta["best_epoch"] == max(validated, key=lambda h: h["ndcg@10"])["epoch"]


# users u0: {i0, i1}, u1: {i1, i2}; degrees u0 = u1 = 2, i0 = 1, i1 = 2, i2 = 1; nodes ordered u0 u1 i0 i1 i2
GRAPH = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
ADJ = np.array(
    [
        [0, 0, R2, 0.5, 0],  # u0 - i0: 1 / sqrt(2 * 1); u0 - i1: 1 / sqrt(2 * 2)
        [0, 0, 0, 0.5, R2],
        [R2, 0, 0, 0, 0],
        [0.5, 0.5, 0, 0, 0],
        [0, R2, 0, 0, 0],
    ]
)


def test_normalized_adjacency_known_answer():
    adj = normalized_adjacency(GRAPH)
    assert adj.shape == (5, 5) and adj.dtype == np.float32
    np.testing.assert_allclose(adj.toarray(), ADJ, rtol=1e-6)


def test_normalized_adjacency_isolated_nodes_and_repeated_edges():
    # item 2 has no edge; the repeated (0, 0) entry and a stored explicit rating count as one edge of weight 1
    r = sp.csr_matrix((np.array([5.0, 5.0, 3.0]), (np.array([0, 0, 1]), np.array([0, 0, 1]))), shape=(2, 3))
    adj = normalized_adjacency(r).toarray()
    assert np.isfinite(adj).all()
    assert adj[4].sum() == 0 and adj[:, 4].sum() == 0
    np.testing.assert_allclose(adj[0, 2], 1.0)  # degrees 1 and 1
    np.testing.assert_allclose(adj, adj.T)


def test_propagation_known_answer():
    ego = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]])  # (5, 1): u0 u1 i0 i1 i2
    adj = to_torch_csr(normalized_adjacency(GRAPH))
    layer1 = np.array([3 * R2 + 2, 2 + 5 * R2, R2, 1.5, 2 * R2])  # A E0, by hand from ADJ
    np.testing.assert_allclose(propagate(adj, ego, 1).numpy().ravel(), (ego.numpy().ravel() + layer1) / 2, rtol=1e-6)
    layer2 = ADJ @ layer1
    expected = (ego.numpy().ravel() + layer1 + layer2) / 3
    np.testing.assert_allclose(propagate(adj, ego, 2).numpy().ravel(), expected, rtol=1e-6)
    np.testing.assert_allclose(propagate(adj, ego, 0).numpy(), ego.numpy())


def test_propagation_gradient_is_exact():
    adj = normalized_adjacency(GRAPH)
    torch_adj = torch.sparse_csr_tensor(
        torch.from_numpy(adj.indptr.astype(np.int64)), torch.from_numpy(adj.indices.astype(np.int64)),
        torch.from_numpy(adj.data.astype(np.float64)), size=adj.shape, check_invariants=False,
    )
    ego = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda e: propagate(torch_adj, e, 2), (ego,))
