"""GRU4Rec: conformance, a known answer on a deterministic cycle, causality."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fathom.models.gru4rec import GRU4Rec, GRU4RecConfig, GRU4RecNet
from tests.models.conformance import RecommenderConformance
from tests.models.test_sequence import cycle_data

TINY = {"max_len": 12, "factors": 16, "hidden_size": 32, "dropout": 0.1, "batch_size": 16, "lr": 1e-2,
        "progress": False}


pytestmark = pytest.mark.usefixtures("one_thread")


class TestGRU4RecConformance(RecommenderConformance):
    """The conformance data have timestamps all 0: sequences are the input order."""

    model_name = "gru4rec"
    config = {**TINY, "epochs": 30, "patience": None}


@pytest.mark.parametrize("settings", [{}, {"loss": "bpr", "negatives": "in_batch"}, {"n_layers": 2}])
def test_predicts_the_next_item_of_a_cycle(settings):
    train, answer = cycle_data()
    config = {**TINY, "max_len": 6, "dropout": 0.0, "lr": 2e-2, "epochs": 40, "patience": None, **settings}
    model = GRU4Rec(**config).fit(train)
    ids, _ = model.recommend(np.arange(train.n_users), k=1)
    assert (ids[:, 0] == answer).mean() >= 0.95
    assert model.score_sequences([[2, 3, 4]])[0].argmax() == 5


def test_a_later_position_never_changes_an_earlier_output():
    torch.manual_seed(0)
    net = GRU4RecNet(30, GRU4RecConfig(max_len=8, factors=16, hidden_size=16, n_layers=2)).eval()
    seqs = torch.randint(1, 31, (4, 8))
    with torch.no_grad():
        base = net(seqs)  # (4, 8, 16)
        for t in range(8):
            changed = seqs.clone()
            changed[:, t] = changed[:, t] % 30 + 1
            out = net(changed)
            torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-6)
            assert (out[:, t:] - base[:, t:]).abs().amax() > 1e-4


def test_tail_outputs_equal_the_last_positions_of_the_full_pass():
    torch.manual_seed(0)
    net = GRU4RecNet(30, GRU4RecConfig(max_len=6, factors=8, hidden_size=12))
    net.eval()
    seqs = torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 9]])
    assert torch.allclose(net(seqs, 2), net(seqs)[:, -2:], atol=1e-6)
