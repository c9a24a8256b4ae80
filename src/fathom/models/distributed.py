"""Data-parallel training on ``torch.distributed``: what the shared :class:`~fathom.models.training.Trainer` does
when it runs in several processes (launched by ``torchrun``, e.g. through ``fathom train MODEL --nproc N``).

Every process builds the same data and the same initial network (same seed), and draws the same order of
batches; each takes its own share of every step (the step's batch split into ``world`` parts, one per process),
and :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients, so a step sees the whole batch
as one process would. Validation is sharded too: each process ranks its share of the validation users and the
per-user sums are added up, so every process takes the same early-stopping decisions.

Backend: gloo (CPU), the loop's device; ``FATHOM_DIST_BACKEND`` picks another (``nccl`` for tensors on GPUs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


def world() -> tuple[int, int]:
    """(rank, size) of this process in the initialised process group; (0, 1) outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def backend() -> str:
    """The process group's backend: ``FATHOM_DIST_BACKEND``, else gloo."""
    return os.environ.get("FATHOM_DIST_BACKEND", "gloo")


def init_from_env() -> tuple[int, int]:
    """Join the process group ``torchrun`` set up (its environment variables); returns (rank, size)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend())
    return world()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_batches(batches: Iterable[Any], rank: int, size: int) -> Iterator[Any]:
    """This process's batch of every group of ``size`` consecutive ``batches``; a last group with fewer than
    ``size`` batches is left out on every process (each must take the same number of steps). One process: every
    batch."""
    if size == 1:
        yield from batches
        return
    group: list[Any] = []
    for batch in batches:
        group.append(batch)
        if len(group) == size:
            yield group[rank]
            group = []


class LossModule(nn.Module):
    """A :class:`~fathom.models.training.Trainable`'s loss as a module's forward, so that
    :class:`~torch.nn.parallel.DistributedDataParallel` can wrap any model the loop trains (its parameters are
    the Trainable's, shared, not copied)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        object.__setattr__(self, "trainable", model)  # not registered: its parameters are listed once, below
        self.params = nn.ParameterList([p for p in model.parameters() if p.requires_grad])

    def forward(self, batch: Any) -> torch.Tensor:
        return self.trainable.loss(batch)


def data_parallel(model: Any) -> nn.Module:
    """``model``'s loss wrapped for gradient averaging across the process group (parameters broadcast from
    rank 0 first, so every process starts from the same weights)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(LossModule(model), find_unused_parameters=True)


def all_sum(values: np.ndarray) -> np.ndarray:
    """Element-wise sum of a float64 array over the process group."""
    tensor = torch.from_numpy(np.ascontiguousarray(values, np.float64)).clone()
    if world()[1] > 1:
        dist.all_reduce(tensor)
    return tensor.numpy()


def any_rank(flag: bool) -> bool:
    """True on every process when ``flag`` is true on any (for decisions all must take together); ``flag`` itself
    outside a distributed run."""
    return bool(all_sum(np.array([float(flag)]))[0] > 0) if world()[1] > 1 else flag
