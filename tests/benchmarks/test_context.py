"""The context-aware protocols on a MovieLens-1M sample (quick mode): FM / DeepFM, MMoE vs single task, imbalance.
The three tables and the tuning round trip train for about two minutes, so they are marked slow; the quick CLI
tuning test below runs each protocol's code path in seconds."""

from __future__ import annotations

import json

import pytest

from fathom.benchmarks.context import context_protocol, main, tune_context
from fathom.evaluate.tuning import parse_space


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    out = tmp_path_factory.mktemp("context")
    return main(["--quick", "--out", str(out)]), out


@pytest.mark.slow
def test_fm_and_deepfm_learn_the_ctr_task(tables):
    rows, out = tables
    by_model = {r["model"]: r for r in rows["context"]}
    for name in ("FM", "DeepFM"):
        row = next(r for label, r in by_model.items() if label.startswith(name))
        assert 0.70 < row["test auc"] <= 1.0  # 600 users, 3 epochs: well above chance (0.5)
        assert 0.0 < row["test log loss"] < 0.5  # the base rate alone (79% positive) scores 0.51
        assert row["peak MB"] >= 0 and row["s/epoch"] > 0
    assert json.loads((out / "ml1m_context.json").read_text())


@pytest.mark.slow
def test_multitask_reports_both_tasks_beside_single_task_models(tables):
    rows, _ = tables
    mt = rows["multitask"]
    mmoe = next(r for r in mt if r["model"].startswith("MMoE"))
    assert mmoe["interact auc"] > 0.7 and mmoe["like auc"] > 0.6
    assert {r["tasks"] for r in mt} >= {"interact+like", "interact", "like"}
    assert all(r["peak MB"] >= 0 for r in mt)


@pytest.mark.slow
def test_imbalance_switches_move_recall_at_one_half(tables):
    rows, _ = tables
    ctr = {r["switch"]: r for r in rows["imbalance"] if r["task"].startswith("CTR")}
    # on 10% positives an unweighted model almost never predicts p >= 0.5; balanced class weights make it do so
    assert ctr["class weights (balanced)"]["recall@0.5"] > ctr["none"]["recall@0.5"]
    assert all(r["test positive share"] < 0.2 for r in ctr.values())


@pytest.mark.slow
def test_tuning_on_the_context_protocol_writes_a_config_the_benchmark_replays(tmp_path):
    space = parse_space({"lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}})
    result = tune_context("fm", space, n_trials=2, timeout_s=None, quick=True, log=lambda m: None)
    assert len(result.trials) == 2 and result.metric == "auc"
    assert result.best_value == max(t["auc"] for t in result.trials) > 0.6
    assert result.best_settings["embedding_dim"] == 16 and result.best_settings["monitor"] == "auc"  # protocol base
    result.write(tmp_path / "ml1m_context_fm.json")
    rows = context_protocol(quick=True, configs=tmp_path, log=lambda m: None)
    fm = next(r for r in rows if r["model"] == "FM")
    assert fm["valid auc"] == round(result.best_value, 4)  # the benchmark replays the tuned settings exactly
    assert fm["settings"]["lr"] == float(f"{result.best_settings['lr']:.3g}")  # shown to 3 significant digits
    with pytest.raises(KeyError, match="no setting"):
        tune_context("fm", parse_space({"dropout": {"type": "float", "low": 0, "high": 1}}), n_trials=1, quick=True)


def test_cli_tune_protocol_refuses_models_and_metrics_it_cannot_tune(capsys):
    from fathom.cli.main import main as cli

    with pytest.raises(SystemExit, match="tunes fm or deepfm, not ease"):
        cli(["tune", "ease", "--protocol", "ml1m-context"])
    with pytest.raises(SystemExit, match="validation auc, not ndcg@10"):
        cli(["tune", "deepfm", "--protocol", "ml1m-context", "--metric", "ndcg@10"])


def test_cli_tune_quick_runs_each_protocol_on_a_sample_and_writes_the_file_its_benchmark_replays(tmp_path, capsys):
    from fathom.benchmarks.sequential import load_seq_specs
    from fathom.cli.main import main as cli

    space = tmp_path / "space.json"
    space.write_text(json.dumps({"lr": {"type": "float", "low": 1e-3, "high": 3e-3, "log": True}}))
    fm = tmp_path / "ml1m_context_fm.json"
    assert cli(["tune", "fm", "--protocol", "ml1m-context", "--quick", "--trials", "1", "--space", str(space),
                "--out", str(fm)]) == 0
    assert "best validation auc" in capsys.readouterr().out
    assert json.loads(fm.read_text())["epochs"] == 3  # the quick run's few epochs
    gru = tmp_path / "ml1m_seq_gru4rec.json"
    assert cli(["tune", "gru4rec", "--protocol", "ml1m-seq", "--quick", "--trials", "1", "--space", str(space),
                "--set", "factors=16", "--set", "hidden_size=16", "--out", str(gru)]) == 0
    out = capsys.readouterr().out
    assert "best validation ndcg@10" in out and "after 1 trials" in out
    (spec,) = load_seq_specs(tmp_path)
    trials = json.loads(gru.with_suffix(".trials.json").read_text())
    assert spec.model == "gru4rec" and spec.grid[0]["epochs"] == 2 and spec.grid[0]["factors"] == 16
    assert 0 < trials["best_value"] < 1 and set(trials["space"]) == {"lr"}


def test_cli_tune_quick_needs_a_protocol():
    from fathom.cli.main import main as cli

    with pytest.raises(SystemExit, match="give --protocol"):
        cli(["tune", "ease", "--quick"])
