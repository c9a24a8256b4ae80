"""Data-parallel training (:mod:`fathom.models.distributed`): two processes of a real gloo process group take the
same steps as one process with the whole batch, every process ends with the same weights, and the sharded
validation gives the full validation's figure."""

from __future__ import annotations

import json
import multiprocessing
import traceback

import numpy as np
import pytest
import torch
from torch import nn

from fathom.models.distributed import shard_batches
from fathom.models.training import Objective, TrainConfig, Trainer


def test_shard_batches_gives_each_process_one_batch_of_every_full_group():
    batches = list(range(7))
    assert [list(shard_batches(batches, rank, 3)) for rank in range(3)] == [[0, 3], [1, 4], [2, 5]]
    assert list(shard_batches(batches, 0, 1)) == batches


class Regression(Objective):
    """Least squares on fixed data; batches are slices of one permutation per epoch."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Linear(4, 1))
        gen = torch.Generator().manual_seed(1)
        self.x = torch.randn(64, 4, generator=gen)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(64, generator=gen)

    def batches(self, rng, batch_size):
        order = torch.from_numpy(rng.permutation(len(self.x)))
        for start in range(0, len(order), batch_size):
            yield order[start : start + batch_size]

    def loss(self, idx):
        return ((self.net(self.x[idx]).squeeze(1) - self.y[idx]) ** 2).mean()


CONFIG = TrainConfig(epochs=3, batch_size=16, optimizer="sgd", lr=0.05, progress=False, patience=None)


def _worker(rank: int, size: int, rendezvous: str, out: str, job: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)  # a forked child must not enter the parent's OpenMP pool (it would hang)
    try:
        dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=size)
        result = _JOBS[job]()
        dist.barrier()
        dist.destroy_process_group()
    except BaseException:  # noqa: BLE001 - reported to the test
        result = {"error": traceback.format_exc()}
    with open(f"{out}.{rank}", "w") as f:
        json.dump(result, f)


def _regression() -> dict:
    model = Regression()
    trainer = Trainer(CONFIG)
    trainer.fit(model)
    return {"weights": [p.detach().flatten().tolist() for p in model.parameters()],
            "losses": [r["loss"] for r in trainer.history]}


def _bpr() -> dict:
    from fathom.metrics.evaluator import evaluate_ranking
    from fathom.models.bpr import BPRMF
    from tests.models.conformance import block_data

    train, valid = block_data()
    model = BPRMF(factors=8, epochs=3, batch_size=64, lr=0.05, progress=False, patience=None).fit(train, valid)
    full = evaluate_ranking(model, valid, exclude=(train,), ks=(10,))["ndcg@10"]
    history = model.meta["history"]
    return {"weights": [float(v.sum()) for v in model.net.state_dict().values()], "full": full,
            "sharded": history[model.meta["best_epoch"] - 1]["ndcg@10"], "losses": [r["loss"] for r in history]}


_JOBS = {"regression": _regression, "bpr": _bpr}


def run_in_processes(tmp_path, job: str, size: int = 2) -> list[dict]:
    context = multiprocessing.get_context("fork")
    out = str(tmp_path / "result")
    procs = [context.Process(target=_worker, args=(rank, size, str(tmp_path / "rendezvous"), out, job))
             for rank in range(size)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0, f"a training process ended with {proc.exitcode}"
    results = [json.loads((tmp_path / f"result.{rank}").read_text()) for rank in range(size)]
    for result in results:
        assert "error" not in result, result.get("error")
    return results


def test_two_processes_take_the_steps_one_process_takes_with_the_whole_batch(tmp_path):
    one = _regression()
    two = run_in_processes(tmp_path, "regression")
    assert two[0]["weights"] == two[1]["weights"]  # every process ends with the same weights
    for got, want in zip(two[0]["weights"], one["weights"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two[0]["losses"], one["losses"], rtol=1e-5)  # the mean over both halves
    assert one["losses"][-1] < one["losses"][0]


def test_sharded_validation_matches_the_full_evaluation_on_every_process(tmp_path):
    results = run_in_processes(tmp_path, "bpr")
    assert results[0]["weights"] == results[1]["weights"]
    assert results[0]["losses"] == results[1]["losses"]
    for result in results:
        assert result["sharded"] == pytest.approx(result["full"], abs=1e-9)
