"""fathom demo: a run folder that already holds the main job's models is reused (one line says so) unless --retrain;
it is retrained when the model settings changed or a model is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fathom.quickstart as quickstart
from fathom.cli.main import main
from fathom.data.dataset import Dataset
from fathom.data.records import Catalog, EventTable
from fathom.evaluate.experiment import ModelSpec

SPECS = [ModelSpec("pop", label="pop"), ModelSpec("itemknn", [{"neighbours": 5}], label="itemknn")]


def tiny_movielens() -> Dataset:
    """Two taste communities of 20 users and 15 movies each; user "196" (the demo's example) is one of them."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        user = "196" if u == 0 else str(u)
        for m in rng.choice(15, size=8, replace=False) + (0 if u < 20 else 15):
            rows.append((user, str(m), "rating", float(rng.integers(1, 6)), int(rng.integers(0, 10**6))))
    events = EventTable(pd.DataFrame(rows, columns=["user_id", "item_id", "event", "value", "timestamp"]))
    ids = [str(m) for m in range(30)]
    catalog = Catalog(pd.DataFrame({"item_id": ids, "title": [f"Movie {m}" for m in ids]}))
    return Dataset("movielens-100k", events, catalog)


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """``fathom demo`` on the tiny data with two cheap models; ``trained`` counts the training runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(quickstart, "load_builtin", lambda name: tiny_movielens())
    monkeypatch.setattr(quickstart, "DEMO_SPECS", SPECS)
    trained = []
    real = quickstart.run_models

    def counted(specs, *args, **kwargs):
        trained.append(specs)
        return real(specs, *args, **kwargs)

    monkeypatch.setattr(quickstart, "run_models", counted)
    return trained


def test_a_second_demo_reuses_the_trained_models(demo, tmp_path, capsys):
    assert main(["demo", "--out", "runs/demo"]) == 0
    first = capsys.readouterr().out
    assert "3/4 training and evaluating" in first and len(demo) == 1
    assert (tmp_path / "runs/demo/demo.json").is_file()

    assert main(["demo", "--out", "runs/demo"]) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[0] == "reusing the models trained in runs/demo (fathom demo --retrain trains them again)"
    assert "3/4" not in again and len(demo) == 1  # nothing trained
    table = lambda text: [ln for ln in text.splitlines() if ln.startswith("| ")]  # noqa: E731
    assert table(again) == table(first) and "4/4 example: user 196 liked" in again

    assert main(["demo", "--out", "runs/demo", "--retrain"]) == 0
    assert "reusing" not in capsys.readouterr().out and len(demo) == 2


def test_changed_settings_or_a_missing_model_train_again(demo, tmp_path, monkeypatch, capsys):
    assert main(["demo", "--out", "runs/demo"]) == 0
    monkeypatch.setattr(quickstart, "DEMO_SPECS", [SPECS[0], ModelSpec("itemknn", [{"neighbours": 7}],
                                                                       label="itemknn")])
    assert main(["demo", "--out", "runs/demo"]) == 0
    assert len(demo) == 2 and "reusing" not in capsys.readouterr().out
    (tmp_path / "runs/demo/models/pop/model.json").unlink()
    assert main(["demo", "--out", "runs/demo"]) == 0
    assert len(demo) == 3 and "reusing" not in capsys.readouterr().out
