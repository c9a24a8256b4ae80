"""Sequence utilities, next-item losses, the history contract and the 'ml-1m seq' split, with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from fathom.benchmarks.sequential import seq_split
from fathom.data.interactions import Interactions
from fathom.models import losses
from fathom.models.gru4rec import GRU4Rec
from fathom.models.sasrec import SASRec
from fathom.models.sequence import (
    SequenceObjective,
    Sequences,
    chronological_order,
    full_softmax_loss,
    next_item_loss,
    pad_left,
    training_windows,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _inter(users, items, times, n_users=3, n_items=10) -> Interactions:
    return Interactions.from_arrays(np.array(users), np.array(items), n_users, n_items, timestamp=np.array(times))


# -- sequences -------------------------------------------------------------------------------------------------
def test_sequences_are_chronological_and_ties_keep_input_order():
    inter = _inter([1, 0, 1, 1, 0, 1], [5, 2, 7, 3, 9, 8], [30, 5, 10, 10, 1, 10])
    assert chronological_order(inter).tolist() == [4, 1, 2, 3, 5, 0]
    seqs = Sequences.from_interactions(inter)
    assert seqs.offsets.tolist() == [0, 2, 6, 6]
    assert seqs[0].tolist() == [9, 2]
    assert seqs[1].tolist() == [7, 3, 8, 5]  # items 7, 3, 8 share timestamp 10 and keep input order
    assert seqs[2].tolist() == []
    assert seqs.items.dtype == np.int32 and seqs.offsets.dtype == np.int64


def test_last_extend_and_padding():
    seqs = Sequences.from_lists([[1, 2, 3, 4], [5], []])
    assert [seqs.last(2)[u].tolist() for u in range(3)] == [[3, 4], [5], []]
    later = _inter([2, 0, 0, 2], [6, 8, 7, 9], [4, 2, 1, 3])
    ext = seqs.extend(later)
    assert [ext[u].tolist() for u in range(3)] == [[1, 2, 3, 4, 7, 8], [5], [9, 6]]
    assert [seqs.extend(later, max_len=3)[u].tolist() for u in range(3)] == [[4, 7, 8], [5], [9, 6]]
    # right-aligned, shifted by one, 0 = padding
    assert seqs.padded(np.array([0, 1, 2]), 3).tolist() == [[3, 4, 5], [0, 0, 6], [0, 0, 0]]
    assert pad_left([[0, 9], [4, 5, 6, 7]], 3).tolist() == [[0, 1, 10], [6, 7, 8]]


def test_training_windows_cover_every_transition_once():
    rng = np.random.default_rng(0)
    seqs = Sequences.from_lists([list(range(10)), [20, 21, 22], [30]])
    inputs, targets = training_windows(seqs, 4, "all", rng)
    assert inputs.shape == (4, 4)  # ceil(9 / 4) = 3 windows for user 0, 1 for user 1, none for user 2
    pairs = sorted((int(i) - 1, int(t)) for i, t in zip(inputs.ravel(), targets.ravel(), strict=True) if t >= 0)
    expected = sorted([(a, a + 1) for a in range(9)] + [(20, 21), (21, 22)])
    assert pairs == expected
    assert ((targets < 0) == (inputs == 0)).all()  # no loss where the input is padding

    inputs, targets = training_windows(seqs, 4, "last", rng)
    assert inputs.tolist() == [[6, 7, 8, 9], [0, 0, 21, 22]]
    assert targets.tolist() == [[6, 7, 8, 9], [-1, -1, 21, 22]]

    inputs, targets = training_windows(seqs, 4, "random", rng)
    assert len(inputs) == 2 and (targets[0] >= 0).all()  # user 0's random window is full length
    assert (targets[0] == inputs[0]).all()  # consecutive items: target = input item + 1 = shifted input


def test_overlapping_windows_keep_context_and_still_cover_each_transition_once():
    seqs = Sequences.from_lists([list(range(10)), [20, 21, 22]])
    inputs, targets = training_windows(seqs, 4, "all", np.random.default_rng(0), stride=2)
    # user 0: windows end at 10, 8, 6, 4, 2 (ceil(9 / 2) = 5); user 1: one window
    assert inputs.tolist()[:5] == [[6, 7, 8, 9], [4, 5, 6, 7], [2, 3, 4, 5], [0, 1, 2, 3], [0, 0, 0, 1]]
    assert targets.tolist()[:5] == [[-1, -1, 8, 9], [-1, -1, 6, 7], [-1, -1, 4, 5], [-1, -1, 2, 3], [-1, -1, -1, 1]]
    pairs = sorted((int(i) - 1, int(t)) for i, t in zip(inputs.ravel(), targets.ravel(), strict=True) if t >= 0)
    assert pairs == sorted([(a, a + 1) for a in range(9)] + [(20, 21), (21, 22)])
    prefixes, prefix_targets = training_windows(seqs, 4, "all", np.random.default_rng(0), stride=1)
    assert len(prefixes) == 11 and ((prefix_targets >= 0).sum(axis=1) == 1).all()  # RecBole: one per prefix
    with pytest.raises(ValueError, match="stride"):
        SASRec(max_len=4, stride=5)


# -- losses ----------------------------------------------------------------------------------------------------
def test_softmax_loss_is_cross_entropy_and_sampled_softmax_over_everything_equals_it():
    g = torch.Generator().manual_seed(0)
    hidden, table = torch.randn(6, 4, generator=g), torch.randn(9, 4, generator=g)
    targets = torch.tensor([0, 3, 8, 3, 5, 1])
    full = next_item_loss(hidden, targets, table, "softmax")
    torch.testing.assert_close(full, F.cross_entropy(hidden @ table.T, targets))
    # every item as a negative, the target's own column removed as an accidental hit: the full softmax again
    sampled = next_item_loss(hidden, targets, table, "sampled_softmax", torch.arange(9))
    torch.testing.assert_close(sampled, full)
    # a uniform logQ correction shifts every logit equally and changes nothing
    torch.testing.assert_close(
        next_item_loss(hidden, targets, table, "sampled_softmax", torch.arange(9), torch.full((9,), -2.0)), full
    )


def test_chunked_full_softmax_has_the_value_and_gradients_of_cross_entropy():
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(37, 8, generator=g, requires_grad=True)  # 37 rows: the last chunk is partial
    table = torch.randn(11, 8, generator=g, requires_grad=True)
    targets = torch.randint(0, 11, (37,), generator=g)
    loss = full_softmax_loss(hidden, targets, table, chunk=5)
    loss.backward()
    got = hidden.grad.clone(), table.grad.clone()
    hidden.grad = table.grad = None
    reference = F.cross_entropy(hidden @ table.T, targets)
    reference.backward()
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(got[0], hidden.grad)
    torch.testing.assert_close(got[1], table.grad)


def test_stored_softmax_gives_the_recomputed_gradients_bit_for_bit(monkeypatch):
    g = torch.Generator().manual_seed(3)
    hidden = (torch.randn(300, 16, generator=g) * 2).requires_grad_()  # two chunks, the last partial
    table = torch.randn(70, 16, generator=g).requires_grad_()
    targets = torch.randint(0, 70, (300,), generator=g)
    grads = {}
    for limit in (losses.SOFTMAX_STORE_BYTES, 0):  # the (300, 70) softmax kept; then recomputed in backward
        monkeypatch.setattr(losses, "SOFTMAX_STORE_BYTES", limit)
        loss = full_softmax_loss(hidden, targets, table)
        loss.backward(retain_graph=True)
        first = hidden.grad.clone(), table.grad.clone()
        hidden.grad = table.grad = None
        loss.backward()  # a second backward pass (the kept softmax was used up in place): recomputed
        grads[limit] = loss.detach(), *first, hidden.grad.clone(), table.grad.clone()
        hidden.grad = table.grad = None
    stored, recomputed = grads.values()
    for a, b in zip(stored, recomputed, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(stored[1], stored[3]) and torch.equal(stored[2], stored[4])
    assert stored[1].abs().sum() > 0 and stored[2].abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])  # float64 takes the unchunked path
def test_label_smoothing_matches_cross_entropy_in_value_and_gradients(dtype):
    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(23, 6, generator=g, dtype=dtype, requires_grad=True)
    table = torch.randn(9, 6, generator=g, dtype=dtype, requires_grad=True)
    targets = torch.randint(0, 9, (23,), generator=g)
    loss = next_item_loss(hidden, targets, table, "softmax", label_smoothing=0.2)
    loss.backward()
    got = hidden.grad.clone(), table.grad.clone()
    hidden.grad = table.grad = None
    reference = F.cross_entropy(hidden @ table.T, targets, label_smoothing=0.2)
    reference.backward()
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(got[0], hidden.grad)
    torch.testing.assert_close(got[1], table.grad)
    with torch.no_grad():
        assert not torch.allclose(reference, F.cross_entropy(hidden @ table.T, targets))  # smoothing changed it


def test_retired_settings_load_at_their_defaults_and_are_refused_otherwise():
    """contrastive, lookahead and softmax_precision measured no better and were removed: a config saved with them
    at their defaults still loads; any other value is an error naming the setting."""
    saved = {**SASRec().config.to_dict(), "contrastive": 0.0, "lookahead": 0, "softmax_precision": "float32"}
    assert SASRec.Config.from_dict(saved) == SASRec().config
    for name, value in (("contrastive", 0.1), ("lookahead_weight", 0.2), ("softmax_precision", "bfloat16")):
        with pytest.raises(ValueError, match=f"{name}: this setting was removed"):
            SASRec.Config.from_dict({name: value})


def test_label_smoothing_needs_the_full_softmax():
    with pytest.raises(ValueError, match="label_smoothing"):
        SASRec(loss="bpr", label_smoothing=0.1)
    assert SASRec(label_smoothing=0.1).config.label_smoothing == 0.1


def test_bpr_and_bce_known_values():
    hidden = torch.tensor([[1.0, 0.0]])
    table = torch.tensor([[2.0, 0.0], [0.5, 0.0], [-1.0, 0.0]])  # logits 2, 0.5, -1
    target, negatives = torch.tensor([0]), torch.tensor([1, 2, 0])  # the last negative is the target: ignored
    bpr = next_item_loss(hidden, target, table, "bpr", negatives)
    expected = (np.log1p(np.exp(0.5 - 2.0)) + np.log1p(np.exp(-1.0 - 2.0))) / 2
    assert bpr.item() == pytest.approx(expected, rel=1e-6)
    bce = next_item_loss(hidden, target, table, "bce", negatives)
    expected = np.log1p(np.exp(-2.0)) + (np.log1p(np.exp(0.5)) + np.log1p(np.exp(-1.0))) / 2
    assert bce.item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="needs negatives"):
        next_item_loss(hidden, target, table, "bpr")


def cycle_data(n_items: int = 12, n_users: int = 24, length: int = 10, seed: int = 0):
    """Each user walks the cycle 0 -> 1 -> ... -> n_items - 1 -> 0 from a random start; timestamps all 0."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_items, n_users)
    users = np.repeat(np.arange(n_users), length)
    items = (starts[:, None] + np.arange(length)[None, :]).ravel() % n_items
    inter = Interactions.from_arrays(users, items, n_users, n_items)  # ties everywhere: input order is time
    last = items.reshape(n_users, length)[:, -1]
    return inter, (last + 1) % n_items


@pytest.mark.parametrize(
    "settings",
    [
        {"loss": "sampled_softmax", "negatives": "uniform", "n_neg": 32},
        {"loss": "sampled_softmax", "negatives": "popularity", "n_neg": 32},
        {"loss": "bpr", "negatives": "in_batch"},
        {"loss": "bce", "negatives": "uniform", "n_neg": 32},
        {"loss": "softmax", "label_smoothing": 0.1, "ema": 0.9},
    ],
)
def test_every_loss_option_learns_the_cycle(settings):
    train, answer = cycle_data()
    model = SASRec(
        epochs=40, max_len=6, factors=16, n_blocks=1, n_heads=1, ffn_size=16, dropout=0.0, lr=2e-2,
        batch_size=32, patience=None, progress=False, windows="all", **settings,
    ).fit(train)
    top = model.recommend(np.arange(train.n_users), k=1)[0][:, 0]
    assert (top == answer).mean() >= 0.9


def _tiny(model_cls: type, dropout: float) -> dict:
    """Settings of a small SASRec or GRU4Rec that learns the cycle in 40 epochs."""
    size = {"n_blocks": 1, "n_heads": 1, "ffn_size": 16} if model_cls is SASRec else {"hidden_size": 16}
    return dict(epochs=40, max_len=6, factors=16, dropout=dropout, lr=2e-2, batch_size=32, patience=None,
                progress=False, windows="all", seed=0, **size)


@pytest.mark.parametrize("model_cls", [SASRec, GRU4Rec])
def test_bfloat16_training_learns_the_cycle_and_keeps_the_loss_close_to_float32(model_cls):
    train, answer = cycle_data()
    model = model_cls(precision="bfloat16", **_tiny(model_cls, dropout=0.0)).fit(train)
    assert next(model.net.parameters()).dtype == torch.float32  # the weights stay float32
    top = model.recommend(np.arange(train.n_users), k=1)[0][:, 0]
    assert (top == answer).mean() >= 0.9
    # same weights, same batch: the bfloat16 forward pass moves the loss by well under 1%, and only through it
    seqs = Sequences.from_interactions(train)
    low = SequenceObjective(model.net, seqs, train.n_items, model.config)
    full = SequenceObjective(model.net, seqs, train.n_items, model.config.model_copy(update={"precision": "float32"}))
    batch = next(iter(low.batches(np.random.default_rng(0), 32)))
    a, b = low.loss(batch), full.loss(batch)
    assert a.dtype == b.dtype == torch.float32
    assert a.item() != b.item() and a.item() == pytest.approx(b.item(), rel=1e-2)


# -- the history contract --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cycle_model():
    train, answer = cycle_data()
    model = SASRec(
        epochs=40, max_len=6, factors=16, n_blocks=1, n_heads=1, ffn_size=16, dropout=0.0, lr=2e-2,
        batch_size=32, patience=None, progress=False,
    ).fit(train)
    return model, train, answer


def test_with_history_appends_events_and_leaves_the_model_alone(cycle_model):
    model, train, answer = cycle_model
    users = np.arange(train.n_users)
    later = Interactions.from_arrays(users, answer, train.n_users, train.n_items)  # each user's true next item
    moved = model.with_history(later)
    assert moved.net is model.net
    assert (moved.history.lengths() == model.config.max_len).all()
    np.testing.assert_array_equal([moved.history[u][-1] for u in users], answer)
    np.testing.assert_array_equal([model.history[u][-1] for u in users], (answer - 1) % train.n_items)
    # the moved model predicts one step further along the cycle
    top = moved.recommend(users, k=1)[0][:, 0]
    assert (top == (answer + 1) % train.n_items).mean() >= 0.9


def test_score_sequences_matches_score_of_the_same_history(cycle_model):
    model, train, _ = cycle_model
    users = np.array([0, 5, 7])
    lists = [model.history[u].tolist() for u in users]
    np.testing.assert_allclose(model.score_sequences(lists), model.score(users), rtol=1e-5, atol=1e-5)
    scores = model.score_sequences([[3, 4, 5], [10, 11, 0, 1], []])
    assert scores.shape == (3, train.n_items) and np.isfinite(scores).all()
    assert scores[0].argmax() == 6 and scores[1].argmax() == 2
    with pytest.raises(IndexError, match="item id 12"):
        model.score_sequences([[12]])


# -- the RecBole 'ml-1m seq' split -----------------------------------------------------------------------------
def test_seq_split_leaves_the_last_two_items_out_in_time_order():
    # user a: 4 events, two tied at t=3 (input order decides); user b: 2 events -> 1 train, 0 valid, 1 test
    frame = pd.DataFrame(
        {"user": [0, 0, 1, 0, 0, 1], "item": [0, 1, 2, 3, 4, 0], "timestamp": [3, 1, 9, 3, 5, 2]}
    )
    inter = Interactions.from_frame(frame, 2, 5)
    split = seq_split(inter)
    assert sorted(zip(split.train.user.tolist(), split.train.item.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0)]
    assert list(zip(split.valid.user.tolist(), split.valid.item.tolist(), strict=True)) == [(0, 3)]
    assert sorted(zip(split.test.user.tolist(), split.test.item.tolist(), strict=True)) == [(0, 4), (1, 2)]


def test_protocol_ranks_the_test_item_after_the_validation_item():
    from fathom.benchmarks.sequential import run_seq_protocol, seq_prepare_config
    from fathom.data.prepare import PreparedData
    from fathom.data.vocab import Vocabulary
    from fathom.evaluate.experiment import ModelSpec

    inter, _ = cycle_data(length=12)
    split = seq_split(inter)  # timestamps all 0: the input order is the time order
    data = PreparedData(
        "cycle", seq_prepare_config(), Vocabulary(range(inter.n_users)), Vocabulary(range(inter.n_items)),
        split.train, split.valid, split.test,
    )
    settings = {"epochs": 40, "max_len": 6, "factors": 16, "n_blocks": 1, "n_heads": 1, "ffn_size": 16,
                "dropout": 0.0, "lr": 2e-2, "batch_size": 32, "patience": None, "progress": False}
    (result,) = run_seq_protocol([ModelSpec("sasrec", [settings], label="SASRec")], data=data, log=lambda _: None)
    assert result.valid["mrr@10"] >= 0.95  # the validation item follows the training sequence
    assert result.test["mrr@10"] >= 0.95  # the test item follows the validation item, which the model was shown
    assert result.epochs == 40 and result.seconds_per_epoch is not None
