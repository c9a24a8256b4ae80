import numpy as np
import pytest

from fathom.retrieval.adaptation import adaptation_splits, judgement_pairs, rename_encoder, split_validation
from fathom.retrieval.beir import BeirCollection, default_data_dir, load_beir, split_queries
from fathom.text.encoders import CachedEncoder
from tests.retrieval.doubles import HashingEncoder


def test_split_validation_is_seeded_disjoint_and_sized():
    ids = [f"q{i}" for i in range(50)]
    train, val = split_validation(ids, 0.2, seed=3)
    assert len(val) == 10 and len(train) == 40
    assert set(train) | set(val) == set(ids) and not set(train) & set(val)
    assert train == [q for q in ids if q in set(train)]  # input order kept
    assert split_validation(ids, 0.2, seed=3) == (train, val)
    assert split_validation(ids, 0.2, seed=4)[1] != val
    assert len(split_validation(ids, 0.5, seed=3, max_queries=7)[1]) == 7
    assert len(split_validation(["a", "b"], 0.01)[1]) == 1
    with pytest.raises(ValueError):
        split_validation(ids, 1.0)


def test_judgement_pairs_known_answer():
    queries = {"q1": "red shoes", "q2": "lamp"}
    qrels = {"q1": {"a": 3, "b": 1, "c": 0, "zz": 3}, "q2": {"d": 2}, "q3": {"a": 3}}
    docs = {"a": "A", "b": "B", "c": "C", "d": "D"}
    assert judgement_pairs(queries, qrels, docs) == [("red shoes", "A"), ("red shoes", "B"), ("lamp", "D")]
    assert judgement_pairs(queries, qrels, docs, min_grade=2) == [("red shoes", "A"), ("lamp", "D")]
    with pytest.raises(ValueError):
        judgement_pairs(queries, qrels, docs, min_grade=0)


def test_judgement_pairs_cap_keeps_highest_grades():
    qrels = {"q": {f"d{i}": g for i, g in enumerate([1, 3, 2, 3, 1, 3])}}
    docs = {f"d{i}": f"D{i}" for i in range(6)}
    for seed in range(5):
        pairs = judgement_pairs({"q": "x"}, qrels, docs, max_per_query=2, seed=seed)
        assert len(pairs) == 2 and {p[1] for p in pairs} <= {"D1", "D3", "D5"}
    pairs = judgement_pairs({"q": "x"}, qrels, docs, max_per_query=4)
    assert {p[1] for p in pairs} == {"D1", "D3", "D5", "D2"}


def test_renamed_encoders_do_not_share_cached_vectors(tmp_path):
    base = CachedEncoder(HashingEncoder(dim=8), root=tmp_path)
    v_base = base.encode(["red shoes"])
    other = HashingEncoder(dim=8, aliases={"red": "blue"})  # different "weights", same class name
    renamed = CachedEncoder(rename_encoder(other, "hashing-test+adapted-1"), root=tmp_path)
    v_new = renamed.encode(["red shoes"])
    assert not np.allclose(v_base, v_new)
    np.testing.assert_allclose(v_new, other.encode(["red shoes"]))
    same_name = CachedEncoder(HashingEncoder(dim=8, aliases={"red": "blue"}), root=tmp_path)
    np.testing.assert_allclose(same_name.encode(["red shoes"]), v_base)  # the hazard renaming avoids


def _collection(official_train: bool) -> BeirCollection:
    corpus = [{"_id": f"d{i}", "title": f"doc {i}", "text": ""} for i in range(4)]
    queries = {f"q{i}": f"query {i}" for i in range(40)}
    qrels = {q: {"d0": 1} for q in queries}
    qrels["q39"] = {"d1": 0}  # judged, nothing relevant: never a test query
    coll = BeirCollection("toy", corpus, queries, qrels)
    if official_train:
        coll.train_queries = {f"t{i}": f"train {i}" for i in range(20)}
        coll.train_qrels = {q: {"d2": 2} for q in coll.train_queries}
        coll.train_qrels["t19"] = {"d2": 0}  # no positive: left out of training
    return coll


@pytest.mark.parametrize("official_train", [False, True])
def test_adaptation_splits_are_disjoint_and_follow_the_protocol(official_train):
    coll = _collection(official_train)
    s = adaptation_splits(coll, 0.25, seed=1)
    train, val, test = set(s.train), set(s.validation), set(s.test)
    assert not (train & val or train & test or val & test)
    if official_train:
        assert test == set(coll.judged_queries()) and len(test) == 39
        assert train | val == {f"t{i}" for i in range(19)} and len(val) == 5
    else:
        assert test == set(split_queries(coll.judged_queries(), "test"))
        assert train | val == set(split_queries(coll.judged_queries(), "train"))
        assert len(val) == round(0.25 * (len(train) + len(val)))
    assert s.qrels["q0"] == {"d0": 1} and (not official_train or s.qrels["t0"] == {"d2": 2})


@pytest.mark.slow
@pytest.mark.parametrize(("name", "n_test"), [("crowdflower", 126), ("scifact", 300)])
def test_real_collection_splits(name, n_test):
    if default_data_dir() is None or not (default_data_dir() / name).is_dir():
        pytest.skip(f"search collection {name} not found under ../shared/data (or $FATHOM_SEARCH_DATA)")
    coll = load_beir(name)
    s = adaptation_splits(coll, 0.2, seed=0)
    assert len(s.test) == n_test  # crowdflower: the held-out half of benchmarks/search_beir.py
    assert not (set(s.train) & set(s.test) or set(s.validation) & set(s.test) or set(s.train) & set(s.validation))
    docs = {str(d["_id"]): d.get("title") or "" for d in coll.corpus}
    pairs = judgement_pairs(s.train, s.qrels, docs)
    test_texts = set(s.test.values())
    assert pairs and not any(q in test_texts and q not in set(s.train.values()) for q, _ in pairs)
