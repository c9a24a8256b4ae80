"""TextSeqRec: conformance in each item representation, known answers on a cycle, cold items read from text, the
adaptor's shapes and mixing, and a slow accuracy band on Amazon Scientific."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.text_adaptor import TextAdaptor
from fathom.models.textseq import TextSeqRec
from tests.models.conformance import RecommenderConformance
from tests.models.test_sequence import cycle_data

TINY = {"max_len": 12, "factors": 16, "n_blocks": 1, "n_heads": 2, "ffn_size": 32, "dropout": 0.1,
        "batch_size": 16, "lr": 1e-2, "progress": False, "n_experts": 2, "text_dropout": 0.0}


pytestmark = pytest.mark.usefixtures("one_thread")


class TestTextSeqRecConformance(RecommenderConformance):
    """Text mode (the default): items are read from the stand-in text vectors of the two blocks."""

    model_name = "textsasrec"
    config = {**TINY, "epochs": 30, "patience": None}


class TestTextSeqRecIdTextConformance(RecommenderConformance):
    """ID plus text, with cosine logits: item 29 (never trained on) and added items are read from text alone."""

    model_name = "textsasrec"
    config = {**TINY, "epochs": 30, "patience": None, "item_repr": "id+text", "temperature": 0.1}


def one_hot_text(n_items: int) -> np.ndarray:
    """(n_items, n_items) float32: every item's text vector is its own axis."""
    return np.eye(n_items, dtype=np.float32)


CYCLE = {**TINY, "max_len": 6, "dropout": 0.0, "lr": 2e-2, "epochs": 40, "patience": None}


@pytest.mark.parametrize("item_repr", ["text", "id+text", "id"])
def test_predicts_the_next_item_of_a_cycle(item_repr):
    train, answer = cycle_data()
    model = TextSeqRec(**CYCLE, item_repr=item_repr).fit(train, item_vectors=one_hot_text(train.n_items))
    ids, _ = model.recommend(np.arange(train.n_users), k=1)
    assert (ids[:, 0] == answer).mean() >= 0.95
    assert model.score_sequences([[7, 8, 9]])[0].argmax() == 10
    assert model.score_sequences([[11]])[0].argmax() == 0  # the cycle wraps around
    assert model.score_history(np.array([4, 3, 2]))[5] == model.score_history(np.array([4, 3, 2])).max()
    assert model.explain(np.array([4, 3]), np.array([5, 0])) == [4, 4]


def cycle_with_a_twin(n_items: int = 12) -> tuple[Interactions, np.ndarray]:
    """The cycle over items 0..11, plus item 12 that no one ever had, whose text is item 5's."""
    train, _ = cycle_data(n_items)
    grown = Interactions.from_arrays(train.user, train.item, train.n_users, n_items + 1)
    vectors = np.eye(n_items + 1, n_items, dtype=np.float32)
    vectors[n_items] = vectors[5]
    return grown, vectors


def test_an_untrained_item_with_a_trained_items_text_gets_its_score():
    """Text mode: item 12 was never in training, but reads exactly like item 5, so after 4 it scores as 5 does
    (and both come first); in id+text mode it gets item 5's text term and no ID term."""
    train, vectors = cycle_with_a_twin()
    model = TextSeqRec(**CYCLE).fit(train, item_vectors=vectors)
    scores = model.score_sequences([[2, 3, 4]])[0]
    assert scores[12] == pytest.approx(scores[5], rel=1e-6)
    assert set(np.argsort(-scores)[:2]) == {5, 12}
    model.net.train()  # while training, the untrained item is no negative of the softmax: a zero output row
    with torch.no_grad():
        assert model.net.item_table()[12].abs().sum() == 0 and model.net.item_table()[5].abs().sum() > 0
    model.net.eval()
    both = TextSeqRec(**CYCLE, item_repr="id+text").fit(train, item_vectors=vectors)
    assert both.id_mask.tolist() == [1.0] * 12 + [0.0]
    assert both.net.item_emb.weight.shape == (14, 16)
    with torch.no_grad():
        table = both.net.raw_table()  # (13, 16)
        torch.testing.assert_close(table[12], both.net.adaptor(both.net.text[5:6])[0])  # no ID term
        state = both.net(torch.tensor([[0, 0, 0, 3, 4, 5]]), 1)[0, -1]  # (16,) after items 2, 3, 4
        text_only = (state @ both.net.adaptor(both.net.text[5:6])[0]).item()  # item 5's logit without its ID
    assert both.score_sequences([[2, 3, 4]])[0][12] == pytest.approx(text_only, rel=1e-5)


def test_an_id_only_model_cannot_rank_an_untrained_item():
    train, vectors = cycle_with_a_twin()
    model = TextSeqRec(**CYCLE, item_repr="id").fit(train, item_vectors=vectors)
    assert model.score_sequences([[2, 3, 4]])[0][12] == 0.0  # masked ID row: nothing to score it by


@pytest.mark.parametrize("item_repr", ["text", "id+text", "id"])
def test_add_items_grows_the_catalogue_and_every_mode_saves_and_loads(item_repr, tmp_path: Path):
    train, answer = cycle_data()
    model = TextSeqRec(**CYCLE, item_repr=item_repr).fit(train, item_vectors=one_hot_text(12))
    before = model.score(np.arange(4))
    new = model.add_items(one_hot_text(12)[[5, 6]])  # two items that read like 5 and 6
    assert new.tolist() == [12, 13] and model.n_items == 14 and model.item_text.shape == (14, 12)
    assert model.id_mask[12:].tolist() == [0.0, 0.0]
    after = model.score(np.arange(4))  # (4, 14)
    np.testing.assert_allclose(after[:, :12], before, rtol=1e-5, atol=1e-6)
    if item_repr == "text":
        np.testing.assert_allclose(after[:, 12:], before[:, [5, 6]], rtol=1e-5, atol=1e-6)
    elif item_repr == "id":
        assert (after[:, 12:] == 0).all()
    else:
        assert (model.net.item_emb.weight[13:] == 0).all()  # added ID rows (inputs 13, 14) are zero
    loaded = Recommender.load(model.save(tmp_path / item_repr))
    assert isinstance(loaded, TextSeqRec) and loaded.config.item_repr == item_repr and loaded.n_items == 14
    np.testing.assert_allclose(loaded.score(np.arange(4)), after, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(loaded.item_text, model.item_text)
    assert (loaded.recommend(np.arange(24), k=1)[0][:, 0] == answer).mean() >= 0.95


def test_the_text_mode_has_no_id_table_and_warm_start_keeps_the_new_text():
    train, _ = cycle_data()
    model = TextSeqRec(**CYCLE).fit(train, item_vectors=one_hot_text(12))
    assert model.net.item_emb is None and not any("item_emb" in k for k in model.net.state_dict())
    assert "text" not in model.net.state_dict()  # an input, saved by the model beside the network
    other = one_hot_text(12)[::-1].copy()
    warm = TextSeqRec(**{**CYCLE, "epochs": 1, "lr": 1e-12}).fit(train, item_vectors=other, init_from=model)
    np.testing.assert_array_equal(warm.net.text.numpy(), other)
    with pytest.raises(ValueError, match="12-d text vectors"):
        TextSeqRec(**CYCLE).fit(train, item_vectors=np.ones((12, 3)), init_from=model)


def test_adaptor_is_a_gated_mix_of_whitening_maps():
    torch.manual_seed(0)
    adaptor = TextAdaptor(6, 4, n_experts=3, dropout=0.0, gate_noise=True).eval()
    x = torch.randn(5, 6)
    with torch.no_grad():
        adaptor.experts.bias.normal_()
        adaptor.gate.normal_()
        gates = adaptor.gates(x)  # (5, 3)
        torch.testing.assert_close(gates.sum(1), torch.ones(5))
        expected = sum(gates[:, e : e + 1] * ((x - adaptor.experts.bias[e]) @ adaptor.experts.weight[e])
                       for e in range(3))  # (5, 4)
        torch.testing.assert_close(adaptor(x), expected)
        adaptor.train()
        assert not torch.allclose(adaptor.gates(x), gates)  # noisy gate while training
    assert TextAdaptor(6, 4, n_experts=2, gate_noise=False).noise is None


@pytest.mark.slow
def test_text_mode_beats_chance_by_far_on_amazon_scientific():
    """A short run on the real data: test NDCG@10 well above what a random ranking gives (~0.001)."""
    from fathom.benchmarks.sequential import for_test
    from fathom.benchmarks.text_data import load_text_data, loo_split
    from fathom.metrics.evaluator import Evaluator
    from fathom.text.encoders import get_encoder
    from fathom.text.item_text import encode_items

    try:
        data = load_text_data("amazon_scientific")
    except FileNotFoundError as err:
        pytest.skip(f"the shared text data are absent: {err}")
    vectors = encode_items(data.texts(), get_encoder("minilm"), progress=False).vectors
    split = loo_split(data.inter)
    model = TextSeqRec(max_len=20, factors=64, epochs=8, patience=None, progress=False, dropout=0.3)
    model.fit(split.train, split.valid, item_vectors=vectors)
    result = Evaluator(split.test, exclude=(), ks=(10,), metrics=("ndcg",))(for_test(model, split.valid))
    assert result["ndcg@10"] > 0.02
