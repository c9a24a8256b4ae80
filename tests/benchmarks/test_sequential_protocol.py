"""The 'ml-1m seq' runner on a small synthetic data set: selection on validation, test scoring, merged tables."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fathom.benchmarks.sequential import (
    load_results,
    load_timing,
    main,
    run_seq_protocol,
    seq_prepare_config,
    seq_split,
    time_epochs,
    write_tables,
)
from fathom.data.interactions import Interactions
from fathom.data.prepare import PrepareConfig
from fathom.evaluate.experiment import ModelSpec

N_ITEMS, N_USERS, LENGTH = 30, 60, 14
SASREC = {"max_len": 8, "factors": 16, "n_blocks": 1, "n_heads": 1, "ffn_size": 32, "dropout": 0.0,
          "epochs": 30, "patience": 30, "lr": 0.01, "batch_size": 32, "progress": False, "seed": 0}


@pytest.fixture(scope="module")
def cyclic_walks():
    """Each user walks the item cycle one step at a time from a random start: the next item is always last + 1."""
    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for u in range(N_USERS):
        start = int(rng.integers(N_ITEMS))
        for t in range(LENGTH):
            users.append(u)
            items.append((start + t) % N_ITEMS)
            times.append(1000 * u + t)
    inter = Interactions.from_arrays(np.array(users), np.array(items), N_USERS, N_ITEMS, timestamp=np.array(times))
    split = seq_split(inter)
    return SimpleNamespace(train=split.train, valid=split.valid, test=split.test)


@pytest.fixture(scope="module")
def results(cyclic_walks):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        specs = [ModelSpec("sasrec", [{**SASREC, "lr": 1e-5}, SASREC], label="SASRec"), ModelSpec("pop", label="Pop")]
        return run_seq_protocol(specs, data=cyclic_walks, log=lambda _: None)
    finally:
        torch.set_num_threads(before)


def test_sequential_model_learns_the_next_item_and_the_grid_is_chosen_on_validation(results):
    sasrec, pop = results
    assert [c[next(k for k in c if k.startswith("valid"))] for c in sasrec.candidates][1] > 0.5
    assert sasrec.config["lr"] == SASREC["lr"]  # the learning candidate beats the (almost) frozen one
    # the test item follows the validation item, which only a model that reads the extended history can predict
    assert sasrec.test["hit@10"] > 0.9 and sasrec.test["ndcg@10"] > 0.6
    assert pop.test["ndcg@10"] < 0.3  # every item is equally popular: no order to exploit
    assert sasrec.seconds_per_epoch is not None and sasrec.epochs and sasrec.peak_memory_mb >= 0


def test_tables_are_written_and_only_reruns_keep_the_other_rows(results, tmp_path):
    sasrec, pop = results
    paths = write_tables([sasrec, pop], tmp_path)
    table = paths["markdown"].read_text()
    assert "| SASRec |" in table and "| Pop |" in table and "RecBole ndcg@10" in table
    assert paths["picture"].stat().st_size > 0 and "ml1m_seq.png" in table
    rows = {r["model"]: r for r in json.loads(paths["json"].read_text())["rows"]}
    assert rows["SASRec"]["RecBole ndcg@10"] == 0.1286 and rows["Pop"]["RecBole ndcg@10"] is None
    assert rows["SASRec"]["ndcg@10"] == round(sasrec.test["ndcg@10"], 4)
    rerun = type(pop)(**{**pop.__dict__, "test": {**pop.test, "ndcg@10": 0.0}})
    write_tables([rerun], tmp_path, merge=True)
    merged = {r.label: r for r in load_results(paths["json"])}
    assert set(merged) == {"SASRec", "Pop"} and merged["Pop"].test["ndcg@10"] == 0.0
    assert merged["SASRec"].test == sasrec.test
    write_tables([rerun], tmp_path, merge=False)
    assert [r.label for r in load_results(paths["json"])] == ["Pop"]
    assert "RecBole's own split (float32 time)" in paths["markdown"].read_text()
    exact = write_tables([rerun], tmp_path / "exact", timestamps="exact")
    assert "protocol, exact time" in exact["markdown"].read_text()
    assert json.loads(exact["json"].read_text())["timestamps"] == "exact"


def test_seq_data_orders_by_recboles_float32_time_unless_asked_for_exact_time():
    assert seq_prepare_config() == PrepareConfig.recbole_seq() and seq_prepare_config().timestamps == "float32"
    exact = seq_prepare_config("exact")
    assert exact.timestamps == "exact" and exact.replace(timestamps="float32") == seq_prepare_config()


def test_only_naming_no_config_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "ml1m_seq_sasrec.json").write_text(json.dumps({"model": "sasrec", "label": "SASRec", "config": {}}))
    with pytest.raises(SystemExit):
        main(["--configs", str(tmp_path), "--only", "BERT4Rec"])
    assert "BERT4Rec" in capsys.readouterr().err


def test_epochs_timed_alone_join_the_table_and_survive_a_merge(results, cyclic_walks, tmp_path):
    sasrec, pop = results
    timing = time_epochs([sasrec, pop], cyclic_walks, epochs=2, log=lambda _: None)
    assert set(timing) == {"SASRec"} and timing["SASRec"] > 0  # Pop has no epochs to time
    paths = write_tables([sasrec, pop], tmp_path, timing=timing)
    rows = {r["model"]: r for r in json.loads(paths["json"].read_text())["rows"]}
    assert rows["SASRec"]["s/epoch timed alone"] == round(timing["SASRec"], 1)
    assert rows["Pop"]["s/epoch timed alone"] is None
    write_tables([pop], tmp_path, merge=True)  # re-running another model keeps SASRec's timing
    assert load_timing(paths["json"]) == timing
    assert "s/epoch timed alone" in paths["markdown"].read_text()


def test_time_only_needs_saved_results(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--time-only", "2", "--out", str(tmp_path)])
    assert "no saved results" in capsys.readouterr().err


def test_tune_seq_starts_from_the_benchmark_config_and_writes_a_spec_the_benchmark_replays(cyclic_walks, tmp_path):
    from fathom.benchmarks.sequential import load_seq_specs, tune_seq, write_seq_config
    from fathom.evaluate.tuning import parse_space

    committed = tmp_path / "committed"
    committed.mkdir()
    start = {**SASREC, "epochs": 8, "patience": 8}
    (committed / "ml1m_seq_sasrec.json").write_text(json.dumps({"model": "sasrec", "label": "SASRec",
                                                                 "config": start}))
    variant = {**start, "factors": 2 * SASREC["factors"], "history_bias": True}  # a second row of the same model
    (committed / "ml1m_seq_sasrec_history.json").write_text(json.dumps({"model": "sasrec", "label": "SASRec + "
                                                                         "history bias", "config": variant}))
    space = parse_space({"lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True}})
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = tune_seq("sasrec", space, {"dropout": 0.1}, n_trials=2, timeout_s=None, seed=1,
                          configs=committed, data=cyclic_walks, log=lambda _: None)
        assert len(result.trials) == 2 and result.metric == "ndcg@10"
        assert result.best_value == max(t["ndcg@10"] for t in result.trials)
        # every trial keeps the committed settings, with --set over them and the searched one over both
        for t in result.trials:
            assert t["settings"]["factors"] == SASREC["factors"] and t["settings"]["dropout"] == 0.1
            assert "history_bias" not in t["settings"]  # the model's own row, not the variant beside it
            assert 1e-3 <= t["settings"]["lr"] <= 3e-2
        out = tmp_path / "tuned"
        path = write_seq_config(result, out / "ml1m_seq_sasrec.json")
        assert path.with_suffix(".trials.json").is_file()
        specs = load_seq_specs(out)  # the trial log beside the spec is not a model
        assert [(s.model, s.label) for s in specs] == [("sasrec", "SASRec")]
        assert specs[0].grid == [result.best_settings]
        replayed = run_seq_protocol(specs, data=cyclic_walks, log=lambda _: None)[0]
    finally:
        torch.set_num_threads(before)
    assert replayed.valid["ndcg@10"] == pytest.approx(result.best_value)
