"""Benchmark protocol plumbing: published figures beside ours, model selection by label, merging a partial re-run."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from fathom.benchmarks.protocols import _merge_previous, comparison_rows, get_protocol, run_protocol
from fathom.evaluate.experiment import ModelResult, PeakMemory


def _result(label: str, ndcg: float) -> ModelResult:
    return ModelResult(
        label=label, model=label.lower(), config={}, valid={"ndcg@10": ndcg}, test={"ndcg@10": ndcg, "recall@10": 0.1},
        fit_seconds=1.0, seconds_per_epoch=None, epochs=None, eval_seconds=0.5, peak_memory_mb=10.0, history=[],
        candidates=[],
    )


def test_general_protocol_lists_every_published_model():
    protocol = get_protocol("ml1m-general")
    labels = [spec.title for spec in protocol.specs]
    assert labels == ["Pop", "ItemKNN", "BPR", "NeuMF", "EASE", "LightGCN", "MultVAE", "ADMMSLIM"]
    assert set(protocol.published) == set(labels)
    assert protocol.published["ADMMSLIM"]["RecBole ndcg@10"] == 0.2904


def test_comparison_rows_put_the_difference_and_the_split_spread_beside_ours():
    protocol = get_protocol("ml1m-general")
    rows = comparison_rows(protocol, [_result("EASE", 0.2900)], {"EASE": {"mean": 0.28, "std": 0.004, "splits": 5}})
    assert rows[0]["RecBole ndcg@10"] == 0.2865
    assert rows[0]["vs RecBole"] == "+0.0035"
    assert rows[0]["ndcg@10 over splits"] == "0.2800 ± 0.0040 (5)"


def test_merge_replaces_rerun_models_and_keeps_the_rest_in_protocol_order(tmp_path):
    old = [_result("Pop", 0.10), _result("BPR", 0.20), _result("EASE", 0.28)]
    payload = {"results": [asdict(r) for r in old], "split_spread": {"Pop": {"mean": 0.1, "std": 0.0, "splits": 5}}}
    (tmp_path / "leaderboard.json").write_text(json.dumps(payload))
    merged, spread = _merge_previous(tmp_path, ["Pop", "BPR", "EASE"], [_result("BPR", 0.25)], {})
    assert [r.label for r in merged] == ["Pop", "BPR", "EASE"]
    assert [r.test["ndcg@10"] for r in merged] == [0.10, 0.25, 0.28]
    assert spread == {"Pop": {"mean": 0.1, "std": 0.0, "splits": 5}}


def test_merge_without_a_previous_run_returns_the_new_rows(tmp_path):
    merged, _ = _merge_previous(tmp_path, ["Pop", "BPR"], [_result("BPR", 0.25)], {})
    assert [r.label for r in merged] == ["BPR"]


def test_unknown_model_label_is_a_clear_error(tmp_path):
    with pytest.raises(KeyError, match="unknown model label.*'SVD'"):
        run_protocol("ml1m-general", out_dir=tmp_path, only=["SVD"])


def test_peak_memory_sees_a_fit_sized_allocation_after_freeing_earlier_ones():
    earlier = [bytes(1000) for _ in range(50_000)]  # small blocks from the C heap, freed before the measurement
    del earlier
    with PeakMemory(interval=0.005) as mem:
        block = np.ones(25_000_000, dtype=np.float32)  # 100 MB, touched
        block += 1
        del block
    assert 80 <= mem.peak_mb < 400
