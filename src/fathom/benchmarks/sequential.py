"""RecBole's "ml-1m seq" protocol for next-item recommendation, and a runner for it.

The protocol, as RecBole 1.2.1 runs sequential models on MovieLens-1M:

- Data: ratings >= 3 kept, then users and items with fewer than 10 rows removed (iteratively), as the general
  protocol. Every kept rating is a positive.
- Split: chronological leave-one-out per user. Each user's rows are ordered by timestamp; rows with equal
  timestamps keep their order in the input file (RecBole sorts with a stable sort, so does Fathom). The last row
  is the test item, the one before it the validation item, the rest is training.
- Inputs: the validation item is predicted from the training sequence, the test item from the training sequence
  followed by the validation item; either way only the last ``max_len`` = 50 items are seen.
- Ranking: full ranking over all items. Items the user has already seen are NOT removed: RecBole's
  ``FullSortEvalDataLoader`` returns no history index for sequential models (``history_index is None``), so
  only its padding item is masked and repeat consumption is allowed. Here ``exclude=()`` does the same.
- Metrics: Recall, MRR, NDCG, Hit and Precision at 10, means over users; model selection and early stopping on
  validation NDCG@10 (RecBole's default ``valid_metric`` is MRR@10).

A sequential model (a :class:`~fathom.models.sequence.SequentialRecommender`) is scored on the test item through
``model.with_history(valid)``. Any other Recommender is scored as fitted (its view of the user is the training
data), which is what a non-sequential baseline has in this protocol.

Run it from the command line: ``python benchmarks/seq.py`` (or ``python -m fathom.benchmarks.sequential [--quick]
[--only LABEL ...] [--configs DIR] [--out DIR]``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from fathom.benchmarks import configs_dir
from fathom.data.interactions import Interactions
from fathom.data.prepare import PrepareConfig, PreparedData
from fathom.data.splits import Split, split_leave_one_out
from fathom.evaluate.experiment import DEFAULT_METRICS, ModelResult, ModelSpec, epoch_stats, fit_and_select
from fathom.evaluate.tuning import SearchSpace, TuneResult, search
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.base import Recommender
from fathom.models.registry import get_model_class

MAX_LEN = 50
#: RecBole 1.2.1 leaderboard, ml-1m sequential, test NDCG@10
PUBLISHED_NDCG10: dict[str, float] = {"SASRec": 0.1286, "GRU4Rec": 0.1545, "RepeatNet (best)": 0.1662}
#: RecBole's seconds per training epoch, measured on the CPU Fathom is developed on
RECBOLE_SECONDS_PER_EPOCH: dict[str, float] = {"SASRec": 1714.0, "GRU4Rec": 309.0}


SeqTime = Literal["float32", "exact"]


def seq_prepare_config(timestamps: SeqTime = "float32") -> PrepareConfig:
    """The protocol's data: :meth:`PrepareConfig.recbole_seq` (RecBole's own leave-one-out of ML-1M), or with
    ``timestamps="exact"`` the same with every rating ordered by its exact time.

    The two differ within a user's bursts of ratings: RecBole's float32 time ties a user's ratings within the same
    64 seconds, and those keep the order of ML-1M's file, which follows nearly the same item order for every user
    (a sequence model can learn it); exact time orders them as they happened (the last item differs for about a
    fifth of the users).
    """
    return PrepareConfig.recbole_seq().replace(timestamps=timestamps)


def seq_split(inter: Interactions) -> Split:
    """Per user by time: last row to test, the one before to valid, the rest to train (ties: input order)."""
    return split_leave_one_out(inter, valid=True)


def prepare_ml1m_seq(quick: bool = False, quick_users: int = 1000, timestamps: SeqTime = "float32") -> PreparedData:
    """MovieLens-1M prepared for the protocol (:func:`seq_prepare_config`); ``quick`` keeps only the first
    ``quick_users`` users' rows."""
    from fathom.data.prepare import prepare
    from fathom.data.sources import load_builtin

    data = prepare(load_builtin("movielens-1m"), seq_prepare_config(timestamps))
    if quick:
        for part in ("train", "valid", "test"):
            inter = getattr(data, part)
            setattr(data, part, inter.subset(inter.user < quick_users))
    return data


def evaluate_next_item(
    model: Recommender, target: Interactions, ks: Sequence[int] = (10,), metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on the next items ``target``, nothing excluded (repeats allowed)."""
    return evaluate_ranking(model, target, exclude=(), ks=ks, metrics=metrics)


def for_test(model: Recommender, valid: Interactions) -> Recommender:
    """The model that ranks the test item: a sequential model with ``valid`` appended to its histories."""
    with_history = getattr(model, "with_history", None)
    return with_history(valid) if callable(with_history) else model


SEQ_LABELS: dict[str, str] = {"sasrec": "SASRec", "gru4rec": "GRU4Rec"}  # table labels by registry name


def load_seq_specs(folder: str | Path | None = None) -> list[ModelSpec]:
    """One ModelSpec per ``ml1m_seq_*.json`` in ``folder`` (a model's row, or a variant such as
    ``ml1m_seq_sasrec_history.json``): {"model", "label", "config"} -> one candidate
    (trial logs beside them, ``*.trials.json``, are skipped)."""
    folder = configs_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no folder of ml1m_seq_*.json configs; pass --configs DIR or set "
                                "FATHOM_BENCHMARK_CONFIGS (the checkout's benchmarks/configs has them)")
    specs = []
    for path in sorted(folder.glob("ml1m_seq_*.json")):
        if path.name.endswith(".trials.json"):
            continue
        spec = json.loads(path.read_text())
        specs.append(ModelSpec(spec["model"], [spec["config"]], label=spec.get("label")))
    return specs


def tune_seq(
    model_name: str,
    space: SearchSpace | None = None,
    base: dict[str, Any] | None = None,
    n_trials: int | None = 30,
    timeout_s: float | None = 600.0,
    seed: int = 0,
    quick: bool = False,
    configs: str | Path | None = None,
    data: PreparedData | None = None,
    metric: str = "ndcg@10",
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Optuna search of a sequence model's settings on the protocol's *validation* items (the test items are not
    touched): each trial fits on the training sequences, with early stopping on validation, and is scored as
    the benchmark selects (:func:`evaluate_next_item` on ``valid``, nothing excluded). Trials start from the
    model's benchmark config in ``configs`` (if there is one), with ``base`` over it and the trial's settings over
    both; :func:`write_seq_config` writes the result where :func:`load_seq_specs` replays it.
    quick / data: as :func:`run_seq_protocol`."""
    known = {  # the model's own row ("SASRec"), not a variant beside it ("SASRec + history bias")
        s.model: s.grid[0] for s in load_seq_specs(configs) if s.title == SEQ_LABELS.get(s.model, s.model)
    } if configs is not None else {}
    fixed = {**known.get(model_name, {}), **(base or {})}
    fixed = _quick_settings(model_name, fixed) if quick else fixed
    cls = get_model_class(model_name)
    name, k = metric.split("@")
    load = functools.cache(lambda: data if data is not None else prepare_ml1m_seq(quick))  # at the first trial

    def evaluate(settings: dict[str, Any]) -> float:
        prepared = load()
        model = cls(**settings).fit(prepared.train, prepared.valid)
        return evaluate_next_item(model, prepared.valid, ks=(int(k),), metrics=(name,))[metric]

    return search(model_name, evaluate, space, fixed, n_trials, timeout_s, metric, seed, log)


def write_seq_config(result: TuneResult, path: str | Path) -> Path:
    """A tuned sequence model as the benchmark's spec file ({"model", "label", "config"}; the config is the
    trial's settings over the fixed ones), with the trial log beside it (``.trials.json``)."""
    path = result.write(path)
    spec = {"model": result.model, "label": SEQ_LABELS.get(result.model, result.model),
            "config": result.best_settings}
    path.write_text(json.dumps(spec, indent=2, default=str) + "\n")
    return path


def _quick_settings(model: str, settings: dict[str, Any]) -> dict[str, Any]:
    fields = get_model_class(model).Config.model_fields
    quick = {"epochs": 2, "progress": False}
    return {**settings, **{k: v for k, v in quick.items() if k in fields}}


def run_seq_protocol(
    models: Sequence[ModelSpec | str] | None = None,
    quick: bool = False,
    data: PreparedData | None = None,
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] = DEFAULT_METRICS,
    select_on: str = "ndcg@10",
    log: Callable[[str], None] = print,
    timestamps: SeqTime = "float32",
) -> list[ModelResult]:
    """Prepare MovieLens-1M for the protocol (``timestamps``: see :func:`seq_prepare_config`), fit each model
    (early stopping and the choice among its grid on validation ``select_on``), and score the chosen one on the
    test items.

    models: ModelSpecs (a grid of settings each) or registry names (defaults); None: the tuned configs in
    ``benchmarks/configs/ml1m_seq_*.json``. quick: the first 1,000 users and 2 epochs per model (a smoke run).
    data: an already prepared data set instead of MovieLens-1M. Returns one ModelResult per model: test and
    validation metrics, fit seconds, seconds per epoch, epochs run, peak memory (MB above the start).
    """
    specs = [ModelSpec(m) if isinstance(m, str) else m for m in (models if models is not None else load_seq_specs())]
    data = data if data is not None else prepare_ml1m_seq(quick, timestamps=timestamps)
    train, valid, test = data.train, data.valid, data.test
    results = []
    for spec in specs:
        result, model = fit_and_select(
            spec,
            fit=lambda settings, spec=spec: get_model_class(spec.model)(**settings).fit(train, valid),
            validate=lambda m: evaluate_next_item(m, valid, ks, metrics),
            test=lambda m: evaluate_next_item(for_test(m, valid), test, ks, metrics),
            select_on=select_on, grid=[_quick_settings(spec.model, s) if quick else s for s in spec.grid], log=log,
        )
        results.append(result)
        test_metrics, epochs, per_epoch = result.test, result.epochs, result.seconds_per_epoch
        log(f"{spec.title}: test ndcg@10 {test_metrics.get('ndcg@10', float('nan')):.4f}, "
            f"{epochs} epochs at {per_epoch or 0:.1f} s, best epoch {model.meta.get('best_epoch')}")
    return results


def _best_epoch(history: list[dict[str, Any]], monitor: str = "ndcg@10") -> int | None:
    scored = [h for h in history if monitor in h]
    return max(scored, key=lambda h: h[monitor])["epoch"] if scored else None


def time_epochs(results: Sequence[ModelResult], data: PreparedData, epochs: int = 3,
                log: Callable[[str], None] = print) -> dict[str, float]:
    """Seconds per training epoch of each result's chosen config, refitted for ``epochs`` epochs (no validation):
    run it with nothing else on the machine to time the model alone (a long benchmark run may share the CPU)."""
    out = {}
    for r in results:
        cls = get_model_class(r.model)
        if "epochs" not in cls.Config.model_fields:  # nothing trained epoch by epoch
            continue
        model = cls(**{**r.config, "epochs": epochs, "patience": None}).fit(data.train)
        per_epoch, _ = epoch_stats(list(model.meta.get("history", [])))
        if per_epoch is not None:
            out[r.label] = per_epoch
            log(f"{r.label}: {per_epoch:.1f} s per epoch over {epochs} epochs")
    return out


def result_rows(results: Sequence[ModelResult], timing: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One table row per model, with RecBole's published NDCG@10 and s/epoch beside ours where known;
    ``timing``: seconds per epoch timed alone (:func:`time_epochs`), by label."""
    rows = []
    for r in results:
        row: dict[str, Any] = {"model": r.label}
        row |= {k: round(v, 4) for k, v in r.test.items() if k != "n_users"}
        row["RecBole ndcg@10"] = PUBLISHED_NDCG10.get(r.label)
        row["epochs"], row["best epoch"] = r.epochs, _best_epoch(r.history)
        row["s/epoch"] = None if r.seconds_per_epoch is None else round(r.seconds_per_epoch, 1)
        if timing is not None:
            row["s/epoch timed alone"] = round(timing[r.label], 1) if r.label in timing else None
        row["RecBole s/epoch"] = RECBOLE_SECONDS_PER_EPOCH.get(r.label)
        row["peak MB"] = round(r.peak_memory_mb)
        rows.append(row)
    return rows


def load_timing(path: str | Path) -> dict[str, float]:
    """The seconds per epoch timed alone saved in an ``ml1m_seq.json``, by label (none: empty)."""
    path = Path(path)
    return dict(json.loads(path.read_text()).get("timing") or {}) if path.is_file() else {}


def load_results(path: str | Path) -> list[ModelResult]:
    """The ModelResults saved in an ``ml1m_seq.json``; none if the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [ModelResult(**r) for r in json.loads(path.read_text())["results"]]


def write_tables(
    results: Sequence[ModelResult], out_dir: str | Path, quick: bool = False, merge: bool = True,
    timing: dict[str, float] | None = None, timestamps: SeqTime = "float32",
) -> dict[str, Path]:
    """``ml1m_seq.json`` (rows, every candidate and training curve) and ``ml1m_seq.md`` (the table) in ``out_dir``.

    merge: keep the rows of models already in ``out_dir`` that ``results`` does not re-run (``--only``).
    """
    from fathom.evaluate.report import markdown_table, plot_results

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if merge:
        new = {r.label for r in results}
        results = [r for r in load_results(out / "ml1m_seq.json") if r.label not in new] + list(results)
        saved = load_timing(out / "ml1m_seq.json")
        timing = {**{k: v for k, v in saved.items() if k not in new}, **(timing or {})} or None
    rows = result_rows(results, timing)
    payload = {"protocol": "ml1m-seq", "timestamps": timestamps, "quick": quick, "rows": rows, "timing": timing or {},
               "results": [{**r.__dict__, "history": r.history} for r in results]}
    paths = {"json": out / "ml1m_seq.json", "markdown": out / "ml1m_seq.md"}
    paths["json"].write_text(json.dumps(payload, indent=2, default=float))
    title = "MovieLens-1M, RecBole \"seq\" protocol" + (
        ", RecBole's own split (float32 time)" if timestamps == "float32" else ", exact time") + (
        " (quick smoke run)" if quick else "")
    order = (
        "Time as RecBole holds it (float32: a user's ratings within the same 64 seconds keep the file's order), which\n"
        "gives exactly RecBole 1.2.1's validation and test items and training sequences.\n"
        if timestamps == "float32" else
        "Every rating ordered by its exact time (RecBole's float32 time ties ratings within 64 seconds; they keep the\n"
        "file's order, which follows nearly the same item order for every user). The `RecBole ndcg@10` column is\n"
        "RecBole's figure on its own split (float32 time), whose test item differs from this table's for 18% of\n"
        "users.\n"
    )
    notes = order + (
        "Ratings >= 3, 10-core, chronological leave-one-out per user, the last 50 items as input, full ranking over\n"
        "all items (seen items not removed, as RecBole), settings from `benchmarks/configs/ml1m_seq_*.json`,\n"
        "early stopping on validation NDCG@10. Seconds are wall time on this 2-core CPU: `s/epoch` over the whole\n"
        "run (other jobs may have shared the CPU), `s/epoch timed alone` from a 3-epoch refit with nothing else\n"
        "running (`--time-only`); peak MB is resident memory above the start of the fit."
    )
    paths["markdown"].write_text(f"# {title}\n\n{notes}\n\n{markdown_table(rows)}\n\n![test metrics and validation "
                                 "curves](ml1m_seq.png)\n")
    paths["picture"] = plot_results(results, out / "ml1m_seq.png", title)
    return paths


def main(argv: Sequence[str] | None = None) -> list[ModelResult]:
    import argparse

    parser = argparse.ArgumentParser(description="RecBole 'ml-1m seq' protocol: SASRec and GRU4Rec")
    parser.add_argument("--quick", action="store_true", help="1,000 users, 2 epochs: a fast smoke run")
    parser.add_argument("--configs", default=None, help="folder of ml1m_seq_*.json (one table row each; default "
                        "$FATHOM_BENCHMARK_CONFIGS or the checkout's benchmarks/configs)")
    parser.add_argument("--only", nargs="+", metavar="LABEL",
                        help="run only these models (labels as in the table); the other rows in --out are kept")
    parser.add_argument("--out", help="write ml1m_seq.json and ml1m_seq.md into this folder")
    parser.add_argument("--time-only", type=int, metavar="EPOCHS", help="train nothing new: refit the models "
                        "saved in --out for EPOCHS epochs each to time them alone, and add that to the tables")
    parser.add_argument("--timestamps", choices=["float32", "exact"], default="float32",
                        help="float32: RecBole's own split and sequences (default); exact: order by exact time")
    args = parser.parse_args(argv)
    if args.time_only is not None:
        if not args.out:
            parser.error("--time-only needs --out (the folder of the results to time)")
        saved = [r for r in load_results(Path(args.out) / "ml1m_seq.json") if not args.only or r.label in args.only]
        if not saved:
            parser.error(f"no saved results to time in {args.out}")
        timing = time_epochs(saved, prepare_ml1m_seq(args.quick, timestamps=args.timestamps), args.time_only)
        write_tables(saved, args.out, quick=args.quick, merge=True, timing=timing, timestamps=args.timestamps)
        return saved
    specs = [s for s in load_seq_specs(args.configs) if not args.only or s.title in args.only]
    if not specs:
        parser.error(f"no model config matches --only {args.only} in {args.configs}")
    results = run_seq_protocol(specs, quick=args.quick, timestamps=args.timestamps)
    for row in result_rows(results):
        print(json.dumps(row), flush=True)
    if args.out:
        paths = write_tables(results, args.out, quick=args.quick, merge=bool(args.only), timestamps=args.timestamps)
        print(f"wrote {paths['markdown']} and {paths['json']}")
    return results


if __name__ == "__main__":
    main()
