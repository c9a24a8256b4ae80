"""RecBole 1.2.1 peers on MovieLens-100K, general protocol: BPR, EASE, LightGCN and the knowledge-graph models CKE,
KGAT and KGIN, on RecBole's own split of its own ml-100k files (the Freebase KG and item links that ship in the
wheel), full ranking, training (and for test, validation) items excluded.

Environment: the RecBole venv of ``benchmarks/peers/recbole_text.py`` (recbole 1.2.1, torch 2.13.0 CPU, numpy 1.26,
pandas 2.2) with scipy 1.11.4: with scipy 1.13 RecBole's LightGCN and KGIN fail building their graph
(``dok_matrix._update`` is gone). RecBole never enters Fathom's environment. One command (run it from a scratch
folder: RecBole writes ``log/`` and ``log_tensorboard/`` into the working folder)::

    /work/recbole-venv/bin/python benchmarks/peers/recbole_kg.py            # every model, 6-minute budget each
    /work/recbole-venv/bin/python benchmarks/peers/recbole_kg.py --models KGAT --merge

Settings are RecBole's defaults (``overall.yaml`` and each model's yaml; the data set's own ``ml-100k.yaml``: every
rating is an interaction, no filtering, random 8:1:1 per user, RecBole's seed 2020), early stopping on validation
NDCG@10 (RecBole's ``valid_metric`` set to it; patience 10), and a training budget per run (``--max-minutes``, 6 by
default: no epoch starts after it; such runs are marked not converged). A model that fails to run (a missing
dependency such as ``dgl`` or ``torch_scatter``) gets a row saying why. The split is written as (user, item) pairs
to ``recbole_split.json`` in the output folder, which ``benchmarks/kg_rec.py`` compares with Fathom's own.

Writes ``benchmarks/results/kg-rec/recbole_peers.json`` (``--merge`` keeps the other models' runs).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import traceback
from pathlib import Path

from recbole_budget import fit_within_budget, load_best  # benchmarks/peers/, beside this script

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "benchmarks" / "results" / "kg-rec"
METRICS = ("ndcg@10", "recall@10", "hit@10", "precision@10")
MODELS = ["BPR", "EASE", "LightGCN", "CKE", "KGAT", "KGIN"]


def base_config(checkpoint_dir: Path, seed: int) -> dict:
    return {"checkpoint_dir": str(checkpoint_dir), "use_gpu": False, "seed": seed, "reproducibility": True,
            # accuracy only: with ItemCoverage & co. RecBole 1.2.1's evaluation collector calls .cpu() on an int
            "show_progress": False, "state": "WARNING", "metrics": ["NDCG", "Recall", "Hit", "Precision"],
            "topk": [10], "valid_metric": "NDCG@10", "stopping_step": 10, "eval_step": 1}


def split_pairs(train_data, valid_data, test_data) -> dict:
    ds = train_data._dataset
    uid, iid = ds.field2id_token["user_id"], ds.field2id_token["item_id"]
    out = {}
    for name, data in (("train", train_data), ("valid", valid_data), ("test", test_data)):
        feat = data._dataset.inter_feat
        out[name] = sorted([str(u), str(i)] for u, i in zip(uid[feat["user_id"].numpy()],
                                                            iid[feat["item_id"].numpy()], strict=True))
    return out


def run_one(model_name: str, checkpoint_dir: Path, threads: int, max_minutes: float, seed: int,
            split_file: Path | None) -> dict:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    config = Config(model=model_name, dataset="ml-100k", config_dict=base_config(checkpoint_dir, seed))
    torch.set_num_threads(threads)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    if split_file is not None:
        split_file.write_text(json.dumps(split_pairs(train_data, valid_data, test_data)))
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    base = get_trainer(config["MODEL_TYPE"], config["model"])
    trainer, log, stopped_by, fit_s = fit_within_budget(base, config, model, train_data, valid_data, max_minutes)
    load_best(trainer, model, remove=True)
    valid = trainer.evaluate(valid_data, load_best_model=False)
    test = trainer.evaluate(test_data, load_best_model=False)
    n = len(log["train_s"])
    if stopped_by.startswith("early") and n == config["epochs"]:
        stopped_by = f"epoch cap ({config['epochs']})"
    scores = log["valid_ndcg"]
    return {"label": model_name, "status": "ran",
            "valid": {m: round(float(valid[m]), 4) for m in METRICS if m in valid},
            "test": {m: round(float(test[m]), 4) for m in METRICS if m in test}, "epochs_run": n,
            "best_epoch": scores.index(max(scores)) + 1 if scores else None, "stopped_by": stopped_by,
            "train_s_per_epoch": round(sum(log["train_s"]) / n, 2) if n else None, "fit_s": round(fit_s, 1),
            "torch_threads": threads, "learning_rate": config["learning_rate"],
            "embedding_size": config["embedding_size"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--max-minutes", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--merge", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "recbole_peers.json"
    runs = json.loads(path.read_text())["runs"] if args.merge and path.is_file() else []
    runs = [r for r in runs if r["label"] not in args.models]
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(args.models):
            try:
                result = run_one(name, Path(tmp), args.threads, args.max_minutes, args.seed,
                                 OUT / "recbole_split.json" if i == 0 else None)
            except Exception as exc:  # noqa: BLE001 - a peer that cannot run gets a row saying why
                result = {"label": name, "status": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                          "traceback_tail": traceback.format_exc().splitlines()[-3:]}
            print(json.dumps(result), flush=True)
            runs.append(result)
            path.write_text(json.dumps({"recbole": "1.2.1", "machine": platform.processor() or platform.machine(),
                                        "max_minutes": args.max_minutes, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
