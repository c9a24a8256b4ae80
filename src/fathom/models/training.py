"""The shared mini-batch training loop.

Models and the loop are kept apart: a model hands the :class:`Trainer` something :class:`Trainable` (it knows
its own batches and its loss), and the trainer owns everything else: epochs, the optimiser (with parameter groups
when the model has them), seeding, progress, the per-epoch history, validation, learning-rate decay when
validation stalls or a linear warm-up-and-decay schedule, gradient clipping, early stopping, a time budget,
keeping and restoring the best weights, and optionally a moving average of the weights (``ema``). Every model
and the cross-encoder reranker (:mod:`fathom.retrieval.rerank_train`) train in this one loop.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from pydantic import Field, field_validator
from torch import nn
from tqdm.auto import tqdm

from fathom.config import Config
from fathom.models.distributed import all_sum, any_rank, data_parallel, shard_batches, world

log = logging.getLogger(__name__)

OptimizerName = Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"]


class TrainConfig(Config):
    """Settings of the training loop; a model's config subclasses this and adds its own fields."""

    epochs: int = Field(50, ge=1, description="most epochs to train")
    batch_size: int = Field(4096, ge=1, description="training examples per optimiser step")
    optimizer: OptimizerName = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(
        0.0, ge=0, description="the optimiser's weight decay on every parameter (L2; decoupled for adamw)"
    )
    patience: int | None = Field(
        10, ge=1, description="stop after this many validations without improvement; None: never stop early"
    )
    lr_decay: float | None = Field(
        None, gt=0, lt=1, description="multiply the learning rate by this after every `lr_decay_patience` "
        "validations in a row without improvement; None: a constant rate"
    )
    lr_decay_patience: int = Field(3, ge=1, description="validations without improvement before each decay")
    min_lr: float = Field(0.0, ge=0, description="the learning rate never decays below this")
    ema: float | None = Field(
        None, gt=0, lt=1, description="keep an exponential moving average of the weights with this decay per step "
        "(warmed up as min(ema, (1 + n) / (10 + n)) after n steps); validation, the best epoch and the final "
        "model use the averaged weights; None: the weights as trained"
    )
    grad_clip: float | None = Field(None, gt=0, description="clip the gradients' global norm to this before each "
                                                             "step; None: no clipping")
    lr_schedule: Literal["constant", "linear"] = Field(
        "constant", description="linear: the rate rises over the first `warmup` share of the steps, then falls "
        "linearly to 0 at the last step (the Trainable tells its batches per epoch: `n_batches`)"
    )
    warmup: float = Field(0.0, ge=0, lt=1, description="share of the steps with a rising rate (lr_schedule linear)")
    max_minutes: float | None = Field(None, gt=0, description="stop after the step that passes this much wall "
                                                               "clock; None: no budget")
    eval_every: int = Field(1, ge=1, description="validate every this many epochs (and after the last one)")
    monitor: str = Field("ndcg@10", description="validation metric to maximise, as 'metric@k'")
    seed: int = 0
    progress: bool = Field(True, description="tqdm bar on stderr; without a terminal, one line per epoch")
    log_path: str | None = Field(None, description="append one JSON line per epoch to this file")

    @field_validator("monitor")
    @classmethod
    def _metric_at_k(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_]+@[1-9][0-9]*", value):
            raise ValueError(f"monitor must look like 'ndcg@10', got {value!r}")
        return value


@runtime_checkable
class Trainable(Protocol):
    """What the :class:`Trainer` needs from a model (a ``torch.nn.Module`` provides the last four)."""

    def batches(self, rng: np.random.Generator, batch_size: int) -> Iterable[Any]:
        """One epoch of batches, in an order drawn from ``rng``."""

    def loss(self, batch: Any) -> torch.Tensor:
        """Scalar loss of one batch, to minimise."""

    def parameters(self) -> Iterator[nn.Parameter]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...


class Objective:
    """Base for a :class:`Trainable` that pairs a network with its training data and loss.

    Subclasses implement ``batches`` and ``loss``; parameters, state and train/eval mode are the network's.
    """

    def __init__(self, net: nn.Module) -> None:
        self.net = net

    def batches(self, rng: np.random.Generator, batch_size: int) -> Iterable[Any]:
        raise NotImplementedError

    def loss(self, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def parameters(self) -> Iterator[nn.Parameter]:
        return self.net.parameters()

    def state_dict(self) -> dict[str, Any]:
        return self.net.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> Any:
        return self.net.load_state_dict(state_dict)

    def train(self, mode: bool = True) -> Any:
        return self.net.train(mode)

    def parameter_groups(self, lr: float) -> list[dict[str, Any]] | None:
        """Parameter groups with their own learning rates (e.g. a pretrained body and a new head), or None: one
        group at ``lr``."""
        return None

    def n_batches(self, batch_size: int) -> int:
        """Batches in one epoch (what a linear learning-rate schedule needs)."""
        raise NotImplementedError(f"{type(self).__name__} does not say how many batches an epoch has")


def make_optimizer(
    name: OptimizerName, params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0,
    groups: list[dict[str, Any]] | None = None,
) -> torch.optim.Optimizer:
    """The torch optimiser called ``name``; SGD, Adam(W) and Adagrad use torch's fused kernels (one pass per step).

    ``weight_decay`` is an L2 term in the gradient, except for AdamW, which shrinks the weights directly (decoupled
    from the adaptive step: each step multiplies every parameter by ``1 - lr * weight_decay``). ``groups``:
    parameter groups with their own rates, instead of ``params`` at ``lr``."""
    params = [p for p in params if p.requires_grad]
    fused = {"fused": True} if all(p.dtype.is_floating_point for p in params) else {}
    if groups is not None:  # torch's default (foreach) kernels for several groups
        params, fused = groups, {}  # type: ignore[assignment]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch's global generator; return a numpy generator seeded with ``seed`` (for batches)."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


Validate = Callable[[], dict[str, float]]


def _linear_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, model: Any) -> Any:
    """Warm-up over ``cfg.warmup`` of the steps, then a linear fall to 0 at the last step."""
    total = cfg.epochs * model.n_batches(cfg.batch_size)
    warm = max(1, int(cfg.warmup * total))

    def factor(step: int) -> float:
        return (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class WeightAverage:
    """An exponential moving average of a model's float parameters, updated after every optimiser step.

    ``swapped()`` puts the averaged weights into the model for the duration of a ``with`` block (to validate or
    to copy them) and restores the trained weights afterwards, so training carries on from where it was.
    """

    def __init__(self, params: Iterable[nn.Parameter], decay: float) -> None:
        # views sharing the parameters' storage: they follow the optimiser's in-place updates
        self.live = [p.detach() for p in params if p.requires_grad and p.dtype.is_floating_point]
        self.shadow = [p.clone() for p in self.live]
        self.decay, self.steps = decay, 0

    @torch.no_grad()
    def update(self) -> None:
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        torch._foreach_lerp_(self.shadow, self.live, 1.0 - decay)

    @torch.no_grad()
    def load(self) -> None:
        """Overwrite the model's weights with the averaged ones."""
        torch._foreach_copy_(self.live, self.shadow)

    @contextmanager
    def swapped(self) -> Iterator[None]:
        trained = [p.clone() for p in self.live]
        self.load()
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.live, trained)


class Trainer:
    """Runs ``config.epochs`` epochs of mini-batch training over a :class:`Trainable`.

    After ``fit``: ``history`` holds one record per epoch (``epoch``, ``loss`` = mean batch loss, ``seconds``,
    and the validation metrics of the epochs that were validated); ``best_epoch`` / ``best_score`` name the
    epoch whose weights the model was left with (the last epoch when there was no validation).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None
        self.best_score: float | None = None
        self.stopped_early = False

    def fit(self, model: Trainable, validate: Validate | None = None) -> list[dict[str, Any]]:
        """Train ``model`` in place; ``validate()`` returns metrics including ``config.monitor``.

        Without ``validate`` the model trains the full number of epochs and keeps its final weights.
        """
        cfg = self.config
        rng = seed_everything(cfg.seed)  # the same batch order on every process of a distributed run
        rank, size = world()
        if size > 1:
            torch.manual_seed(cfg.seed + rank)  # each process its own dropout and sampling draws
        step_loss = data_parallel(model) if size > 1 else model.loss
        batch_size = max(1, cfg.batch_size // size)  # a step's batch, split over the processes
        groups = model.parameter_groups(cfg.lr) if hasattr(model, "parameter_groups") else None
        optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.weight_decay, groups)
        schedule = _linear_schedule(optimizer, cfg, model) if cfg.lr_schedule == "linear" else None
        clipped = [p for p in model.parameters() if p.requires_grad] if cfg.grad_clip is not None else []
        fit_start = time.perf_counter()
        average = WeightAverage(model.parameters(), cfg.ema) if cfg.ema is not None else None
        self.history, self.best_epoch, self.best_score, self.stopped_early = [], None, None, False
        best_state: dict[str, torch.Tensor] | None = None
        stale = 0
        log_file = Path(cfg.log_path).open("a") if cfg.log_path and rank == 0 else None
        reporting = cfg.progress and rank == 0  # one process of a distributed run reports
        bar = tqdm(
            range(1, cfg.epochs + 1), desc="epochs", unit="epoch", file=sys.stderr,
            disable=None if reporting else True, leave=False,
        )
        try:
            for epoch in bar:
                start = time.perf_counter()
                model.train(True)
                total, steps = 0.0, 0
                for batch in shard_batches(model.batches(rng, batch_size), rank, size):
                    loss = step_loss(batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(clipped, cfg.grad_clip)
                    optimizer.step()
                    if schedule is not None:
                        schedule.step()
                    if average is not None:
                        average.update()
                    total += float(loss.detach())
                    steps += 1
                    if cfg.max_minutes is not None and any_rank(time.perf_counter() - fit_start > cfg.max_minutes * 60):
                        self.stopped_early = True  # the time budget: this epoch ends here, and training
                        break
                if size > 1:  # the mean over every process's batches
                    total, steps = (float(v) for v in all_sum(np.array([total, steps])))
                mean_loss = total / max(steps, 1)
                if not math.isfinite(mean_loss):
                    raise FloatingPointError(f"training loss is {mean_loss} at epoch {epoch}; try a lower lr")
                record: dict[str, Any] = {"epoch": epoch, "loss": mean_loss, "seconds": time.perf_counter() - start}
                if cfg.lr_decay is not None:
                    record["lr"] = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
                if validate is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
                    model.train(False)
                    with average.swapped() if average is not None else nullcontext(), torch.no_grad():
                        metrics = validate()
                        if cfg.monitor not in metrics:
                            raise KeyError(
                                f"validation returned {sorted(metrics)}, not the monitored {cfg.monitor!r}"
                            )
                        score = float(metrics[cfg.monitor])
                        improved = self.best_score is None or score > self.best_score
                        if improved:  # the weights validated: the averaged ones when there is an average
                            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    record.update({name: float(value) for name, value in metrics.items()})
                    record["eval_seconds"] = time.perf_counter() - start - record["seconds"]
                    if improved:
                        self.best_score, self.best_epoch, stale = score, epoch, 0
                    else:
                        stale += 1
                        if cfg.lr_decay is not None and stale % cfg.lr_decay_patience == 0:
                            for group in optimizer.param_groups:
                                group["lr"] = max(group["lr"] * cfg.lr_decay, cfg.min_lr)
                self.history.append(record)
                log.info("epoch %s", record)
                if log_file is not None:
                    log_file.write(json.dumps(record) + "\n")
                    log_file.flush()
                postfix = {"loss": f"{mean_loss:.4f}"}
                if self.best_score is not None:
                    postfix[f"best {cfg.monitor}"] = f"{self.best_score:.4f}"
                bar.set_postfix(postfix)
                if reporting and bar.disable:  # no terminal (a log file, CI): one line per epoch instead of a bar
                    shown = " ".join(f"{k} {v}" for k, v in postfix.items())
                    print(f"epoch {epoch}/{cfg.epochs} {shown} ({record['seconds']:.1f} s)", file=sys.stderr,
                          flush=True)
                if self.stopped_early or (cfg.patience is not None and stale >= cfg.patience):
                    self.stopped_early = True
                    break
        finally:
            bar.close()
            if log_file is not None:
                log_file.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        else:
            self.best_epoch = len(self.history)
            if average is not None:
                average.load()
        model.train(False)
        return self.history
