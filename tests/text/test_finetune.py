"""Fine-tuning the bundled MiniLM on a handful of pairs (short texts, a few steps: seconds), and the pair builders."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from fathom.data.interactions import Interactions
from fathom.models.behaviour_pairs import cooccurrence_pairs, next_item_pairs
from fathom.text.encoders import CachedEncoder, MiniLMEncoder
from fathom.text.finetune import (
    INFO_FILE,
    FinetuneConfig,
    Finetuner,
    finetune_encoder,
    in_batch_loss,
    linear_rate,
    load_finetuned,
    read_info,
)
from tests.fresh import run_fresh

pytest.importorskip("peft")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# made-up words, each tied to one everyday target: the frozen encoder has no reason to put them together
MADE_UP = ["zorblax", "quindle", "fremmick", "plovash", "gribbet", "snarfle", "wobbrix", "truzzle"]
TARGETS = ["a red fire truck", "fresh orange juice", "a wooden chess board", "the snowy mountain peak",
           "a leather football", "a bowl of hot soup", "an electric guitar", "a pair of running shoes"]
PAIRS = list(zip(MADE_UP, TARGETS, strict=True))


def tiny(**changes) -> FinetuneConfig:
    base = dict(batch_size=4, max_seq_length=16, epochs=4, warmup=0.0, seed=0, max_pairs=None)
    return FinetuneConfig(**{**base, **changes})


def pair_cosines(vectors: np.ndarray) -> np.ndarray:
    """(2P, d) anchors then positives -> (P,) cosine of each anchor to its own positive."""
    n = len(vectors) // 2
    return np.sum(vectors[:n] * vectors[n:], axis=1)


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A LoRA run on the made-up pairs: (frozen vectors, in-memory adapted vectors, saved folder, report)."""
    texts = MADE_UP + TARGETS
    tuner = Finetuner(tiny(method="lora", lr=5e-3, lora_rank=4))
    frozen = tuner.encode(texts)
    tuner.fit(PAIRS, progress=False)
    adapted = tuner.encode(texts)
    out = tmp_path_factory.mktemp("ft") / "lora-madeup"
    report = tuner.save(out)
    return frozen, adapted, out, report


def test_lora_ties_made_up_words_to_their_targets(lora_run):
    frozen, adapted, _, report = lora_run
    before, after = pair_cosines(frozen), pair_cosines(adapted)
    assert after.mean() > before.mean() + 0.05, (before, after)
    # and each made-up word now finds its own target among the eight more often than before
    hits = lambda v: int(np.sum(np.argmax(v[:8] @ v[8:].T, axis=1) == np.arange(8)))  # noqa: E731
    assert hits(adapted) > hits(frozen)
    assert report.loss_per_epoch[-1] < report.loss_per_epoch[0]
    assert report.epochs == 4 and report.steps == 8 and len(report.seconds_per_epoch) == 4


def test_lora_trains_under_5_percent_and_the_merged_folder_gives_the_same_vectors(lora_run):
    _, adapted, out, report = lora_run
    assert 0 < report.trainable_share < 0.05
    # rank 4 on query and value of 6 layers: 6 * 2 * 4 * (384 + 384)
    assert report.trainable_params == 6 * 2 * 4 * (384 + 384)
    loaded = load_finetuned(out, cache=False)
    np.testing.assert_allclose(loaded.encode(MADE_UP + TARGETS), adapted, atol=2e-5)
    assert report.peak_rss_mb > 0


def test_saved_folder_has_no_pickle_and_loads_in_a_fresh_process(lora_run):
    _, adapted, out, report = lora_run
    files = [p for p in Path(out).rglob("*") if p.is_file()]
    assert (Path(out) / "model.safetensors").is_file()
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}]
    for p in files:  # neither a raw pickle (protocol byte 0x80) nor a torch zip archive
        head = p.read_bytes()[:2]
        assert head[:1] != b"\x80" and head != b"PK", p
    info = read_info(out)
    assert info["method"] == "lora" and info["pairs"] == 8 and info["epochs"] == 4
    assert info["trainable_params"] == report.trainable_params and info["encoder_name"] == report.encoder_name
    code = ("import json, os, sys; os.environ.update(HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1'); "
            "from fathom.text.finetune import load_finetuned; "
            f"e = load_finetuned({str(out)!r}, cache=False); "
            "print(json.dumps({'name': e.name, 'v': e.encode(['zorblax', 'a red fire truck']).tolist()}))")
    done = run_fresh(code)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["name"] == report.encoder_name
    np.testing.assert_allclose(np.array(got["v"]), adapted[[0, 8]], atol=2e-5)


def test_adapted_encoder_has_its_own_name_in_the_cache(lora_run, tmp_path):
    frozen, adapted, out, report = lora_run
    assert report.encoder_name.startswith("all-MiniLM-L6-v2+lora-madeup-")
    assert report.encoder_name != MiniLMEncoder.name
    CachedEncoder(MiniLMEncoder(), root=tmp_path).encode(["zorblax"])  # frozen vector cached first
    again = load_finetuned(out, cache=tmp_path).encode(["zorblax"])
    np.testing.assert_allclose(again[0], adapted[0], atol=2e-5)
    assert not np.allclose(again[0], frozen[0], atol=1e-3)


def test_full_finetuning_trains_every_weight_and_saves(tmp_path):
    report = finetune_encoder(PAIRS[:4], tiny(method="full", epochs=1, lr=1e-4), tmp_path / "full", progress=False)
    assert report.trainable_share == 1.0 and report.trainable_params > 20_000_000
    assert report.steps == 1 and (tmp_path / "full" / INFO_FILE).is_file()
    frozen = MiniLMEncoder().encode(["zorblax"])
    assert not np.allclose(load_finetuned(tmp_path / "full", cache=False).encode(["zorblax"]), frozen, atol=1e-4)


def test_bad_config_is_refused_naming_the_field():
    for bad, field in [({"method": "qlora"}, "method"), ({"lora_rank": 0}, "lora_rank"),
                       ({"batch_size": 1}, "batch_size"), ({"lora_rnak": 8}, "lora_rnak"),
                       ({"lora_targets": "mlp"}, "lora_targets"), ({"scale": 0}, "scale")]:
        with pytest.raises(ValidationError, match=field):
            FinetuneConfig(**bad)
    assert FinetuneConfig(method="full").learning_rate == 3e-5
    assert FinetuneConfig.from_json(FinetuneConfig(lr=1e-3).to_json()) == FinetuneConfig(lr=1e-3)


def test_in_batch_loss_known_values_and_masked_duplicates():
    e = torch.eye(3)
    ids = torch.arange(3)
    # orthogonal unit vectors, scale s: each row's softmax is e^s / (e^s + 2)
    s = 5.0
    want = -np.log(np.exp(s) / (np.exp(s) + 2))
    assert float(in_batch_loss(e, e, s, ids, ids)) == pytest.approx(want, rel=1e-5)
    # pairs 0 and 1 share a positive text: neither counts as the other's negative
    positives = torch.stack([e[0], e[0], e[2]])
    anchors = torch.stack([e[0], e[0], e[2]])
    loss = in_batch_loss(anchors, positives, s, torch.tensor([0, 1, 2]), torch.tensor([7, 7, 8]))
    masked, plain = -np.log(np.exp(s) / (np.exp(s) + 1)), -np.log(np.exp(s) / (np.exp(s) + 2))
    assert float(loss) == pytest.approx((2 * masked + plain) / 3, rel=1e-5)  # rows 0, 1 masked; row 2 not
    unmasked = in_batch_loss(anchors, positives, s, torch.tensor([0, 1, 2]), torch.tensor([7, 8, 9]))
    hard = -np.log(np.exp(s) / (2 * np.exp(s) + 1))  # the duplicate would otherwise be a negative as close
    assert float(unmasked) == pytest.approx((2 * hard + plain) / 3, rel=1e-5)


def test_linear_rate_warms_up_then_decays():
    assert [round(linear_rate(s, 2, 6), 3) for s in range(6)] == [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]


def inter(rows: list[tuple[int, int, int]], n_users: int, n_items: int) -> Interactions:
    u, i, t = (np.array(c) for c in zip(*rows, strict=True))
    return Interactions.from_arrays(u, i, n_users, n_items, timestamp=t)


def test_next_item_pairs_follow_time_and_skip_repeats():
    texts = ["t0", "t1", "t2", "t3"]
    # user 0: 2, 0, 1 (given out of order); user 1: 3, 3, 0 (a repeat)
    train = inter([(0, 0, 5), (0, 2, 1), (0, 1, 9), (1, 3, 1), (1, 3, 2), (1, 0, 3)], 2, 4)
    assert sorted(next_item_pairs(texts, train)) == [("t0", "t1"), ("t2", "t0"), ("t3", "t0")]
    two = sorted(next_item_pairs(texts, train, history=2))
    assert two == [("t0 | t2", "t1"), ("t2", "t0"), ("t3", "t0")]
    assert len(next_item_pairs(texts, train, max_pairs=2, seed=1)) == 2
    assert next_item_pairs(texts, train, max_pairs=2, seed=1) == next_item_pairs(texts, train, max_pairs=2, seed=1)


def test_cooccurrence_pairs_within_the_window_both_ways():
    texts = ["a", "b", "c", "d"]
    train = inter([(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 3, 3)], 1, 4)
    got = sorted(cooccurrence_pairs(texts, train, window=1))
    assert got == [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "d"), ("d", "c")]
    assert len(cooccurrence_pairs(texts, train, window=3)) == 12
    with pytest.raises(ValueError, match="texts"):
        cooccurrence_pairs(texts[:3], train)
