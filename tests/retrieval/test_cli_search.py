import argparse
import json

import pytest

from fathom.cli import search, search_eval


def _run(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


@pytest.fixture
def catalogue(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_text(
        "id,title,description,genre,price\n"
        "1,The Funny Holiday,A comedy about a family trip,Comedy,10\n"
        "2,Dark Night,A crime drama in a rainy city,Drama|Crime,60\n"
        "3,Laugh Out Loud,Stand-up comedy special,Comedy,5\n"
        "4,Family Drama,A comedy drama about a family,Comedy|Drama,30\n"
    )
    return path


def test_build_then_search_with_filters(tmp_path, catalogue, capsys):
    folder = tmp_path / "idx"
    assert _run(search, [str(folder), "--build", str(catalogue), "--encoder", "none"]) == 0
    capsys.readouterr()
    argv = [str(folder), "comedy", "--filter", "genre=Comedy", "--range", "price=0:20", "--json"]
    assert _run(search, argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {h["id"] for h in out["hits"]} == {"1", "3"}
    assert out["facets"]["genre"] == {"Comedy": 2}
    assert set(out["hits"][0]["scores"]) == {"bm25", "fused"}
    assert _run(search, [str(folder), "comdy"]) == 0  # typo: corrected, table output
    text = capsys.readouterr().out
    assert "comdy -> comedy" in text and "bm25=" in text  # words as typed and as written, not stems


def test_search_eval_on_a_tiny_collection(tmp_path, capsys):
    (tmp_path / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": f"d{i}", "title": t, "text": ""}) for i, t in enumerate(["red shoe", "blue hat"]))
    )
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "hat"}))
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert _run(search_eval, [str(tmp_path), "--methods", "bm25"]) == 0
    assert "| 1.0000 |" in capsys.readouterr().out


def test_search_reranks_the_top_hits_with_a_saved_cross_encoder(tmp_path, catalogue, capsys):
    pytest.importorskip("transformers")
    from tests.retrieval.test_rerank import tiny_model

    folder, model_dir = tmp_path / "idx", tmp_path / "reranker"
    tiny_model(tmp_path / "tok").save(model_dir)
    assert _run(search, [str(folder), "--build", str(catalogue), "--encoder", "none"]) == 0
    capsys.readouterr()
    argv = [str(folder), "comedy family", "--json", "--reranker", str(model_dir), "--rerank-depth", "2"]
    assert _run(search, [*argv, "--rerank-mix", "0"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert ["rerank" in h["scores"] for h in hits] == [True, True, False]  # 3 matches, the top 2 reordered
    reranked = [h["scores"]["rerank"] for h in hits[:2]]
    assert reranked == sorted(reranked, reverse=True)  # mix 0: the cross-encoder's order alone
    with pytest.raises(ValueError, match="--rerank-mix"):
        _run(search, [*argv, "--rerank-mix", "1.5"])
    with pytest.raises(FileNotFoundError, match="cross-encoder"):
        _run(search, [str(folder), "comedy", "--reranker", str(tmp_path / "nothing")])
