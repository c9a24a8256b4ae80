"""Hyper-parameter search on the validation split (Optuna TPE), within a time budget.

The test split never enters: :func:`tune` sees only training and validation interactions. The best settings are
written as the model's config JSON, which ``fathom train --config`` and the benchmarks replay unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.registry import get_model_class


class FloatRange(Config):
    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False


class IntRange(Config):
    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False


class Choice(Config):
    type: Literal["categorical"] = "categorical"
    choices: list[Any]


Distribution = Annotated[FloatRange | IntRange | Choice, Field(discriminator="type")]
SearchSpace = dict[str, Distribution]
_space_adapter = TypeAdapter(SearchSpace)

# Ranges that cover good settings on MovieLens-sized data; override with a JSON/TOML file of the same shape.
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "itemknn": {"neighbours": {"type": "int", "low": 10, "high": 1000, "log": True},
                "shrink": {"type": "float", "low": 0.0, "high": 100.0}},
    "ease": {"reg": {"type": "float", "low": 10.0, "high": 10000.0, "log": True}},
    "bpr": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "reg": {"type": "float", "low": 1e-7, "high": 1e-2, "log": True}},
    "neumf": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
              "dropout": {"type": "float", "low": 0.0, "high": 0.5}},
    # the field models, for click-through AUC (``fathom tune fm --protocol ml1m-context``)
    "fm": {"lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
           "reg": {"type": "float", "low": 1e-8, "high": 1e-2, "log": True},
           "batch_size": {"type": "categorical", "choices": [1024, 2048, 4096]}},
    # the sequence models (``fathom tune sasrec --protocol ml1m-seq``; a trial is a whole training run)
    "sasrec": {"lr": {"type": "float", "low": 5e-4, "high": 5e-3, "log": True},
               "dropout": {"type": "float", "low": 0.0, "high": 0.3},
               "n_blocks": {"type": "int", "low": 1, "high": 3},
               "label_smoothing": {"type": "float", "low": 0.0, "high": 0.2},
               "history_bias": {"type": "categorical", "choices": [False, True]}},
    "gru4rec": {"lr": {"type": "float", "low": 5e-4, "high": 5e-3, "log": True},
                "dropout": {"type": "float", "low": 0.0, "high": 0.3},
                "label_smoothing": {"type": "float", "low": 0.0, "high": 0.2},
                "history_bias": {"type": "categorical", "choices": [False, True]}},
    "deepfm": {"lr": {"type": "float", "low": 5e-4, "high": 1e-2, "log": True},
               "dropout": {"type": "float", "low": 0.0, "high": 0.5},
               "reg": {"type": "float", "low": 1e-8, "high": 1e-2, "log": True},
               "batch_size": {"type": "categorical", "choices": [1024, 2048, 4096]}},
}


def parse_space(raw: dict[str, Any]) -> SearchSpace:
    """Validate a search space (names each bad entry)."""
    return _space_adapter.validate_python(raw)


def load_space(path: str | Path) -> SearchSpace:
    import tomllib

    path = Path(path)
    text = path.read_text()
    return parse_space(tomllib.loads(text) if path.suffix == ".toml" else json.loads(text))


def default_space(model: str) -> SearchSpace:
    if model not in DEFAULT_SPACES:
        raise KeyError(f"no default search space for {model!r}; give one with a space file "
                       f"(models with defaults: {', '.join(DEFAULT_SPACES)})")
    return parse_space(DEFAULT_SPACES[model])


@dataclass
class TuneResult:
    model: str
    metric: str
    best_value: float
    best_settings: dict[str, Any]
    best_config: Config
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    space: dict[str, Any] = field(default_factory=dict)  # the search space, as its JSON file would hold it
    seed: int = 0  # the sampler's seed

    def write(self, path: str | Path) -> Path:
        """The best config as JSON (loadable with ``Config.from_file``) and the trial log beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.best_config.to_json() + "\n")
        log = {"model": self.model, "metric": self.metric, "best_value": self.best_value,
               "best_settings": self.best_settings, "seconds": round(self.seconds, 1), "sampler": "optuna TPE",
               "seed": self.seed, "space": self.space, "trials": self.trials}
        path.with_suffix(".trials.json").write_text(json.dumps(log, indent=2, default=str) + "\n")
        return path


def _suggest(trial: Any, name: str, dist: FloatRange | IntRange | Choice) -> Any:
    if isinstance(dist, FloatRange):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, IntRange):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


def search(
    model: str,
    evaluate: Callable[[dict[str, Any]], float],
    space: SearchSpace | None = None,
    base: dict[str, Any] | None = None,
    n_trials: int | None = 30,
    timeout_s: float | None = 600.0,
    metric: str = "ndcg@10",
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Optuna TPE over ``space`` (default: :data:`DEFAULT_SPACES`) for the registered ``model``:
    ``evaluate(base | suggested settings)`` fits one candidate and returns its validation value to maximise.

    Stops after ``n_trials`` or ``timeout_s`` seconds, whichever comes first (a trial that has started finishes).
    The result's config is the best settings (``base`` included) as the model's typed config.
    """
    import optuna

    cls = get_model_class(model)
    space = space if space is not None else default_space(model)
    unknown = sorted(set(space) - set(cls.Config.model_fields))
    if unknown:
        raise KeyError(f"{cls.Config.__name__} has no setting(s) {', '.join(unknown)}")
    base = dict(base or {})
    records: list[dict[str, Any]] = []
    start = time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        settings = {**base, **{p: _suggest(trial, p, d) for p, d in space.items()}}
        t0 = time.perf_counter()
        value = evaluate(settings)
        records.append({"trial": trial.number, "settings": settings, metric: value,
                        "seconds": round(time.perf_counter() - t0, 2)})
        log(f"  trial {trial.number}: {metric} {value:.4f} {settings}")
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials, timeout=timeout_s)
    best_settings = {**base, **study.best_params}
    return TuneResult(
        model=model, metric=metric, best_value=float(study.best_value), best_settings=best_settings,
        best_config=cls.Config(**best_settings), trials=records, seconds=time.perf_counter() - start,
        space={name: dist.model_dump() for name, dist in space.items()}, seed=seed,
    )


def tune(
    model: str,
    train: Interactions,
    valid: Interactions,
    space: SearchSpace | None = None,
    base: dict[str, Any] | None = None,
    n_trials: int | None = 30,
    timeout_s: float | None = 600.0,
    metric: str = "ndcg@10",
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """:func:`search` on a ranking ``metric`` (such as ``ndcg@10``) of the ``valid`` interactions, training items
    excluded from the ranking; ``base`` holds fixed settings applied to every trial."""
    if len(valid) == 0:
        raise ValueError("tuning needs a non-empty validation split")
    cls = get_model_class(model)
    name, _, k = metric.partition("@")

    def evaluate(settings: dict[str, Any]) -> float:
        fitted = cls(**settings).fit(train, valid)
        return evaluate_ranking(fitted, valid, exclude=(train,), ks=(int(k),), metrics=(name,))[metric]

    return search(model, evaluate, space, base, n_trials, timeout_s, metric, seed, log)
