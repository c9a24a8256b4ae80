"""The learned bias on the items already in a sequence model's input window (``history_bias``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fathom.data.interactions import Interactions
from fathom.models import losses
from fathom.models.gru4rec import GRU4Rec
from fathom.models.history_bias import add_history_bias, history_bias_loss, seen_positions
from fathom.models.losses import full_softmax_loss
from fathom.models.sasrec import SASRec
from fathom.models.sequence import SequenceObjective, Sequences
from tests.models.test_sequence import _tiny, cycle_data

pytestmark = pytest.mark.usefixtures("one_thread")


def _written_out_bias(inputs: torch.Tensor, tail: int, bias: torch.Tensor, n: int) -> torch.Tensor:
    """(B, T, n): for each output position, bias[a - j] on the item last seen at window position j <= a."""
    b_size, length = inputs.shape
    rows = []
    for b in range(b_size):
        for a in range(length - tail, length):
            last = {int(inputs[b, j]) - 1: j for j in range(a + 1) if inputs[b, j] > 0}  # later j overwrite
            row = torch.zeros(n, dtype=bias.dtype)
            for item, j in last.items():
                row = row + F.one_hot(torch.tensor(item), n).to(bias.dtype) * bias[a - j]
            rows.append(row)
    return torch.stack(rows).view(b_size, tail, n)


def _window_case(dtype: torch.dtype = torch.float32):
    g = torch.Generator().manual_seed(0)
    b, length, tail, d, n = 5, 8, 6, 6, 13
    inputs = torch.randint(1, n + 1, (b, length), generator=g)
    inputs[0, :4] = 0  # left padding
    inputs[1, 2] = inputs[1, 5] = inputs[1, 6]  # an item three times: only its latest position counts
    targets = torch.randint(0, n, (b, tail), generator=g)
    targets[0, :2] = -1  # no loss there
    targets[1, 4] = inputs[1, 6] - 1  # a target that is in the window
    targets[2, 5] = inputs[2, 3] - 1
    hidden = torch.randn(b, tail, d, generator=g, dtype=dtype, requires_grad=True)
    table = torch.randn(n, d, generator=g, dtype=dtype, requires_grad=True)
    bias = torch.randn(length, generator=g, dtype=dtype, requires_grad=True)
    return inputs, targets, hidden, table, bias


def test_seen_positions_count_each_item_once_at_its_latest_position():
    inputs = torch.tensor([[0, 0, 5, 7, 5, 9]])
    ok, distance = seen_positions(inputs, tail=3)  # outputs at positions 3, 4, 5
    assert ok[0].tolist() == [
        [False, False, True, True, False, False],  # at 3: 5 (pos 2) and 7
        [False, False, False, True, True, False],  # at 4: 5 again, now at pos 4, and 7
        [False, False, False, True, True, True],  # at 5: 7, 5, 9
    ]
    assert distance[2].tolist() == [5, 4, 3, 2, 1, 0]
    assert distance[0].tolist() == [3, 2, 1, 0, 0, 0]  # positions after the output are clamped (and not ok)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_loss_is_cross_entropy_of_the_biased_logits_in_value_and_gradients(dtype, label_smoothing):
    inputs, targets, hidden, table, bias = _window_case(dtype)
    keep = targets >= 0
    value, lse = full_softmax_loss(hidden[keep], targets[keep], table, chunk=7, label_smoothing=label_smoothing,
                                   return_lse=True)
    value = value + history_bias_loss(hidden, inputs, targets, lse, table, bias, label_smoothing)
    got = torch.autograd.grad(value, (hidden, table, bias))
    logits = hidden @ table.T + _written_out_bias(inputs, hidden.shape[1], bias, table.shape[0])  # (B, T, n)
    reference = F.cross_entropy(logits[keep], targets[keep], label_smoothing=label_smoothing)
    expected = torch.autograd.grad(reference, (hidden, table, bias))
    torch.testing.assert_close(value, reference)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b)
    assert all(float(g.abs().sum()) > 0 for g in got)


@pytest.mark.parametrize("store", [True, False])
def test_the_log_partitions_are_differentiable_on_both_softmax_paths(store, monkeypatch):
    if not store:
        monkeypatch.setattr(losses, "SOFTMAX_STORE_BYTES", 0)  # the backward pass recomputes the softmax
    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(23, 5, generator=g, requires_grad=True)
    table = torch.randn(9, 5, generator=g, requires_grad=True)
    targets = torch.randint(0, 9, (23,), generator=g)
    weights = torch.randn(23, generator=g)
    value, lse = full_softmax_loss(hidden, targets, table, chunk=4, return_lse=True)
    got_lse = torch.autograd.grad((weights * lse).sum(), (hidden, table), retain_graph=True)
    got_both = torch.autograd.grad(value + (weights * lse).sum(), (hidden, table))
    logits = hidden @ table.T
    ref_lse = torch.logsumexp(logits, dim=1)
    torch.testing.assert_close(lse, ref_lse)
    expected_lse = torch.autograd.grad((weights * ref_lse).sum(), (hidden, table), retain_graph=True)
    expected_both = torch.autograd.grad(F.cross_entropy(logits, targets) + (weights * ref_lse).sum(), (hidden, table))
    for a, b in zip(got_lse + got_both, expected_lse + expected_both, strict=True):
        torch.testing.assert_close(a, b)


def test_scoring_adds_each_window_items_bias_once():
    inputs, _, _, _, bias = _window_case()
    logits = torch.randn(inputs.shape[0], 13)
    expected = logits + _written_out_bias(inputs, 1, bias.detach(), 13)[:, 0]
    torch.testing.assert_close(add_history_bias(logits, inputs, bias.detach()), expected)


def repeat_data(n_items: int = 12, n_users: int = 24, runs: int = 4, times: int = 3, seed: int = 0):
    """Each user has runs of one random item, ``times`` in a row: x x x y y y ...; input order is time."""
    rng = np.random.default_rng(seed)
    items = np.repeat(rng.integers(0, n_items, (n_users, runs)), times, axis=1)  # (U, runs * times)
    users = np.repeat(np.arange(n_users), runs * times)
    return Interactions.from_arrays(users, items.ravel(), n_users, n_items)


@pytest.mark.parametrize("model_cls", [SASRec, GRU4Rec])
def test_the_bias_learns_the_datas_sign_and_the_model_still_learns(model_cls):
    train, answer = cycle_data()  # a cycle of 12 items, windows of 6: nobody meets an item twice
    model = model_cls(history_bias=True, **_tiny(model_cls, dropout=0.0)).fit(train)
    top = model.recommend(np.arange(train.n_users), k=1)[0][:, 0]
    assert (top == answer).mean() >= 0.9
    assert float(model.net.history_bias.detach().max()) < 0  # items already in the window are pushed down
    repeats = model_cls(history_bias=True, **_tiny(model_cls, dropout=0.0)).fit(repeat_data())
    assert float(repeats.net.history_bias.detach()[0]) > 0  # the item just had is likely again


def test_the_bias_is_saved_and_scores_match_the_written_out_logits(tmp_path):
    train, _ = cycle_data()
    model = SASRec(history_bias=True, **_tiny(SASRec, dropout=0.0)).fit(train)
    loaded = type(model).load(model.save(tmp_path / "m"))
    torch.testing.assert_close(loaded.net.history_bias, model.net.history_bias)
    seqs = [[3, 4, 5], [7, 8, 7]]
    scores = loaded.score_sequences(seqs)
    inputs = torch.from_numpy(Sequences.from_lists(seqs).padded(np.arange(2), model.config.max_len))
    with torch.no_grad():
        plain = model.net(inputs, 1)[:, -1] @ model.net.item_table().T
        expected = plain + _written_out_bias(inputs, 1, model.net.history_bias, train.n_items)[:, 0]
    np.testing.assert_allclose(scores, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_training_loss_with_the_bias_at_zero_is_the_plain_loss():
    train, _ = cycle_data()
    model = SASRec(history_bias=True, **_tiny(SASRec, dropout=0.0) | {"epochs": 1}).fit(train)
    with torch.no_grad():
        model.net.history_bias.zero_()
    objective = SequenceObjective(model.net, Sequences.from_interactions(train), train.n_items, model.config)
    batch = next(iter(objective.batches(np.random.default_rng(0), 32)))
    biased = objective.loss(batch)
    model.net.history_bias = None  # the objective reads the network's bias at every call
    torch.testing.assert_close(biased, objective.loss(batch))


@pytest.mark.parametrize("settings", [{"loss": "bpr"}, {"loss": "bce"}])
def test_the_bias_needs_the_full_softmax(settings):
    with pytest.raises(ValueError, match="history_bias needs"):
        SASRec(history_bias=True, **settings)


def test_a_sequence_network_that_never_registers_the_bias_trains_and_scores_without_it():
    train, answer = cycle_data()
    model = SASRec(**_tiny(SASRec, dropout=0.0)).fit(train)
    del model.net._parameters["history_bias"]  # as a network written before the bias existed
    assert not hasattr(model.net, "history_bias")
    top = model.recommend(np.arange(train.n_users), k=1)[0][:, 0]
    assert (top == answer).mean() >= 0.9
    objective = SequenceObjective(model.net, Sequences.from_interactions(train), train.n_items, model.config)
    assert torch.isfinite(objective.loss(next(iter(objective.batches(np.random.default_rng(0), 32)))))
