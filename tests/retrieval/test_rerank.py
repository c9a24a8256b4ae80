"""Cross-encoder reranking: training on a tiny synthetic collection with a tiny random BERT (no download),
save/load in a fresh process, the reranking stage in hybrid search and SearchIndex, bad input; plus a slow test
with the real MiniLM on scifact."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from fathom.retrieval.hybrid import Hit, apply_reranker  # noqa: E402
from fathom.retrieval.rerank import (  # noqa: E402
    CrossEncoder,
    CrossEncoderConfig,
    CrossEncoderReranker,
    RerankConfig,
    rerank_scores,
)
from fathom.retrieval.rerank_train import (  # noqa: E402
    RerankTrainConfig,
    bce_loss,
    make_groups,
    softmax_loss,
    train_cross_encoder,
)
from tests.fresh import run_fresh  # noqa: E402

WORDS = ["apple", "banana", "cherry", "grape", "lemon", "mango"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_BERT = dict(
    vocab_size=len(SPECIAL) + len(WORDS), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
    intermediate_size=64, max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    initializer_range=0.3,  # sharper attention at the start: the match "query word in document" is found sooner
)


def tiny_tokenizer(folder: Path):
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(SPECIAL + WORDS) + "\n")
    return BertTokenizerFast(str(folder / "vocab.txt"))


def tiny_model(folder: Path, seed: int = 0, pooling: str = "mean") -> CrossEncoder:
    return CrossEncoder.from_bert_config(
        TINY_BERT, tiny_tokenizer(folder), CrossEncoderConfig(max_length=16, pooling=pooling), seed=seed
    )


def synthetic():
    """Queries are single words; a document is relevant to a query iff it contains the word. Documents are
    pairs of distinct words; the pairs containing "apple" and "mango" together are held out of training."""
    docs = {}
    for i, a in enumerate(WORDS):
        for b in WORDS[i + 1 :]:
            docs[f"{a}-{b}"] = f"{a} {b}"
    held_out = {"apple-mango": docs.pop("apple-mango")}
    queries = {w: w for w in WORDS}
    qrels = {w: {d: 1 for d, t in docs.items() if w in t.split()} for w in WORDS}
    candidates = {w: list(docs) for w in WORDS}
    return docs, held_out, queries, qrels, candidates


TRAIN = RerankTrainConfig(
    epochs=15, groups_per_query=4, hard_negatives=3, random_negatives=0, batch_groups=4, lr=5e-3, head_lr=5e-3,
    warmup=0.05, weight_decay=0.0, seed=0, log_every=10,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ce")
    docs, held_out, queries, qrels, candidates = synthetic()
    model = tiny_model(folder / "tok")
    before = {q: model.score(q, ["apple mango", "banana cherry", "grape lemon"]) for q in ("apple", "mango")}
    report = train_cross_encoder(model, queries, qrels, candidates, docs, TRAIN)
    return model, report, before, folder


def test_training_lowers_the_loss_and_ranks_a_held_out_positive_first(trained):
    model, report, before, _ = trained
    assert report.steps > 0 and report.losses[-1] < 0.5 * np.log(4)  # chance level of 1 positive vs 3
    for q in ("apple", "mango"):
        # the held-out "apple mango" never appeared in training; it must beat documents without the word
        s = model.score(q, ["apple mango", "banana cherry", "grape lemon", "banana grape", "cherry lemon"])
        assert s[0] > s[1:].max(), (q, s, before[q])


def test_losses_known_values():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [10.0, -10.0, -10.0, -10.0]])
    assert softmax_loss(logits[:1]).item() == pytest.approx(np.log(4), abs=1e-6)
    assert softmax_loss(logits[1:]).item() == pytest.approx(0.0, abs=1e-6)
    assert bce_loss(logits[:1]).item() == pytest.approx(np.log(2), abs=1e-6)


def test_groups_take_negatives_below_the_positive_grade():
    docs = {f"d{i}": f"text {i}" for i in range(20)}
    qrels = {"q": {"d0": 3, "d1": 1, "d2": 0}}
    cfg = RerankTrainConfig(hard_negatives=2, random_negatives=2, groups_per_query=20, depth=3)
    groups = make_groups({"q": "query"}, qrels, {"q": ["d0", "d1", "d2", "d3"]}, docs, cfg, random.Random(0))
    assert len(groups) == 20
    for g in groups:
        assert g.positive in ("text 0", "text 1") and len(g.negatives) == 4
        assert g.positive not in g.negatives
        assert "text 0" not in g.negatives  # the best document is never a negative
        if g.positive == "text 1":
            assert "text 1" not in g.negatives
    hard = {n for g in groups if g.positive == "text 0" for n in g.negatives[:2]}
    assert hard <= {"text 1", "text 2"}  # hard ones from the top-3 candidates, graded below 3
    with pytest.raises(ValueError, match="at least one negative"):
        make_groups({"q": "x"}, qrels, {}, docs, cfg.replace(hard_negatives=0, random_negatives=0), random.Random(0))


def test_save_and_load_in_a_fresh_process_give_identical_scores(trained):
    model, _, _, folder = trained
    out = model.save(folder / "saved", {"note": "test"})
    assert not list(out.rglob("*.bin")) and not list(out.rglob("*.pkl")) and (out / "model.safetensors").exists()
    meta = json.loads((out / "config.json").read_text())
    assert meta["training"] == {"note": "test"} and meta["cross_encoder"]["pooling"] == "mean"
    docs = ["apple mango", "banana cherry", "grape lemon", "lemon apple"]
    here = model.score("apple", docs)
    code = (
        "import json, sys\nfrom fathom.retrieval.rerank import CrossEncoder\n"
        f"m = CrossEncoder.load({str(out)!r})\n"
        f"print(json.dumps([float(x) for x in m.score('apple', {docs!r})]))\n"
    )
    res = run_fresh(code)
    there = np.array(json.loads(res.stdout.strip().splitlines()[-1]), dtype=np.float32)
    np.testing.assert_array_equal(here, there)


def test_segments_pooling_starts_from_the_cosine_and_round_trips(tmp_path):
    model = CrossEncoder.from_bert_config(TINY_BERT, tiny_tokenizer(tmp_path / "tok"),
                                          CrossEncoderConfig(max_length=16, pooling="segments", scale=7.0))
    assert model.module.scale.item() == 7.0 and model.module.head.weight.abs().sum().item() == 0.0
    s = model.score("apple", ["apple mango", "banana cherry"])
    assert np.all(np.abs(s) <= 7.0 + 1e-5)  # scale * cosine, head silent at the start
    model.module.head.weight.data.fill_(0.1)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(CrossEncoder.load(tmp_path / "m").score("apple", ["apple mango", "banana cherry"]),
                                  model.score("apple", ["apple mango", "banana cherry"]))


def _hits(n: int) -> list[Hit]:
    return [Hit(row=i, score=float(n - i), scores={"bm25": float(n - i), "fused": float(n - i)}) for i in range(n)]


class _ByRow(CrossEncoder):
    """A stand-in model whose logit is the document's row number (read from its text)."""

    def __init__(self) -> None:
        self.config = CrossEncoderConfig()
        self.calls: list[int] = []

    def score(self, query, documents, batch_size=32):
        self.calls.append(len(documents))
        return np.array([float(d.split()[-1]) for d in documents], dtype=np.float32)


def test_reranker_reorders_only_the_top_n_and_keeps_the_rest():
    texts = [f"doc {i}" for i in range(10)]
    model = _ByRow()
    reranker = CrossEncoderReranker(model, texts, RerankConfig(depth=4, batch_size=2))
    out = reranker.rerank("q", _hits(10))
    assert [h.row for h in out] == [3, 2, 1, 0, 4, 5, 6, 7, 8, 9]
    assert [h.scores["rerank"] for h in out[:4]] == [3.0, 2.0, 1.0, 0.0]
    assert all("rerank" not in h.scores for h in out[4:]) and out[4].score == 6.0
    assert out[0].scores["bm25"] == 7.0 and model.calls == [4]
    assert reranker.calls == 1 and reranker.last_seconds >= 0.0
    # through the hybrid helper: depth 3 of a reranker with depth 4 -> only 3 scored
    out = apply_reranker("q", _hits(10), reranker, 3)
    assert [h.row for h in out] == [2, 1, 0, 3, 4, 5, 6, 7, 8, 9]
    assert apply_reranker("q", _hits(3), None, 3)[0].row == 0


def test_fused_weight_mixes_normalised_scores():
    s = rerank_scores(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.0]), 0.5)
    np.testing.assert_allclose(s, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(rerank_scores(np.array([3.0, 1.0]), np.array([0.0, 1.0]), 0.0), [3.0, 1.0])


def test_search_index_rerank_option():
    from fathom.retrieval.search_index import Document, SearchIndex, SearchIndexConfig

    index = SearchIndex(SearchIndexConfig(encoder=None))
    index.add([Document(id=f"d{i}", fields={"title": "red shoe", "text": f"size {i}"}) for i in range(6)])
    reranker = CrossEncoderReranker.for_index(_ByRow(), index)
    plain = index.search("red shoe", k=6, weights={"bm25": 1.0})
    res = index.search("red shoe", k=6, weights={"bm25": 1.0}, reranker=reranker, rerank=3)
    top3 = sorted(h.row for h in plain.hits[:3])
    assert [h.row for h in res.hits[:3]] == sorted(top3, reverse=True)
    assert [h.doc_id for h in res.hits[3:]] == [h.doc_id for h in plain.hits[3:]]
    assert all("rerank" in h.scores for h in res.hits[:3]) and "rerank" not in res.hits[3].scores
    with pytest.raises(ValueError, match="reranker"):
        index.search("red shoe", rerank=3)


class _Blue(_ByRow):
    """A stand-in model that only likes documents mentioning "blue"."""

    def score(self, query, documents, batch_size=32):
        return np.array([float("blue" in d) for d in documents], dtype=np.float32)


def test_evaluation_hybrid_plus_rerank_method(tmp_path):
    from fathom.retrieval.beir import BeirCollection
    from fathom.retrieval.evaluation import SearchEvalConfig, evaluate_collection, results_table
    from tests.retrieval.doubles import HashingEncoder

    corpus = [
        {"_id": "d0", "title": "hat hat hat", "text": "red wool winter"},
        {"_id": "d1", "title": "hat", "text": ""},
        {"_id": "d2", "title": "shoe", "text": "blue"},
    ]
    coll = BeirCollection("tiny", corpus, {"q1": "hat"}, {"q1": {"d2": 1}})  # only a dense candidate
    cfg = SearchEvalConfig(split="all", tune_weights=False, rerank_mix=1.0)
    model = _Blue()
    rows = evaluate_collection(coll, ["hybrid-minilm", "hybrid-minilm+rerank"], cfg,
                               encoder_factory=lambda name: HashingEncoder(), reranker=model)
    plain, reranked, mixed = rows
    assert mixed.method == "hybrid-minilm+rerank(mix 1)" and mixed.ndcg10 == pytest.approx(plain.ndcg10)
    assert mixed.rerank_p50_ms == reranked.rerank_p50_ms  # scores reused, scoring time reported
    assert plain.ndcg10 < 1.0 and reranked.ndcg10 == pytest.approx(1.0) and reranked.mrr10 == pytest.approx(1.0)
    assert plain.rerank_p50_ms == 0.0 and reranked.rerank_p50_ms > 0.0 and reranked.weights == plain.weights
    assert "rerank p50 ms" in results_table(rows) and "rerank" not in results_table(rows[:1])
    with pytest.raises(ValueError, match="need a trained reranker"):
        evaluate_collection(coll, ["hybrid-minilm+rerank"], cfg, encoder_factory=lambda name: HashingEncoder())


def test_search_eval_cli_rejects_rerank_without_a_model(tmp_path, capsys):
    from fathom.cli.main import main

    (tmp_path / "corpus.jsonl").write_text(json.dumps({"_id": "d0", "title": "hat", "text": ""}))
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "hat"}))
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\n")
    assert main(["search-eval", str(tmp_path), "--methods", "hybrid-minilm+rerank"]) == 2
    assert "reranker" in capsys.readouterr().err


def test_bad_input_errors(tmp_path):
    model = tiny_model(tmp_path / "tok")
    with pytest.raises(ValueError, match="non-empty"):
        model.score("  ", ["apple"])
    with pytest.raises(ValueError, match="2 queries but 1"):
        model.score_pairs(["a", "b"], ["apple"])
    with pytest.raises(ValueError, match="batch_size"):
        model.score_pairs(["a"], ["apple"], batch_size=0)
    with pytest.raises(FileNotFoundError, match="not a saved cross-encoder"):
        CrossEncoder.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="Hugging Face model folder"):
        CrossEncoder.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="fused_weight"):
        CrossEncoderReranker(model, ["x"], RerankConfig(fused_weight=2.0))
    with pytest.raises(ValueError, match="depth"):
        CrossEncoderReranker(model, ["x"], RerankConfig(depth=0))
    with pytest.raises(ValueError, match="no training queries"):
        train_cross_encoder(model, {}, {}, {}, {"d": "apple"})
    with pytest.raises(ValueError, match="no training group"):
        train_cross_encoder(model, {"q": "apple"}, {"q": {"missing": 1}}, {}, {"d": "apple"})
    with pytest.raises(Exception, match="extra|forbid"):
        RerankTrainConfig(learning_rate=1.0)
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["encoder"]["hidden_size"] = 64
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="size mismatch|do not match"):
        CrossEncoder.load(tmp_path / "m")


@pytest.mark.slow
def test_real_minilm_cross_encoder_on_scifact(tmp_path):
    """MiniLM scoring pairs jointly ("segments": bi-encoder-initialised), trained briefly on scifact training
    queries, saved and reloaded: it must put the relevant abstract above a random one for most test queries.
    (A fresh linear head after the same 12 steps is at chance here: 16/30 measured.)"""
    from fathom.retrieval.beir import default_data_dir, doc_text, load_beir
    from fathom.retrieval.rerank_beir import RerankBeirConfig, train_for_collection

    if default_data_dir() is None or not (default_data_dir() / "scifact").is_dir():
        pytest.skip("no ../shared/data/scifact")
    cfg = RerankBeirConfig(
        collection="scifact", first_stage="bm25", max_train_queries=48,
        model=CrossEncoderConfig(max_length=128),
        train=RerankTrainConfig(batch_groups=4, hard_negatives=2, random_negatives=1, lr=5e-5, log_every=4),
    )
    model, report = train_for_collection(cfg, tmp_path / "ce")
    assert report.steps == 12
    loaded = CrossEncoder.load(tmp_path / "ce")
    coll = load_beir("scifact")
    docs = {str(d["_id"]): doc_text(d) for d in coll.corpus}
    rng = random.Random(1)
    wins = total = 0
    for qid, text in list(coll.judged_queries().items())[:30]:
        pos = next(d for d, g in coll.qrels[qid].items() if g > 0)
        neg = rng.choice([d for d in docs if d not in coll.qrels[qid]])
        s = loaded.score(text, [docs[pos], docs[neg]])
        wins += int(s[0] > s[1])
        total += 1
    assert wins / total >= 0.8
