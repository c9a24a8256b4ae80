"""RecBole 1.2.1 peers (Pop, SASRec, FDSA) on Fathom's amazon_scientific leave-one-out split, full ranking.

The split is Fathom's ``loo_split`` (per user by position: last item test, second-to-last validation, rest train);
ranking is over every item with nothing excluded (repeats allowed: RecBole's sequential full-sort evaluation does
not mask a user's history); metrics NDCG@10, Recall@10 and Hit@10 (one test item, so Recall@10 == Hit@10).

Environment (outside the repository; RecBole never enters Fathom's own environment, and Fathom's tests never
import it)::

    python3.11 -m venv /work/recbole-venv
    /work/recbole-venv/bin/pip install "recbole==1.2.1" "torch==2.13.0" "numpy==1.26.4" "pandas==2.2.3" \\
        "scipy==1.13.1"

``torch==2.13.0`` resolves to the CPU build; numpy < 2, pandas 2.2 and scipy 1.13 are the versions RecBole 1.2.1
was written against (it calls ``np.float`` in MRR/MAP, which numpy >= 1.24 lacks, so those metrics are not asked
for). No RecBole file is patched. One difference from ``recbole.quick_start``: torch >= 2.6 loads with
``weights_only=True`` by default, which refuses RecBole's checkpoints (they pickle the Config), so this script
loads the best checkpoint itself with ``weights_only=False`` (our own file) and evaluates with
``load_best_model=False``.

Run (one command; reads the shared data directly with pandas/json, so Fathom need not be installed in the venv)::

    /work/recbole-venv/bin/python benchmarks/peers/recbole_text.py

Options: ``--models Pop,SASRec,FDSA``, ``--no-grid`` (defaults only), ``--epochs`` (cap, 200), ``--threads``,
``--max-minutes`` (per-run training budget: no epoch starts after it; such runs are marked not converged),
``--merge`` (keep the other runs already in the JSON, so models can run in separate processes),
``--render-only`` (rewrite the .md from the JSON). The committed results came from two processes at once on two
shared cores, ``--models Pop,SASRec --no-grid --threads 1 --max-minutes 12 --merge`` and
``--models FDSA --no-grid --threads 1 --max-minutes 12 --merge``: SASRec and FDSA are NOT converged there.

It writes RecBole atomic files (``.inter``: user_id:token, item_id:token, timestamp:float = position in the
user's history; ``.item``: item_id:token, categories:token_seq = the category path split on commas, brand:token)
into a temporary folder, checks that RecBole's train / valid / test equal Fathom's ``loo_split`` user by user
(through Fathom's own venv, ``--fathom-python``), trains every configuration with early stopping on validation
NDCG@10, and writes ``benchmarks/results/text-rec/recbole_peers.json`` and ``.md``.

Models and hyper-parameters: RecBole's defaults (``properties/model/SASRec.yaml``, ``FDSA.yaml``,
``overall.yaml``: 2 layers, 2 heads, hidden 64, inner 256, dropout 0.5/0.5, gelu, Adam lr 1e-3, batch 2048, CE
loss over all items, no negative sampling, MAX_ITEM_LIST_LENGTH 50), then a tiny grid on validation: dropout
(hidden = attention) in {0.5, 0.2}, and for FDSA the selected features [categories] or [categories, brand]. The
configuration with the best validation NDCG@10 is the one reported per model; every run is listed.

Pop (the floor) is RecBole's Pop typed as a sequential model so that it runs on the same dataloaders as
SASRec/FDSA: RecBole's stock Pop is a general model, whose evaluation removes the user's seen items from the ranking
(not the shared protocol). It counts the training targets, i.e. every training interaction but each user's first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from recbole_budget import fit_within_budget, load_best  # benchmarks/peers/, beside this script

REPO = Path(__file__).resolve().parents[2]
DATASET = "amazon_scientific"
METRICS = ("ndcg@10", "recall@10", "hit@10")

FATHOM_SPLIT_SNIPPET = """
import json, sys
from fathom.benchmarks.text_data import load_text_data, loo_split
d = load_text_data("amazon_scientific", sys.argv[1])
s = loo_split(d.inter)
out = {}
for name in ("train", "valid", "test"):
    p = getattr(s, name)
    out[name] = [[str(d.user_ids[u]), str(d.item_ids[i]), int(t)] for u, i, t in zip(p.user, p.item, p.timestamp)]
json.dump(out, sys.stdout)
"""


def default_data_root() -> Path:
    env = os.environ.get("FATHOM_TEXT_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def write_atomic_files(data_root: Path, folder: Path) -> dict:
    """RecBole atomic files for amazon_scientific in ``folder/amazon_scientific/``; returns counts."""
    import pandas as pd

    src = data_root / DATASET
    inter = pd.read_csv(src / "interactions.csv")
    items = [json.loads(line) for line in (src / "items.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    out = folder / DATASET
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{DATASET}.inter", "w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for u, i, t in zip(inter["user_id"], inter["item_id"], inter["timestamp"], strict=True):
            f.write(f"{u}\t{i}\t{float(t)}\n")

    def clean(text: str) -> str:
        return " ".join(str(text or "").replace("|", "/").split())

    with open(out / f"{DATASET}.item", "w", encoding="utf-8") as f:
        f.write("item_id:token\tcategories:token_seq\tbrand:token\n")
        for row in items:
            cats = [clean(c) for c in str(row.get("categories") or "").split(",") if clean(c)] or ["[none]"]
            f.write(f"{row['item_id']}\t{'|'.join(cats)}\t{clean(row.get('brand')) or '[none]'}\n")
    return {"interactions": len(inter), "users": int(inter["user_id"].nunique()),
            "items": len(items), "items_in_interactions": int(inter["item_id"].nunique())}


def base_config(data_path: Path, checkpoint_dir: Path, seed: int, epochs: int) -> dict:
    return {
        "data_path": str(data_path),
        "checkpoint_dir": str(checkpoint_dir),
        "use_gpu": False,
        "seed": seed,
        "reproducibility": True,
        "show_progress": False,
        "state": "WARNING",
        "field_separator": "\t",
        "seq_separator": "|",
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "val_interval": None,
        "rm_dup_inter": None,
        "MAX_ITEM_LIST_LENGTH": 50,
        "train_neg_sample_args": None,
        "eval_args": {"order": "TO", "split": {"LS": "valid_and_test"}, "group_by": "user", "mode": "full"},
        "metrics": ["NDCG", "Recall", "Hit"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "stopping_step": 10,
        "epochs": epochs,
        "eval_step": 1,
    }


def fathom_split(fathom_python: Path, data_root: Path) -> dict | None:
    if not fathom_python.is_file():
        return None
    done = subprocess.run([str(fathom_python), "-c", FATHOM_SPLIT_SNIPPET, str(data_root)], capture_output=True,
                          text=True, cwd=REPO, check=True)
    return json.loads(done.stdout)


def check_split(train_data, valid_data, test_data, fathom: dict | None, max_len: int) -> dict:
    """Compares RecBole's built datasets with Fathom's loo_split, every user (tokens mapped back to raw ids)."""
    ds = test_data._dataset
    uid_tok = ds.field2id_token["user_id"]
    iid_tok = ds.field2id_token["item_id"]

    def rows(dataset):
        feat = dataset.inter_feat
        users = uid_tok[feat["user_id"].numpy()]
        items = iid_tok[feat["item_id"].numpy()]
        lists = feat["item_id_list"].numpy()
        lengths = feat["item_length"].numpy()
        hist = [list(iid_tok[lst[:n]]) for lst, n in zip(lists, lengths, strict=True)]
        return list(zip(users, items, hist, strict=True))

    tr, va, te = rows(train_data._dataset), rows(valid_data._dataset), rows(test_data._dataset)
    n_users = len({u for u, _, _ in te})
    out = {
        "recbole_rows": {"train_sequences": len(tr), "valid": len(va), "test": len(te)},
        # every training interaction is a target except each user's first, which only appears in the histories
        "recbole_train_interactions": len(tr) + n_users,
        "recbole_items_ranked": int(ds.item_num - 1),  # id 0 is RecBole's padding, scored -inf
    }
    if fathom is None:
        out["identical_to_fathom"] = None
        out["note"] = "Fathom's venv not found: the split was not compared"
        return out
    seqs: dict[str, list[tuple[int, str]]] = {}
    for u, i, t in fathom["train"]:
        seqs.setdefault(u, []).append((t, i))
    train_seq = {u: [i for _, i in sorted(v)] for u, v in seqs.items()}
    f_valid = {u: i for u, i, _ in fathom["valid"]}
    f_test = {u: i for u, i, _ in fathom["test"]}
    mismatches = {"test_item": 0, "valid_item": 0, "test_history": 0, "valid_history": 0, "train_targets": 0}
    for u, i, h in te:
        mismatches["test_item"] += f_test.get(u) != i
        mismatches["test_history"] += h != (train_seq.get(u, []) + [f_valid.get(u)])[-max_len:]
    for u, i, h in va:
        mismatches["valid_item"] += f_valid.get(u) != i
        mismatches["valid_history"] += h != train_seq.get(u, [])[-max_len:]
    targets: dict[str, list[str]] = {}
    for u, i, _ in tr:
        targets.setdefault(u, []).append(i)
    mismatches["train_targets"] = sum(sorted(targets.get(u, [])) != sorted(s[1:]) for u, s in train_seq.items())
    sample = sorted(f_test)[:5]
    recbole_test = {u: i for u, i, _ in te}
    out.update({
        "fathom_counts": {k: len(v) for k, v in fathom.items()},
        "users": {"fathom": len(f_test), "recbole": len(te), "same_set": set(f_test) == {u for u, _, _ in te}},
        "mismatched_users": mismatches,
        "sample_test_items": {u: {"fathom": f_test[u], "recbole": recbole_test.get(u)} for u in sample},
    })
    out["identical_to_fathom"] = (
        out["users"]["same_set"] and not any(mismatches.values())
        and out["fathom_counts"] == {"train": out["recbole_train_interactions"], "valid": len(va), "test": len(te)})
    return out


def run_one(spec: dict, common: dict, fathom: dict | None, threads: int, max_minutes: float | None) -> dict:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import ModelType, get_model, get_trainer, init_seed

    model_name = spec["model"]
    model_cls = get_model(model_name)
    if spec.get("sequential_protocol") and model_cls.type != ModelType.SEQUENTIAL:
        # the same model, typed sequential so that it runs on the sequential dataloaders (no history masking);
        # registered in this module so that RecBole's checkpoint (which pickles the config) can name it
        name = f"Sequential{model_name}"
        model_cls = type(name, (model_cls,), {"type": ModelType.SEQUENTIAL, "__module__": __name__})
        globals()[name] = model_cls
    config_dict = dict(common, **spec.get("config", {}))
    config = Config(model=model_cls, dataset=DATASET, config_dict=config_dict)
    torch.set_num_threads(threads)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    split = None
    if spec.get("check_split"):
        split = check_split(train_data, valid_data, test_data, fathom, config["MAX_ITEM_LIST_LENGTH"])
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = model_cls(config, train_data._dataset).to(config["device"])
    base = get_trainer(config["MODEL_TYPE"], config["model"])
    trainer, log, stopped_by, fit_s = fit_within_budget(base, config, model, train_data, valid_data, max_minutes)
    n = len(log["train_s"])
    if stopped_by.startswith("early") and n == config["epochs"] and trainer.cur_step < config["stopping_step"]:
        stopped_by = f"epoch cap ({config['epochs']})"
    load_best(trainer, model)
    valid = trainer.evaluate(valid_data, load_best_model=False)
    test = trainer.evaluate(test_data, load_best_model=False)
    scores = log["valid_ndcg"]
    best_epoch = scores.index(max(scores)) + 1 if scores else None
    keys = ("n_layers", "n_heads", "hidden_size", "inner_size", "hidden_dropout_prob", "attn_dropout_prob",
            "hidden_act", "layer_norm_eps", "initializer_range", "loss_type", "selected_features", "pooling_mode",
            "learning_rate", "train_batch_size", "weight_decay", "MAX_ITEM_LIST_LENGTH", "epochs", "stopping_step")
    result = {
        "label": spec["label"],
        "model": model_name,
        "protocol": "sequential (nothing excluded)" if config["MODEL_TYPE"] == ModelType.SEQUENTIAL
        else "general (seen items excluded)",
        "hyper_parameters": {k: config[k] for k in keys if config[k] is not None or k in spec.get("config", {})},
        "valid": {m: round(float(valid[m]), 4) for m in METRICS},
        "test": {m: round(float(test[m]), 4) for m in METRICS},
        "epochs_run": n,
        "best_epoch": best_epoch,
        "stopped_by": stopped_by,
        "train_s_per_epoch": round(sum(log["train_s"]) / n, 2) if n else None,
        "valid_s_per_epoch": round(sum(log["valid_s"]) / len(log["valid_s"]), 2) if log["valid_s"] else None,
        "fit_s": round(fit_s, 1),
        "torch_threads": threads,
    }
    if split is not None:
        result["split_check"] = split
    os.remove(trainer.saved_model_file)
    return result


def specs(models: list[str], grid: bool, epochs: int, shape: dict | None = None) -> list[dict]:
    """The runs; ``shape`` (train_batch_size, MAX_ITEM_LIST_LENGTH) applies to SASRec and FDSA."""
    out = []
    shape = shape or {}
    if "Pop" in models:
        out.append({"label": "Pop", "model": "Pop", "sequential_protocol": True, "check_split": True,
                    "config": {"epochs": 1}})
    dropouts = [0.5, 0.2] if grid else [0.5]
    for p in dropouts:
        drop = {"hidden_dropout_prob": p, "attn_dropout_prob": p, **shape}
        if "SASRec" in models:
            out.append({"label": f"SASRec dropout {p}", "model": "SASRec", "config": drop,
                        "check_split": "Pop" not in models and p == dropouts[0]})
        if "FDSA" in models:
            for feats in ([["categories"], ["categories", "brand"]] if grid else [["categories"]]):
                out.append({"label": f"FDSA {'+'.join(feats)} dropout {p}", "model": "FDSA",
                            "config": dict(drop, selected_features=feats,
                                           load_col={"inter": ["user_id", "item_id", "timestamp"],
                                                     "item": ["item_id", *feats]})})
    return out


def write_results(out_dir: Path, payload: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "recbole_peers.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    env = payload["environment"]
    split = payload["split_check"] or {}
    lines = [
        "# RecBole peers on amazon_scientific (Fathom's leave-one-out split, full ranking)",
        "",
        f"RecBole {env['recbole']}, torch {env['torch']}, numpy {env['numpy']}, seed {payload['seed']}, "
        f"CPU (torch threads per run in the JSON). Generated by `benchmarks/peers/recbole_text.py`.",
        "",
        "Full ranking over all items, nothing excluded (RecBole's sequential evaluation; repeats allowed), the "
        "history is every earlier interaction (the last MAX_ITEM_LIST_LENGTH, per run below). Recall@10 = Hit@10 "
        "(one test item per user). Early "
        "stopping on validation NDCG@10 (patience 10); validation and test are from the best-validation "
        "checkpoint. Selected = best validation NDCG@10 among that model's runs.",
        "",
    ]
    capped = [r["label"] for r in payload["runs"] if r["stopped_by"].startswith("time budget")]
    if capped:
        epochs = ", ".join(f"{r['epochs_run']} epochs, best {r['best_epoch']}" for r in payload["runs"]
                           if r["label"] in capped)
        lines += [
            f"**Not converged: {', '.join(capped)} stopped on the time budget ({epochs}; validation was still "
            "improving). Those rows are lower bounds; rerun without `--max-minutes` (and with the grid) on a "
            "machine with free cores.**",
            "",
        ]
    lines += [
        "| run | selected | valid NDCG@10 | valid Recall@10 | test NDCG@10 | test Recall@10 | epochs (best) "
        "| stopped by | train s/epoch | valid s/epoch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["runs"]:
        sel = "yes" if payload["selected"].get(r["model"]) == r["label"] else ""
        lines.append(
            f"| {r['label']} | {sel} | {r['valid']['ndcg@10']:.4f} | {r['valid']['recall@10']:.4f} "
            f"| {r['test']['ndcg@10']:.4f} | {r['test']['recall@10']:.4f} | {r['epochs_run']} ({r['best_epoch']}) "
            f"| {r['stopped_by']} | {r['train_s_per_epoch']} | {r['valid_s_per_epoch']} |")
    lines += [
        "",
        "Pop is RecBole's Pop typed as a sequential model so that it runs on the same dataloaders (RecBole's stock "
        "Pop is a general model whose evaluation removes each user's seen items); it counts the training targets, "
        "i.e. every training interaction but each user's first.",
        "",
        "## Split check",
        "",
        f"- identical to Fathom's `loo_split`: {split.get('identical_to_fathom')}",
        f"- RecBole rows: {split.get('recbole_rows')}; training interactions (targets + each user's first item): "
        f"{split.get('recbole_train_interactions')}; items ranked: {split.get('recbole_items_ranked')}",
        f"- Fathom counts: {split.get('fathom_counts')}",
        f"- users with a mismatch (test item, valid item, histories, training targets): "
        f"{split.get('mismatched_users')}",
        f"- sample test items (raw ids): {split.get('sample_test_items')}",
        "",
        "## Hyper-parameters (RecBole defaults unless varied by the grid)",
        "",
    ]
    for label in payload["selected"].values():
        run = next(r for r in payload["runs"] if r["label"] == label)
        lines.append(f"- {label}: `{json.dumps(run['hyper_parameters'])}`")
    lines += ["", f"Timing note: {payload['timing_note']}", ""]
    (out_dir / "recbole_peers.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_root(), help="folder holding amazon_scientific/")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "text-rec")
    ap.add_argument("--fathom-python", type=Path, default=REPO / ".venv" / "bin" / "python",
                    help="Fathom's interpreter, used only to compute its loo_split for the split check")
    ap.add_argument("--models", default="Pop,SASRec,FDSA")
    ap.add_argument("--no-grid", action="store_true", help="RecBole defaults only")
    ap.add_argument("--epochs", type=int, default=200, help="epoch cap (early stopping usually ends sooner)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="training time budget per run: no new epoch starts after it (the run is marked so)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the runs already in recbole_peers.json whose labels this call does not produce")
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--batch-size", type=int, default=None, help="train_batch_size of SASRec / FDSA (default: "
                    "RecBole's 2048)")
    ap.add_argument("--max-len", type=int, default=None, help="MAX_ITEM_LIST_LENGTH (default: RecBole's 50)")
    ap.add_argument("--render-only", action="store_true", help="rewrite the .md from the existing .json")
    ap.add_argument("--no-write", action="store_true", help="print the results without writing the files")
    args = ap.parse_args(argv)
    if args.render_only:
        write_results(args.out.resolve(), json.loads((args.out / "recbole_peers.json").read_text(encoding="utf-8")))
        return 0
    sys.argv = sys.argv[:1]  # RecBole's Config also reads --key=value from the command line
    warnings.filterwarnings("ignore", category=FutureWarning)

    import numpy
    import recbole
    import torch

    data_root, out_dir = args.data.resolve(), args.out.resolve()
    fathom = fathom_split(args.fathom_python.absolute(), data_root)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    runs, split = [], None
    with tempfile.TemporaryDirectory(prefix="recbole_text_") as tmp:
        tmp_path = Path(tmp)
        counts = write_atomic_files(data_root, tmp_path / "data")
        os.chdir(tmp_path)  # RecBole writes log_tensorboard/ under the working folder
        common = base_config(tmp_path / "data", tmp_path / "saved", args.seed, args.epochs)
        shape = {k: v for k, v in (("train_batch_size", args.batch_size), ("MAX_ITEM_LIST_LENGTH", args.max_len))
                 if v is not None}
        for spec in specs(models, not args.no_grid, args.epochs, shape):
            t0 = time.perf_counter()
            res = run_one(spec, common, fathom, args.threads, args.max_minutes)
            split = res.pop("split_check", split)
            runs.append(res)
            print(f"{res['label']:42s} valid ndcg@10 {res['valid']['ndcg@10']:.4f} recall@10 "
                  f"{res['valid']['recall@10']:.4f} | test ndcg@10 {res['test']['ndcg@10']:.4f} recall@10 "
                  f"{res['test']['recall@10']:.4f} | epochs {res['epochs_run']} (best {res['best_epoch']}) "
                  f"{res['train_s_per_epoch']} s/epoch train | {time.perf_counter() - t0:.0f} s", flush=True)
            if split is not None and spec.get("check_split"):
                print(f"split check: identical to Fathom's loo_split = {split.get('identical_to_fathom')}; "
                      f"{split.get('mismatched_users')}", flush=True)
    previous = out_dir / "recbole_peers.json"
    if args.merge and previous.is_file():
        old = json.loads(previous.read_text(encoding="utf-8"))
        labels = {r["label"] for r in runs}
        runs = [r for r in old.get("runs", []) if r["label"] not in labels] + runs
        split = split or old.get("split_check")
    selected = {}
    for r in runs:
        if r["protocol"].startswith("general"):
            continue
        best = next((x for x in runs if x["label"] == selected.get(r["model"])), None)
        if best is None or r["valid"]["ndcg@10"] > best["valid"]["ndcg@10"]:
            selected[r["model"]] = r["label"]
    payload = {
        "dataset": DATASET,
        "data_counts": counts,
        "protocol": "leave-one-out by position (Fathom loo_split), full ranking over all items, nothing excluded",
        "environment": {"recbole": recbole.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
                        "python": platform.python_version()},
        "seed": args.seed,
        "epoch_cap": args.epochs,
        "timing_note": "2 CPU cores shared with other jobs running at the same time; seconds are indicative",
        "split_check": split,
        "selected": selected,
        "runs": runs,
    }
    if args.no_write:
        json.dump(payload, sys.stdout, indent=2)
    else:
        write_results(out_dir, payload)
        print(f"wrote {out_dir / 'recbole_peers.json'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
