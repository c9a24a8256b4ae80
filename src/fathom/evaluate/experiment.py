"""Train several models on one prepared data set, choose each one's settings on validation, report test metrics.

Used by the main job (``fathom demo``) and by the benchmarks. Each candidate config is fitted on the training split;
the one with the best validation metric is kept, and only that one is scored on the test split (training and
validation items excluded), so test data never influences a choice.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.base import Recommender
from fathom.models.registry import get_model_class

DEFAULT_METRICS = ("recall", "mrr", "ndcg", "hit", "precision")


@dataclass
class ModelSpec:
    """A model and the candidate settings to choose from on validation (one empty dict = the defaults)."""

    model: str
    grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    label: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.model


@dataclass
class ModelResult:
    label: str
    model: str
    config: dict[str, Any]
    valid: dict[str, float]
    test: dict[str, float]
    fit_seconds: float
    seconds_per_epoch: float | None
    epochs: int | None
    eval_seconds: float
    peak_memory_mb: float
    history: list[dict[str, Any]]
    candidates: list[dict[str, Any]]

    def row(self, ks: Sequence[int] = (10,)) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.label}
        out.update({f"test {k}": round(v, 4) for k, v in self.test.items() if k != "n_users"})
        out["valid ndcg@10"] = round(self.valid.get("ndcg@10", float("nan")), 4)
        out["fit s"] = round(self.fit_seconds, 2)
        out["s/epoch"] = None if self.seconds_per_epoch is None else round(self.seconds_per_epoch, 2)
        out["eval s"] = round(self.eval_seconds, 2)
        out["peak MB"] = round(self.peak_memory_mb, 1)
        return out


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once; None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Collect garbage and hand the C allocator's free pages back to the system (glibc ``malloc_trim``), so that
    memory an earlier fit freed but the allocator kept does not hide the next fit's rise; a no-op elsewhere."""
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class PeakMemory:
    """Samples the process's resident memory in a thread; ``peak_mb`` is the largest rise above the start (taken
    after :func:`release_free_memory`)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        release_free_memory()
        self._base = _rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _rss_mb() - self._base)
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb() - self._base)


def epoch_stats(history: list[dict[str, Any]]) -> tuple[float | None, int | None]:
    """(mean seconds per epoch, epochs) of a training history; (None, None) without timed epochs."""
    secs = [h["seconds"] for h in history if "seconds" in h]
    if not secs:
        return None, None
    return float(np.mean(secs)), len(secs)


def fit_and_select(
    spec: ModelSpec,
    fit: Callable[[dict[str, Any]], Recommender],
    validate: Callable[[Recommender], dict[str, float]],
    test: Callable[[Recommender], dict[str, float]],
    select_on: str = "ndcg@10",
    grid: Sequence[dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[ModelResult, Recommender]:
    """Fit every setting of ``grid`` (default ``spec.grid``) with ``fit``, keep the one whose ``validate``
    metrics are best on ``select_on``, and ``test`` it: its ModelResult (validation and test metrics, fit and
    eval seconds, epochs, peak memory above the start of its fit, every candidate's validation score) and model."""
    best: tuple[float, Recommender, dict, float, float] | None = None
    candidates = []
    for settings in spec.grid if grid is None else grid:
        with PeakMemory() as mem:
            start = time.perf_counter()
            model = fit(settings)
            fit_seconds = time.perf_counter() - start
            valid_metrics = validate(model)
        score = valid_metrics[select_on]
        candidates.append({"settings": settings, f"valid {select_on}": round(score, 5)})
        log(f"  {spec.title} {settings or 'defaults'}: valid {select_on} {score:.4f} (fit {fit_seconds:.1f}s)")
        if best is None or score > best[0]:
            best = (score, model, valid_metrics, fit_seconds, mem.peak_mb)
    if best is None:
        raise ValueError(f"{spec.title}: the grid of settings is empty")
    _, model, valid_metrics, fit_seconds, peak = best
    start = time.perf_counter()
    test_metrics = test(model)
    eval_seconds = time.perf_counter() - start
    history = list(model.meta.get("history", []))
    per_epoch, epochs = epoch_stats(history)
    result = ModelResult(
        label=spec.title, model=spec.model, config=model.config.to_dict(), valid=valid_metrics,
        test=test_metrics, fit_seconds=fit_seconds, seconds_per_epoch=per_epoch, epochs=epochs,
        eval_seconds=eval_seconds, peak_memory_mb=peak, history=history, candidates=candidates,
    )
    return result, model


def run_models(
    specs: Sequence[ModelSpec],
    train: Interactions,
    valid: Interactions,
    test: Interactions,
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] = DEFAULT_METRICS,
    select_on: str = "ndcg@10",
    log: Callable[[str], None] = print,
    save_dir: Path | None = None,
) -> tuple[list[ModelResult], dict[str, Recommender]]:
    """Fit, select on validation and test every spec; returns results and the selected fitted models."""
    results: list[ModelResult] = []
    fitted: dict[str, Recommender] = {}
    train_valid = (train, valid)
    for spec in specs:
        cls = get_model_class(spec.model)
        result, model = fit_and_select(
            spec,
            fit=lambda settings, cls=cls: cls(**settings).fit(train, valid),
            validate=lambda m: evaluate_ranking(m, valid, exclude=(train,), ks=ks, metrics=metrics),
            test=lambda m: evaluate_ranking(m, test, exclude=train_valid, ks=ks, metrics=metrics),
            select_on=select_on, log=log,
        )
        test_metrics = result.test
        log(f"{spec.title}: test ndcg@10 {test_metrics.get('ndcg@10', float('nan')):.4f}")
        results.append(result)
        fitted[spec.title] = model
        if save_dir is not None:
            model.save(Path(save_dir) / spec.title)
    return results, fitted
