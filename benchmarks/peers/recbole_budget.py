"""RecBole training under a time budget, shared by the RecBole peer scripts (run in RecBole's own venv).

:func:`fit_within_budget` trains a RecBole model with its own trainer (early stopping on ``valid_metric``), timing
every epoch and refusing to start one once ``max_minutes`` of training have passed; :func:`load_best` loads the
best checkpoint back (torch >= 2.6 loads with ``weights_only=True`` by default, which refuses RecBole's
checkpoints: they pickle the Config, and the file is our own, so it is read with ``weights_only=False``).
"""

from __future__ import annotations

import os
import time
from typing import Any


class TimeBudgetReached(Exception):
    """Raised at the start of an epoch once a run's training time budget is spent."""


def fit_within_budget(base: type, config: Any, model: Any, train_data: Any, valid_data: Any,
                      max_minutes: float | None) -> tuple[Any, dict[str, list[float]], str, float]:
    """(trainer, log with per-epoch ``train_s`` / ``valid_s`` / ``valid_ndcg``, how it stopped, fit seconds)."""
    log: dict[str, list[float]] = {"train_s": [], "valid_s": [], "valid_ndcg": []}
    started = time.perf_counter()

    class Timed(base):  # type: ignore[misc, valid-type]
        def _train_epoch(self, *a, **k):
            if max_minutes is not None and log["train_s"] and time.perf_counter() - started > 60 * max_minutes:
                raise TimeBudgetReached
            t0 = time.perf_counter()
            res = super()._train_epoch(*a, **k)
            log["train_s"].append(time.perf_counter() - t0)
            return res

        def _valid_epoch(self, *a, **k):
            t0 = time.perf_counter()
            res = super()._valid_epoch(*a, **k)
            log["valid_s"].append(time.perf_counter() - t0)
            log["valid_ndcg"].append(float(res[0]))
            return res

    trainer = Timed(config, model)
    stopped_by = "early stopping (patience 10)"
    try:
        trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    except TimeBudgetReached:
        stopped_by = f"time budget ({max_minutes:g} min; not converged)"
    return trainer, log, stopped_by, time.perf_counter() - started


def load_best(trainer: Any, model: Any, remove: bool = False) -> None:
    """The best checkpoint back into ``model`` (if one was saved); ``remove`` deletes the file afterwards."""
    import torch

    if not os.path.exists(trainer.saved_model_file):
        return
    checkpoint = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    if remove:
        os.remove(trainer.saved_model_file)
