"""The main job: MovieLens-100K from raw files to a leaderboard and example recommendations.

``fathom demo`` calls :func:`run_demo`. A run folder that already holds the main job's models, trained by this
version of Fathom with the same model settings (``demo.json``, written last, records both), is reused: the
leaderboard and the example are shown from it without training again, unless ``retrain``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from fathom import __version__
from fathom.data.prepare import PrepareConfig, prepare
from fathom.data.sources import load_builtin
from fathom.evaluate.experiment import ModelResult, ModelSpec, run_models
from fathom.evaluate.report import leaderboard_rows, markdown_table, write_leaderboard
from fathom.runs import RunFolder, describe_items, item_line

MANIFEST = "demo.json"
TITLE = "MovieLens-100K leaderboard (test split, full ranking, k=10)"

DEMO_SPECS = [
    ModelSpec("pop", label="pop"),
    ModelSpec("itemknn", [{"neighbours": k} for k in (50, 100, 200)], label="itemknn"),
    ModelSpec("ease", [{"reg": r} for r in (100, 250, 500)], label="ease"),
    ModelSpec("bpr", label="bpr"),
    ModelSpec("neumf", label="neumf"),
]


def example_recommendations(run: RunFolder, label: str, user_id: str, k: int = 10) -> dict[str, Any]:
    """What the user liked in training, and the model's top-k with held-out test hits marked."""
    data = run.data()
    _, model = run.load_model(label)
    user = run.user_index(user_id)
    ids, scores = model.recommend(np.array([user]), k=k, exclude=data.all_interactions().subset(
        np.concatenate([np.flatnonzero(data.train.user == user), np.flatnonzero(data.valid.user == user)])
    ))
    test_items = set(data.test.item[data.test.user == user].tolist())
    liked = data.train.item[data.train.user == user][:8]
    recs = describe_items(data, ids[0])
    for row, idx, score in zip(recs, ids[0], scores[0], strict=False):
        row["score"] = float(score)
        row["in_test"] = int(idx) in test_items
    return {"user": user_id, "model": label, "history": describe_items(data, liked), "recommendations": recs}


def _manifest(specs: list[ModelSpec]) -> dict[str, Any]:
    """What a reusable run folder of the main job must have been made with."""
    return {"format": "fathom.demo", "fathom": __version__, "prepare": PrepareConfig.movielens_100k().to_dict(),
            "specs": [asdict(spec) for spec in specs]}


def saved_results(out: str | Path, specs: list[ModelSpec]) -> list[ModelResult] | None:
    """The main job's results saved in ``out`` when it holds every model of ``specs`` trained by this version of
    Fathom with these settings (``demo.json``, data, each model and the leaderboard); else None."""
    out = Path(out)
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        saved = json.loads((out / "leaderboard.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return None
    if manifest != json.loads(json.dumps(_manifest(specs))):
        return None
    run = RunFolder(out)
    labels = {spec.title for spec in specs}
    if not (out / "data" / "prepared.json").is_file() or not labels <= set(run.model_labels()):
        return None
    try:
        results = [ModelResult(**row) for row in saved]
    except TypeError:
        return None
    return results if {r.label for r in results} == labels else None


def run_demo(out: str | Path = "runs/demo", log: Callable[[str], None] = print,
             specs: list[ModelSpec] | None = None, retrain: bool = False) -> dict[str, Any]:
    """The main job into run folder ``out``; its trained models are reused when they are all there (see
    :func:`saved_results`) unless ``retrain``."""
    start = time.perf_counter()
    out = Path(out)
    specs = specs or DEMO_SPECS
    run = RunFolder(out)
    results = None if retrain else saved_results(out, specs)
    reused = results is not None
    if results is not None:
        log(f"reusing the models trained in {out} (fathom demo --retrain trains them again)")
        paths = {"markdown": out / "leaderboard.md", "json": out / "leaderboard.json",
                 "picture": out / "leaderboard.png"}
    else:
        results, paths = _train(run, specs, log)
    rows = leaderboard_rows(results)
    log("\n" + markdown_table(rows) + "\n")
    best = rows[0]["model"]
    user_id = "196"
    example = example_recommendations(run, best, user_id)
    log(f"4/4 example: user {user_id} liked")
    for row in example["history"]:
        log(f"      {item_line(row)}")
    log(f"    and {best} recommends (* = a movie the user rated in the held-out test split):")
    for rank, row in enumerate(example["recommendations"], 1):
        log(f"    {rank:>3}. {'*' if row['in_test'] else ' '} {item_line(row)}")
    log(f"\nleaderboard: {paths['markdown']}, {paths['json']}, {paths['picture']}")
    log(f"models: {run.models_dir}/ (try: fathom recommend --run {out} --model {best} --user 42)")
    log(f"done in {time.perf_counter() - start:.0f} s")
    return {"rows": rows, "best": best, "example": example, "paths": {k: str(v) for k, v in paths.items()},
            "reused": reused}


def _train(run: RunFolder, specs: list[ModelSpec], log: Callable[[str], None]
           ) -> tuple[list[ModelResult], dict[str, Path]]:
    """Steps 1-3 of the main job: load, prepare, train and evaluate every model; save them and the leaderboard."""
    (run.path / MANIFEST).unlink(missing_ok=True)  # written again once everything is saved
    log("1/4 loading MovieLens-100K (ratings, users, movies, knowledge graph)")
    dataset = load_builtin("movielens-100k")
    log(f"    {dataset.summary()}")
    log("2/4 preparing: implicit feedback, per-user random 8:1:1 split (seed 2020)")
    prepared = prepare(dataset, PrepareConfig.movielens_100k())
    run.save_data(prepared)
    s = prepared.summary()
    log(f"    {s['users']} users, {s['items']} items, interactions {s['interactions']}")
    log("3/4 training and evaluating (settings chosen on validation NDCG@10, full ranking on test)")
    results, fitted = run_models(specs, prepared.train, prepared.valid, prepared.test,
                                 ks=(10,), log=lambda m: log("    " + m))
    for result in results:
        run.save_model(result.label, fitted[result.label], {"valid": result.valid, "test": result.test})
    paths = write_leaderboard(results, run.path, TITLE)
    (run.path / MANIFEST).write_text(json.dumps(_manifest(specs), indent=2))
    return results, paths
