"""The like-for-like speed benchmark: one row per model with RecBole's figures beside ours, written as files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fathom.benchmarks.speed import SPEED_SPECS, SpeedSpec, main, time_models, write_speed_table
from fathom.data.interactions import Interactions


def _split(n_users=40, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    parts = {"train": [], "valid": [], "test": []}
    for u in range(n_users):
        items = rng.choice(n_items, size=12, replace=False)
        for name, chunk in zip(parts, (items[:10], items[10:11], items[11:]), strict=True):
            parts[name] += [(u, int(i)) for i in chunk]
    return [Interactions.from_arrays(np.array(p)[:, 0], np.array(p)[:, 1], n_users, n_items) for p in parts.values()]


def test_every_model_is_timed_at_recboles_settings_and_written(tmp_path):
    train, valid, test = _split()
    specs = [SpeedSpec(s.label, s.model, {**s.settings, "batch_size": 64} if "batch_size" in s.settings
                       else s.settings, s.recbole) for s in SPEED_SPECS]
    rows = time_models(specs, train, valid, test, epochs=3, log=lambda _: None)
    assert [r["model"] for r in rows] == ["BPR", "NeuMF", "LightGCN", "MultVAE", "EASE"]
    by = {r["model"]: r for r in rows}
    for label in ("BPR", "NeuMF", "LightGCN", "MultVAE"):  # trained by epochs: the warm-up epoch is not counted
        assert by[label]["epochs timed"] == 2 and by[label]["s/epoch"] is not None and by[label]["fit s"] is None
    for label in ("BPR", "NeuMF", "LightGCN"):
        assert "n_neg 1" in by[label]["settings"] or "neg_ratio 1" in by[label]["settings"]
    assert "latent 128, dropout 0.5" in by["MultVAE"]["settings"] and by["MultVAE"]["RecBole s/epoch"] == 0.96
    assert by["EASE"]["s/epoch"] is None and by["EASE"]["fit s"] is not None and by["EASE"]["RecBole fit s"] == 1.4
    assert by["BPR"]["RecBole s/epoch"] == 1.1 and by["NeuMF"]["RecBole eval s"] == 24.0
    assert by["NeuMF"]["RecBole time / ours"].startswith("s/epoch x")
    assert all(r["eval s"] is not None and r["peak MB"] >= 0 for r in rows)

    paths = write_speed_table(rows, tmp_path, {"epochs": 3, "seconds": 1.0, "machine": "x", "python": "3",
                                               "threads": 1})
    assert json.loads(paths["json"].read_text())["rows"] == rows
    table = paths["markdown"].read_text()
    assert "| BPR | batch_size 64, n_neg 1 |" in table and "2,048 positive pairs per batch" in table


def test_the_recbole_setup_is_one_negative_per_pair_in_batches_of_2048():
    for spec in SPEED_SPECS:
        if "batch_size" in spec.settings:  # pairs for the pairwise models, users for Mult-VAE (RecBole's default)
            assert spec.settings["batch_size"] == 2048
            if spec.model != "multvae":
                assert spec.settings.get("n_neg", spec.settings.get("neg_ratio")) == 1


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--epochs", "1"])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--only", "SASRec"])
