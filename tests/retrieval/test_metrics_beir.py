import json

import pytest

from fathom.metrics.queries import mean_metrics
from fathom.metrics.queries import query_mrr as mrr_at_k
from fathom.metrics.queries import query_ndcg as ndcg_at_k
from fathom.metrics.queries import query_recall as recall_at_k
from fathom.retrieval.beir import hash_split, load_beir, split_queries


def test_metrics_known_values():
    qrels = {"a": 2, "b": 1, "c": 0}
    ranked = ["c", "a", "x", "b"]
    import math

    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(dcg / idcg)
    assert recall_at_k(ranked, qrels, 2) == 0.5
    assert mrr_at_k(ranked, qrels, 10) == 0.5
    assert mrr_at_k(ranked, qrels, 1) == 0.0


def test_metrics_agree_with_trec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels = {"q1": {"d1": 3, "d2": 1, "d5": 2, "d9": 0}, "q2": {"d3": 1, "d4": 2}}
    runs = {"q1": ["d9", "d5", "d7", "d1", "d2"] + [f"x{i}" for i in range(8)], "q2": ["d8", "d4"]}
    ours = {q: (ndcg_at_k(r, qrels[q], 10), recall_at_k(r, qrels[q], 100)) for q, r in runs.items()}
    trec_run = {q: {d: float(100 - i) for i, d in enumerate(r)} for q, r in runs.items()}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "recip_rank"})
    res = ev.evaluate(trec_run)
    for q in runs:
        assert ours[q][0] == pytest.approx(res[q]["ndcg_cut_10"], abs=1e-6)
        assert ours[q][1] == pytest.approx(res[q]["recall_100"], abs=1e-6)
        assert mrr_at_k(runs[q], qrels[q], 10) == pytest.approx(res[q]["recip_rank"], abs=1e-6)
    assert mean_metrics(runs, qrels)["ndcg@10"] == pytest.approx(
        (res["q1"]["ndcg_cut_10"] + res["q2"]["ndcg_cut_10"]) / 2
    )


def test_hash_split_is_deterministic_and_balanced():
    ids = [f"q{i}" for i in range(2000)]
    labels = [hash_split(i) for i in ids]
    assert labels == [hash_split(i) for i in ids]
    assert 0.45 < labels.count("test") / len(ids) < 0.55
    assert hash_split("q1") == "train" and hash_split("q2") == "test"  # pinned: the rule must never drift
    qs = {i: "t" for i in ids}
    assert set(split_queries(qs, "train")) | set(split_queries(qs, "test")) == set(ids)


def test_load_beir_folder(tmp_path):
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "T", "text": "x"}) + "\n")
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "x"}) + "\n")
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    c = load_beir(tmp_path)
    assert c.doc_ids == ["d1"] and c.qrels == {"q1": {"d1": 2}} and c.judged_queries() == {"q1": "x"}
