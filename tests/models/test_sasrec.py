"""SASRec: conformance, a known answer on a deterministic cycle, causality of the attention mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fathom.models.sasrec import SASRec, SASRecConfig, SASRecNet
from tests.models.conformance import RecommenderConformance
from tests.models.test_sequence import cycle_data

TINY = {"max_len": 12, "factors": 16, "n_blocks": 1, "n_heads": 2, "ffn_size": 32, "dropout": 0.1,
        "batch_size": 16, "lr": 1e-2, "progress": False}


pytestmark = pytest.mark.usefixtures("one_thread")


class TestSASRecConformance(RecommenderConformance):
    """The conformance data have timestamps all 0: sequences are the input order."""

    model_name = "sasrec"
    config = {**TINY, "epochs": 30, "patience": None}


def test_predicts_the_next_item_of_a_cycle():
    train, answer = cycle_data()
    model = SASRec(**{**TINY, "max_len": 6, "dropout": 0.0, "lr": 2e-2}, epochs=40, patience=None).fit(train)
    ids, _ = model.recommend(np.arange(train.n_users), k=1)
    assert (ids[:, 0] == answer).mean() >= 0.95
    assert model.score_sequences([[7, 8, 9]])[0].argmax() == 10
    assert model.score_sequences([[11]])[0].argmax() == 0  # the cycle wraps around


@pytest.mark.parametrize("n_blocks", [1, 2])
def test_a_later_position_never_changes_an_earlier_output(n_blocks):
    torch.manual_seed(0)
    net = SASRecNet(30, SASRecConfig(max_len=8, factors=16, n_blocks=n_blocks, n_heads=2, ffn_size=16)).eval()
    seqs = torch.randint(1, 31, (4, 8))
    seqs[0, :3] = 0  # left padding
    with torch.no_grad():
        base = net(seqs)  # (4, 8, 16)
        for t in range(8):
            changed = seqs.clone()
            changed[:, t] = changed[:, t] % 30 + 1  # another real item at position t
            out = net(changed)
            torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-6)
            assert (out[1:, t:] - base[1:, t:]).abs().amax() > 1e-4  # ... while it does change the rest


def test_padding_does_not_leak_into_real_positions():
    torch.manual_seed(0)
    net = SASRecNet(30, SASRecConfig(max_len=6, factors=16, n_blocks=2, n_heads=2, ffn_size=16)).eval()
    short = torch.tensor([[0, 0, 0, 5, 6, 7]])
    with torch.no_grad():
        out = net(short)
        assert torch.isfinite(net(torch.zeros(1, 6, dtype=torch.long))).all()  # an empty sequence is finite
        # a real position's state depends on its items and positions only, not on what the padding would hold
        net.item_emb.weight.data[0] = 1.0
        torch.testing.assert_close(net(short)[:, 3:], out[:, 3:])


def test_training_attention_path_matches_fused_attention():
    """While training on a CPU, attention runs unfused (for a cheap dropout mask); with nothing dropped it must
    equal the fused kernel used at inference."""
    torch.manual_seed(0)
    net = SASRecNet(30, SASRecConfig(max_len=8, factors=16, n_heads=2, dropout=0.0))
    seqs = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 9]])
    net.eval()
    fused = net(seqs)
    net.train()
    for block in net.blocks:
        block.attn.dropout = 1e-9  # takes the unfused branch, rounds to no dropped element
    assert torch.allclose(net(seqs), fused, atol=1e-5)


@pytest.mark.parametrize("tail", [1, 3, 8])
def test_tail_outputs_equal_the_last_positions_of_the_full_pass(tail):
    torch.manual_seed(0)
    net = SASRecNet(30, SASRecConfig(max_len=8, factors=16, n_heads=2, n_blocks=2))
    net.eval()
    seqs = torch.tensor([[0, 0, 0, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 9]])
    full = net(seqs)  # (2, 8, 16)
    part = net(seqs, tail)
    assert part.shape == (2, tail, 16)
    assert torch.allclose(part, full[:, -tail:], atol=1e-5)


def test_overlapping_windows_loss_uses_only_the_positions_that_carry_targets():
    from fathom.models.sequence import SequenceObjective, Sequences, full_softmax_loss, training_windows

    torch.manual_seed(0)
    config = SASRecConfig(max_len=8, factors=16, n_heads=2, dropout=0.0, windows="all", stride=3)
    net = SASRecNet(30, config)
    seqs = Sequences.from_lists([list(range(20)), [5, 6, 7, 8, 9], [1, 2]])
    inputs, targets = training_windows(seqs, 8, "all", np.random.default_rng(0), stride=3)
    objective = SequenceObjective(net, seqs, 30, config)
    loss = objective.loss((torch.from_numpy(inputs), torch.from_numpy(targets), None))
    hidden, t = net(torch.from_numpy(inputs)), torch.from_numpy(targets)  # the full pass, every position
    expected = full_softmax_loss(hidden[t >= 0], t[t >= 0], net.item_table())
    assert torch.allclose(loss, expected, atol=1e-5)
