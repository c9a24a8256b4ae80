"""The shared training loop, the losses and the negative sampler."""

from __future__ import annotations

import json
import math

import numpy as np
import pydantic
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.losses import bce_loss, bpr_loss, bpr_mf_loss, l2_penalty
from fathom.models.sampling import NegativeSampler, sampled_batches
from fathom.models.training import Objective, Trainable, TrainConfig, Trainer, make_optimizer


class Quadratic(Objective):
    """Fits w to a target by least squares on noisy batches drawn from the epoch's rng."""

    def __init__(self, dim: int = 3, dropout: float = 0.0) -> None:
        super().__init__(nn.Sequential(nn.Linear(dim, 1, bias=False), nn.Dropout(dropout)))
        nn.init.zeros_(self.net[0].weight)
        self.target = torch.arange(1.0, dim + 1)

    def batches(self, rng: np.random.Generator, batch_size: int):
        for _ in range(4):
            x = torch.from_numpy(rng.normal(size=(batch_size, len(self.target))).astype(np.float32))
            yield x, x @ self.target

    def loss(self, batch) -> torch.Tensor:
        x, y = batch
        return (self.net(x).squeeze(-1) - y).pow(2).mean()

    @property
    def weight(self) -> torch.Tensor:
        return self.net[0].weight.detach().clone()[0]


def config(**kw) -> TrainConfig:
    base = {"epochs": 5, "batch_size": 16, "optimizer": "sgd", "lr": 0.05, "progress": False}
    return TrainConfig(**{**base, **kw})


# -- config and optimisers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, cls",
    [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
     ("adagrad", torch.optim.Adagrad), ("rmsprop", torch.optim.RMSprop)],
)
def test_optimizer_by_name(name, cls):
    param = nn.Parameter(torch.zeros(2))
    opt = make_optimizer(name, [param], lr=0.1, weight_decay=0.01)
    assert type(opt) is cls
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["weight_decay"] == 0.01


def test_adamw_decay_is_decoupled_from_the_adaptive_step():
    """With a zero loss gradient AdamW shrinks each weight by (1 - lr * wd) per step; Adam's L2 term is a gradient,
    which its normalised step turns into a move of about lr whatever the weight's size."""
    lr, wd = 0.1, 0.5
    shrink = (1 - lr * wd) ** 3
    for name, expected, atol in [("adamw", [2.0 * shrink, 0.5 * shrink], 1e-6), ("adam", [1.7, 0.2], 0.01)]:
        param = nn.Parameter(torch.tensor([2.0, 0.5]))
        opt = make_optimizer(name, [param], lr=lr, weight_decay=wd)
        for _ in range(3):
            opt.zero_grad()
            (param * 0.0).sum().backward()
            opt.step()
        np.testing.assert_allclose(param.detach().numpy(), expected, atol=atol, err_msg=name)


def test_config_rejects_unknown_optimizer_and_bad_monitor():
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(optimizer="lamb")
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(monitor="ndcg")
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(epoch=3)  # typo
    cfg = TrainConfig(lr=0.5, patience=None)
    assert TrainConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize(
    "optimizer, lr", [("sgd", 0.05), ("adam", 0.1), ("adamw", 0.1), ("adagrad", 0.5), ("rmsprop", 0.05)]
)
def test_each_optimizer_solves_a_least_squares_problem(optimizer, lr):
    model = Quadratic()
    assert isinstance(model, Trainable)
    Trainer(config(epochs=40, optimizer=optimizer, lr=lr)).fit(model)
    np.testing.assert_allclose(model.weight.numpy(), [1.0, 2.0, 3.0], atol=0.1)


# -- history, early stopping, best state ----------------------------------------------------------------
def test_history_without_validation_runs_every_epoch(tmp_path):
    log = tmp_path / "train.jsonl"
    trainer = Trainer(config(epochs=4, log_path=str(log)))
    history = trainer.fit(Quadratic())
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert all(set(r) == {"epoch", "loss", "seconds"} for r in history)
    assert history[-1]["loss"] < history[0]["loss"]
    assert trainer.best_epoch == 4 and not trainer.stopped_early
    assert [json.loads(line) for line in log.read_text().splitlines()] == history


def test_early_stopping_restores_the_best_epoch():
    model = Quadratic()
    scores = iter([0.1, 0.3, 0.5, 0.4, 0.45, 0.2, 0.9])  # best at epoch 3, then 2 worse -> stop at 5
    weights: dict[int, torch.Tensor] = {}

    def validate():
        weights[len(weights) + 1] = model.weight
        return {"ndcg@10": next(scores), "recall@10": 0.0}

    trainer = Trainer(config(epochs=7, patience=2))
    history = trainer.fit(model, validate)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    assert [r["ndcg@10"] for r in history] == [0.1, 0.3, 0.5, 0.4, 0.45]
    assert trainer.stopped_early and trainer.best_epoch == 3 and trainer.best_score == 0.5
    torch.testing.assert_close(model.weight, weights[3])
    assert not torch.equal(model.weight, weights[5])


def test_eval_every_validates_periodically_and_after_the_last_epoch():
    calls = []

    def validate():
        calls.append(1)
        return {"hit@5": float(len(calls))}

    history = Trainer(config(epochs=7, eval_every=3, monitor="hit@5", patience=None)).fit(Quadratic(), validate)
    assert [r["epoch"] for r in history if "hit@5" in r] == [3, 6, 7]


def test_monitored_metric_must_be_returned():
    with pytest.raises(KeyError, match="ndcg@10"):
        Trainer(config()).fit(Quadratic(), lambda: {"recall@10": 0.5})


def test_diverging_loss_raises():
    with pytest.raises(FloatingPointError):
        Trainer(config(epochs=30, lr=10.0)).fit(Quadratic())


def test_same_seed_same_weights_other_seed_differs():
    def run(seed):
        model = Quadratic(dropout=0.3)
        history = Trainer(config(epochs=3, seed=seed)).fit(model)
        return model.weight, [r["loss"] for r in history]

    (w1, l1), (w2, l2), (w3, _) = run(7), run(7), run(8)
    assert torch.equal(w1, w2) and l1 == l2
    assert not torch.equal(w1, w3)


# -- losses ----------------------------------------------------------------------------------------------
def test_bpr_loss_by_hand():
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    expected = (math.log(1 + math.exp(-2.0)) + math.log(2.0)) / 2
    assert bpr_loss(pos, neg).item() == pytest.approx(expected, rel=1e-6)
    # (B, k) negatives: each positive against each of its negatives
    neg2 = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    expected2 = (math.log(1 + math.exp(-2)) + math.log(2) + math.log(1 + math.e) + math.log(1 + math.exp(-1))) / 4
    assert bpr_loss(pos, neg2).item() == pytest.approx(expected2, rel=1e-6)
    assert bpr_loss(torch.tensor([100.0]), torch.tensor([-100.0])).item() == pytest.approx(0.0, abs=1e-30)
    assert math.isfinite(bpr_loss(torch.tensor([-100.0]), torch.tensor([100.0])).item())


def test_bce_loss_by_hand():
    pos, neg = torch.tensor([0.0]), torch.tensor([[0.0, math.log(3.0)]])
    # -log sigmoid(0) = log 2 ; -log(1 - sigmoid(0)) = log 2 ; -log(1 - sigmoid(log 3)) = log 4
    assert bce_loss(pos, neg).item() == pytest.approx(4 * math.log(2) / 3, rel=1e-6)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([1.5, -0.5, 2.0]), torch.tensor([1.0, 0.0, 0.0])
    )
    assert bce_loss(torch.tensor([1.5]), torch.tensor([-0.5, 2.0])).item() == pytest.approx(ref.item(), rel=1e-6)


def test_l2_penalty_is_per_row():
    a, b = torch.ones(4, 2), torch.full((4, 1), 2.0)
    assert l2_penalty(a, b).item() == pytest.approx((8 + 16) / 4)


# -- negative sampling -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bitmap_limit", [1 << 20, 0])  # bitmap look-up, binary search
def test_sampler_never_returns_a_positive(bitmap_limit):
    rng = np.random.default_rng(0)
    dense = rng.random((30, 12)) < 0.6
    dense[0] = True
    dense[0, 5] = False  # user 0 has exactly one negative: item 5
    dense[1] = True  # user 1 has none
    dense[2] = False  # user 2 has every item as a negative
    positives = sp.csr_matrix(dense.astype(np.float32))
    sampler = NegativeSampler(positives, bitmap_limit=bitmap_limit)
    assert (sampler.bitmap is None) == (bitmap_limit == 0)
    users = np.repeat(np.arange(30), 200)
    negs = sampler.sample(users, 3, rng)  # (6000, 3)
    assert negs.shape == (6000, 3) and negs.dtype == np.int64
    assert ((negs >= 0) & (negs < 12)).all()
    seen = dense[users[:, None], negs]
    assert not seen[users != 1].any()
    assert set(negs[users == 0].ravel()) == {5}
    for u in range(2, 30):  # every negative of a user gets drawn
        assert set(negs[users == u].ravel()) == set(np.flatnonzero(~dense[u]))
    np.testing.assert_array_equal(sampler.is_positive(np.array([0, 0, 1]), np.array([5, 4, 5])), [False, True, True])


def test_sampler_exact_fallback_after_rejection_rounds():
    dense = np.ones((2, 1000), bool)
    dense[:, 999] = False
    sampler = NegativeSampler(sp.csr_matrix(dense.astype(np.float32)), max_rounds=1)
    negs = sampler.sample(np.array([0, 1, 0]), 4, np.random.default_rng(1))
    assert (negs == 999).all()


def test_sampled_batches_cover_every_pair_once():
    inter = Interactions.from_arrays(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 2, 0, 3, 4]), 3, 6)
    batches = list(sampled_batches(inter, NegativeSampler(inter), np.random.default_rng(0), 4, n_neg=2))
    assert [len(b[0]) for b in batches] == [4, 2]
    users = torch.cat([b[0] for b in batches]).numpy()
    items = torch.cat([b[1] for b in batches]).numpy()
    negs = torch.cat([b[2] for b in batches]).numpy()  # (6, 2)
    assert sorted(zip(users, items, strict=True)) == sorted(zip(inter.user, inter.item, strict=True))
    assert not inter.csr().toarray()[users[:, None], negs].any()


def test_fused_bpr_mf_loss_matches_autograd():
    gen = torch.Generator().manual_seed(0)
    uw = torch.randn(7, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    iw = torch.randn(9, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    users = torch.tensor([0, 3, 3, 6])
    items = torch.tensor([[1, 2, 8], [0, 0, 5], [4, 1, 2], [8, 7, 6]])  # positive, then 2 negatives
    for reg in (0.0, 0.3):
        fused = bpr_mf_loss(uw, iw, users, items, reg)
        u, v = uw[users], iw[items]
        x = (v * u[:, None]).sum(-1)
        plain = bpr_loss(x[:, 0], x[:, 1:]) + reg * l2_penalty(u, v)
        torch.testing.assert_close(fused, plain)
        g_fused = torch.autograd.grad(fused, (uw, iw))
        g_plain = torch.autograd.grad(plain, (uw, iw))
        torch.testing.assert_close(g_fused, g_plain)
        assert torch.autograd.gradcheck(lambda a, b, r=reg: bpr_mf_loss(a, b, users, items, r), (uw, iw))


def test_progress_without_a_terminal_prints_one_line_per_epoch(capsys):
    import torch

    from fathom.models.training import Objective, TrainConfig, Trainer

    class Line(Objective):
        def batches(self, rng, batch_size):
            yield torch.ones(4, 1)

        def loss(self, batch):
            return (self.net(batch) - 1.0).pow(2).mean()

    Trainer(TrainConfig(epochs=3, progress=True, patience=None)).fit(Line(torch.nn.Linear(1, 1)))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"] and all("loss" in ln for ln in lines)


def test_learning_rate_decays_after_stalled_validations():
    scores = iter([0.1, 0.3, 0.2, 0.2, 0.25, 0.2, 0.4, 0.3, 0.3])
    trainer = Trainer(config(epochs=9, patience=None, optimizer="adam", lr=0.01, lr_decay=0.5, lr_decay_patience=2,
                             min_lr=0.003))
    history = trainer.fit(Quadratic(), lambda: {"ndcg@10": next(scores)})
    # stale after epochs 3, 4 (decay), 5, 6 (decay, floored at min_lr), improvement at 7, stale 8, 9 (no decay: floor)
    assert [r["lr"] for r in history] == [0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.003, 0.003, 0.003]
    assert trainer.best_epoch == 7


def test_constant_rate_by_default_and_decay_is_validated():
    history = Trainer(config(epochs=2)).fit(Quadratic(), lambda: {"ndcg@10": 0.0})
    assert all("lr" not in r for r in history)
    with pytest.raises(pydantic.ValidationError, match="lr_decay"):
        config(lr_decay=1.5)


# -- weight averaging --------------------------------------------------------------------------------------
class Recorded(Quadratic):
    """Quadratic that records the weights each step starts from (= the weights after the previous step)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def loss(self, batch) -> torch.Tensor:
        if self.net.training:
            self.seen.append(self.weight)
        return super().loss(batch)


def test_ema_leaves_training_alone_and_ends_on_the_hand_computed_average():
    plain, averaged = Recorded(), Recorded()
    plain_history = Trainer(config(epochs=3)).fit(plain)
    averaged_history = Trainer(config(epochs=3, ema=0.9)).fit(averaged)
    assert [r["loss"] for r in averaged_history] == [r["loss"] for r in plain_history]  # same trajectory
    torch.testing.assert_close(torch.stack(averaged.seen), torch.stack(plain.seen))
    # the trained weights after every step: the start of each next step, then the final trained weights
    trained = plain.seen[1:] + [plain.weight]
    shadow = plain.seen[0].clone()  # the initial weights
    for n, weights in enumerate(trained, start=1):
        decay = min(0.9, (1 + n) / (10 + n))
        shadow = decay * shadow + (1 - decay) * weights
    torch.testing.assert_close(averaged.weight, shadow)
    assert not torch.allclose(averaged.weight, plain.weight)


def test_ema_validates_and_restores_the_averaged_weights_and_training_resumes_from_the_trained_ones():
    model = Recorded()
    validated: list[torch.Tensor] = []
    scores = iter([0.1, 0.5, 0.2, 0.3])

    def validate():
        validated.append(model.weight)
        return {"ndcg@10": next(scores)}

    trainer = Trainer(config(epochs=4, ema=0.8, patience=None))
    trainer.fit(model, validate)
    plain = Recorded()
    Trainer(config(epochs=4, patience=None)).fit(plain, lambda: {"ndcg@10": 0.0})
    # every step starts from the trained weights, as without an average, not from the average just validated
    torch.testing.assert_close(torch.stack(model.seen), torch.stack(plain.seen))
    steps = len(model.seen) // 4  # batches per epoch
    assert all(not torch.allclose(model.seen[e * steps], validated[e - 1]) for e in range(1, 4))
    assert trainer.best_epoch == 2
    torch.testing.assert_close(model.weight, validated[1])


# -- schedule, clipping, groups, time budget (what the reranker trains with) -------------------------------------
class Scheduled(Quadratic):
    """Quadratic with 4 batches an epoch, recording the rate of each step, and two parameter groups."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self.extra = nn.Parameter(torch.zeros(1))

    def n_batches(self, batch_size: int) -> int:
        return 4

    def parameters(self):
        return iter([*self.net.parameters(), self.extra])

    def parameter_groups(self, lr: float):
        return [{"params": list(self.net.parameters()), "lr": lr}, {"params": [self.extra], "lr": 10 * lr}]

    def loss(self, batch) -> torch.Tensor:
        return super().loss(batch) + (self.extra - 1.0).pow(2).sum()


def test_linear_schedule_warms_up_then_falls_to_zero_with_groups_at_their_rates():
    model = Scheduled()
    trainer = Trainer(config(epochs=2, lr_schedule="linear", warmup=0.25))
    seen = []
    original = torch.optim.SGD.step

    def record(self, *a, **kw):
        seen.append([g["lr"] for g in self.param_groups])
        return original(self, *a, **kw)

    torch.optim.SGD.step = record
    try:
        trainer.fit(model)
    finally:
        torch.optim.SGD.step = original
    total, warm = 8, 2  # 2 epochs x 4 batches; 25% warm-up
    factors = [(s + 1) / warm if s < warm else (total - s) / (total - warm) for s in range(total)]
    assert [r[0] for r in seen] == pytest.approx([0.05 * f for f in factors])
    assert [r[1] for r in seen] == pytest.approx([0.5 * f for f in factors])  # the second group at 10 x lr


def test_gradient_clipping_bounds_each_step():
    model = Quadratic()
    Trainer(config(epochs=1, lr=1.0, grad_clip=0.01)).fit(model)
    # four SGD steps of at most 0.01 in norm each move the weights by at most 0.04
    assert float(model.weight.norm()) <= 0.04 + 1e-6


def test_the_time_budget_stops_after_the_step_that_passes_it():
    model = Quadratic()
    trainer = Trainer(config(epochs=50, max_minutes=1e-9))
    history = trainer.fit(model)
    assert trainer.stopped_early and len(history) == 1  # one step, then stop
