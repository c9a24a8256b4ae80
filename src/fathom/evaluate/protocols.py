"""Named benchmark protocols: data preparation, models with their validation grids, and published figures.

``run_protocol(name)`` is what ``fathom benchmark NAME`` and ``benchmarks/run.py NAME`` call.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fathom.evaluate.experiment import ModelResult, ModelSpec, run_models
from fathom.evaluate.report import markdown_table, write_leaderboard


@dataclass
class Protocol:
    name: str
    title: str
    dataset: str
    prepare: Callable[[], Any]  # -> PrepareConfig
    specs: list[ModelSpec]
    # published figures to print beside ours: label -> {column: value}
    published: dict[str, dict[str, float]] = field(default_factory=dict)
    published_source: str = ""
    notes: str = ""


def _recbole_general() -> Protocol:
    from fathom.data.prepare import PrepareConfig

    return Protocol(
        name="ml1m-general",
        title="MovieLens-1M, RecBole 'general' protocol (full ranking, 8:1:1 random per user)",
        dataset="movielens-1m",
        prepare=PrepareConfig.recbole_general,
        specs=[
            ModelSpec("pop", label="Pop"),
            ModelSpec("itemknn", [{"neighbours": k} for k in (50, 100, 200, 300)], label="ItemKNN"),
            ModelSpec("bpr", label="BPR"),
            ModelSpec("neumf", label="NeuMF"),
            ModelSpec("ease", [{"reg": r} for r in (250, 500, 750, 1000)], label="EASE"),
        ],
        published={
            "Pop": {"RecBole ndcg@10": 0.1006},
            "ItemKNN": {"RecBole ndcg@10": 0.2389},
            "BPR": {"RecBole ndcg@10": 0.2407, "RecBole s/epoch": 1.1},
            "NeuMF": {"RecBole ndcg@10": 0.2393, "RecBole s/epoch": 5.0, "RecBole eval s": 24.0},
            "EASE": {"RecBole ndcg@10": 0.2865, "RecBole fit s": 1.4},
        },
        published_source=(
            "RecBole 1.2.1 leaderboard, ml-1m general (NDCG@10); RecBole timings measured on this same CPU"
        ),
        notes=(
            "Ratings below 3 dropped, 10-core users and items, per-user random 8:1:1 split, full ranking over all "
            "items with training (and for test, validation) items excluded, embedding size 64, each model's "
            "settings chosen on validation NDCG@10."
        ),
    )


PROTOCOLS: dict[str, Callable[[], Protocol]] = {"ml1m-general": _recbole_general}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(PROTOCOLS)}") from None


def comparison_rows(protocol: Protocol, results: list[ModelResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        row = {
            "model": r.label,
            "recall@10": r.test.get("recall@10"),
            "mrr@10": r.test.get("mrr@10"),
            "ndcg@10": r.test.get("ndcg@10"),
            "hit@10": r.test.get("hit@10"),
            "precision@10": r.test.get("precision@10"),
        }
        pub = protocol.published.get(r.label, {})
        if "RecBole ndcg@10" in pub:
            row["RecBole ndcg@10"] = pub["RecBole ndcg@10"]
            row["vs RecBole"] = f"{r.test['ndcg@10'] - pub['RecBole ndcg@10']:+.4f}"
        row["fit s"] = round(r.fit_seconds, 2)
        row["s/epoch"] = None if r.seconds_per_epoch is None else round(r.seconds_per_epoch, 2)
        row["RecBole s/epoch"] = pub.get("RecBole s/epoch", pub.get("RecBole fit s"))
        row["eval s"] = round(r.eval_seconds, 2)
        row["peak MB"] = round(r.peak_memory_mb, 0)
        rows.append(row)
    return rows


def run_protocol(name: str, out_dir: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare the data, run every model, print and (if ``out_dir``) write the comparison table."""
    from fathom.data.prepare import prepare
    from fathom.data.sources import load_builtin

    protocol = get_protocol(name)
    start = time.perf_counter()
    dataset = load_builtin(protocol.dataset)
    prepared = prepare(dataset, protocol.prepare())
    log(f"{protocol.title}\ndata: {prepared.summary()}")
    results, _ = run_models(protocol.specs, prepared.train, prepared.valid, prepared.test, log=log)
    rows = comparison_rows(protocol, results)
    table = markdown_table(rows)
    log("\n" + table)
    summary = {
        "protocol": protocol.name,
        "title": protocol.title,
        "notes": protocol.notes,
        "published_source": protocol.published_source,
        "data": prepared.summary(),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "total_seconds": round(time.perf_counter() - start, 1),
        "table": rows,
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        paths = write_leaderboard(results, out_dir / protocol.name, protocol.title, extra=summary)
        body = (
            f"# {protocol.title}\n\n{protocol.notes}\n\nData after filtering: {prepared.summary()}\n\n{table}\n\n"
            f"Published figures: {protocol.published_source}.\n"
            f"Whole run: {summary['total_seconds']} s on {summary['machine']}.\n"
        )
        paths["markdown"].write_text(body)
        log(f"wrote {paths['markdown']}, {paths['json']}, {paths['picture']}")
    return summary
