"""Mult-VAE: conformance, the loss on a hand example, KL annealing and the sparse encoder."""

import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from fathom.models.dropout import keep_mask
from fathom.models.multvae import MultVAENet, anneal_beta, multvae_loss, row_batch
from tests.models.conformance import RecommenderConformance


class TestMultVAE(RecommenderConformance):
    model_name = "multvae"
    config = {
        "hidden": (32,), "latent": 8, "dropout": 0.2, "epochs": 30, "batch_size": 40, "lr": 0.02,
        "total_anneal_steps": 20, "eval_every": 10, "patience": None, "progress": False,
    }

    def test_training_matrix_is_saved_and_scores_use_the_encoder_mean(self, model, data, tmp_path):
        train, _ = data
        np.testing.assert_array_equal(model.history.toarray(), train.csr().toarray())
        users = np.arange(4)
        with torch.no_grad():
            x = row_batch(train.csr(), users)
            mu, _ = model.net.encode(x)
            expected = model.net.decoder(mu).numpy()  # no sampling, no dropout
        np.testing.assert_allclose(model.score(users), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(model.score(users), model.score(users))
        loaded = type(model).load(model.save(tmp_path / "m"))
        np.testing.assert_array_equal(loaded.history.toarray(), train.csr().toarray())


def _hand_batch() -> tuple[sp.csr_matrix, torch.Tensor]:
    x = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    logits = torch.log(torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 2.0]]))  # softmax: [1,2,3]/6 and [1,1,2]/4
    return x, logits


def test_multvae_loss_hand_example():
    x, logits = _hand_batch()
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    loss, nll, kl = multvae_loss(logits, row_batch(x, np.arange(2)), mu, logvar, beta=0.5)
    # user 0: -(log 1/6 + log 3/6) = log 12; user 1: -log 1/4 = log 4
    expected_nll = (math.log(12.0) + math.log(4.0)) / 2
    # user 0: 0.5 * ((1 + 1 - 1 - 0) + (2 + 0 - 1 - log 2)); user 1: N(0, 1) itself, KL 0
    expected_kl = 0.5 * (1.0 + 1.0 - math.log(2.0)) / 2
    np.testing.assert_allclose(nll.item(), expected_nll, rtol=1e-6)
    np.testing.assert_allclose(kl.item(), expected_kl, rtol=1e-6)
    np.testing.assert_allclose(loss.item(), expected_nll + 0.5 * expected_kl, rtol=1e-6)


def test_multvae_loss_matches_the_dense_formula():
    rng = np.random.default_rng(0)
    dense = (rng.random((6, 9)) < 0.4).astype(np.float32)
    dense[0] = 0  # an empty row contributes nothing
    logits = torch.from_numpy(rng.normal(size=(6, 9)).astype(np.float32))
    mu, logvar = torch.zeros(6, 2), torch.zeros(6, 2)
    _, nll, _ = multvae_loss(logits, row_batch(sp.csr_matrix(dense), np.arange(6)), mu, logvar, beta=0.0)
    expected = -(F.log_softmax(logits, dim=1) * torch.from_numpy(dense)).sum(1).mean()
    np.testing.assert_allclose(nll.item(), expected.item(), rtol=1e-5)


def test_kl_annealing_schedule():
    assert anneal_beta(0, 0.2, 1000) == 0.0
    assert anneal_beta(100, 0.2, 1000) == 0.1
    assert anneal_beta(200, 0.2, 1000) == 0.2
    assert anneal_beta(5000, 0.2, 1000) == 0.2
    assert anneal_beta(0, 0.3, 0) == 0.3


def test_row_batch_and_sparse_encoder_match_a_dense_linear_layer():
    x = sp.csr_matrix(np.array([[3, 0, 4, 0], [0, 0, 0, 0], [0, 2, 0, 0]], dtype=np.float32))
    batch = row_batch(x, np.array([2, 0, 1]))
    np.testing.assert_allclose(batch.unit.numpy(), [1.0, 0.6, 0.8])  # row 2, then row 0 = (3, 4) / 5
    assert batch.rows.tolist() == [0, 1, 1] and batch.items.tolist() == [1, 0, 2] and batch.n_rows == 3
    torch.manual_seed(0)
    net = MultVAENet(n_items=4, hidden=(5,), latent=2, dropout=0.5).eval()
    mu, logvar = net.encode(batch)
    dense = F.normalize(torch.from_numpy(x[[2, 0, 1]].toarray()), dim=1)  # (3, 4)
    out = net.encoder(dense @ net.input_weight + net.input_bias)  # (3, 2L)
    np.testing.assert_allclose(mu.detach().numpy(), out[:, :2].detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar.detach().numpy(), out[:, 2:].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_encoder_drops_nonzeros_like_a_dense_dropout_layer():
    rng = np.random.default_rng(0)
    dense_x = (rng.random((6, 40)) < 0.3).astype(np.float32)
    dense_x[3] = 0  # an empty row stays empty
    x = sp.csr_matrix(dense_x)
    batch = row_batch(x, np.arange(6))
    torch.manual_seed(0)
    net = MultVAENet(n_items=40, hidden=(5,), latent=2, dropout=0.6).train()
    torch.manual_seed(7)
    mu, logvar = net.encode(batch)
    torch.manual_seed(7)
    keep, scale = keep_mask(len(batch.items), 0.6)  # the encoder's draw, one per non-zero in CSR order
    dense = torch.zeros(6, 40)
    dense[batch.rows[keep], batch.items[keep]] = batch.unit[keep] * scale  # dropout on the normalised row
    out = net.encoder(dense @ net.input_weight + net.input_bias)
    torch.testing.assert_close(torch.cat([mu, logvar], 1), out, rtol=1e-5, atol=1e-6)
    assert 0 < keep.sum() < len(keep)


def test_input_dropout_only_in_training():
    torch.manual_seed(0)
    net = MultVAENet(n_items=50, hidden=(8,), latent=3, dropout=0.5)
    batch = row_batch(sp.csr_matrix(np.ones((4, 50), np.float32)), np.arange(4))
    net.train()
    assert not torch.allclose(net.encode(batch)[0], net.encode(batch)[0])
    net.eval()
    assert torch.equal(net.encode(batch)[0], net.encode(batch)[0])


def test_user_weights_scale_each_users_terms():
    x, logits = _hand_batch()
    mu, logvar = torch.tensor([[1.0], [0.0]]), torch.zeros(2, 1)
    _, nll, kl = multvae_loss(logits, row_batch(x, np.arange(2)), mu, logvar, beta=1.0)
    _, nll_w, kl_w = multvae_loss(logits, row_batch(x, np.arange(2)), mu, logvar, 1.0, torch.tensor([2.0, 0.0]))
    user0_nll = -(math.log(1 / 6) + math.log(3 / 6))
    assert math.isclose(nll.item(), (user0_nll - math.log(1 / 4)) / 2, rel_tol=1e-6)
    assert math.isclose(nll_w.item(), 2 * user0_nll / 2, rel_tol=1e-6)  # user 1 weighs nothing
    assert math.isclose(kl.item(), 0.5 / 2, rel_tol=1e-6) and math.isclose(kl_w.item(), 2 * 0.5 / 2, rel_tol=1e-6)


def test_interaction_weights_follow_row_lengths_and_average_one():
    from fathom.models.multvae import MultVAEConfig, _MultVAEObjective

    rows = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    net = MultVAENet(n_items=4, hidden=(4,), latent=2, dropout=0.0)
    weighted = _MultVAEObjective(net, rows, MultVAEConfig(user_weight="interactions"))
    np.testing.assert_allclose(weighted.weights[weighted.users], [1.5, 0.5])  # 3 and 1 items, mean 2
    batch = next(iter(weighted.batches(np.random.default_rng(0), 8)))
    assert batch[1].shape == (2,)  # the empty user is never drawn
    assert next(iter(_MultVAEObjective(net, rows, MultVAEConfig()).batches(np.random.default_rng(0), 8)))[1] is None


def test_noise_scale_zero_makes_training_forward_deterministic_without_dropout():
    batch = row_batch(sp.csr_matrix(np.ones((4, 20), np.float32)), np.arange(4))
    torch.manual_seed(0)
    quiet = MultVAENet(n_items=20, hidden=(8,), latent=3, dropout=0.0, noise_std=0.0).train()
    assert torch.equal(quiet(batch)[0], quiet(batch)[0])
    torch.manual_seed(0)
    noisy = MultVAENet(n_items=20, hidden=(8,), latent=3, dropout=0.0, noise_std=1.0).train()
    assert not torch.equal(noisy(batch)[0], noisy(batch)[0])
