"""The cost-growth benchmark (benchmarks/scaling.py): its synthetic logs have the shape it claims, and one size is
measured and written (the full run is the benchmark's)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scaling.py"


@pytest.fixture(scope="module")
def scaling():
    spec = importlib.util.spec_from_file_location("fathom_scaling_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_logs_have_a_popular_head_and_one_held_out_item_per_user(scaling):
    train, test = scaling.synthetic("S1")
    n_users, n_items, n_events = scaling.SIZES["S1"]
    assert len(test) == test.n_users == n_users == len(np.unique(test.user))  # every user: one test item
    assert 0.7 * n_events < len(train) + len(test) <= 1.1 * n_events
    pairs = train.user.astype(np.int64) * n_items + train.item
    assert len(np.unique(pairs)) == len(pairs)  # a repeated pair is one interaction
    assert not np.isin(test.user.astype(np.int64) * n_items + test.item, pairs).any()
    counts = np.sort(np.bincount(train.item, minlength=n_items))[::-1]
    assert counts[:10].sum() > 10 * counts[n_items // 2 - 5 : n_items // 2 + 5].sum()  # power law: a heavy head
    last = {u: t for u, t in zip(train.user, train.timestamp, strict=True)}
    assert all(t > last.get(u, -1) for u, t in zip(test.user, test.timestamp, strict=True))  # the last one held out


def test_one_size_is_measured_and_written_and_oversized_steps_say_why(scaling):
    row = scaling.measure_model("S1", "pop")
    assert row["fit_s"] > 0 and row["eval_users"] == 2_000 and row["peak_mb"] >= row["fit_peak_mb"] > 0
    assert 0 < row["ndcg@10"] < 1 and row["recommend_ms"] > 0
    search = scaling.measure_search("S1")
    assert search["items"] == 1_000 and search["vector_index"] == "ExactIndex"
    assert 0 < search["query_p50_ms"] <= search["query_p99_ms"]
    assert scaling.skip_reason("S1", "ease") is None
    assert scaling.skip_reason("S3", "ease").startswith("not run: its items x items matrices need about 240 GB")
    text = scaling.render({"meta": {"command": "python benchmarks/scaling.py", "date": "today", "machine": "here"},
                           "data": {"S1": row["train_interactions"]},
                           "models": [{"model": "pop", "size": "S1", **row},
                                      {"model": "ease", "size": "S3", "skipped": scaling.skip_reason("S3", "ease")}],
                           "search": [{"size": "S1", **search}]})
    assert "| pop (popularity) | S1 |" in text and "| ease (linear autoencoder) | S3 | not run" in text
    assert "| S1 | 1,000 | ExactIndex |" in text
