"""Leaderboards as Markdown, JSON and a picture."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fathom.evaluate.experiment import ModelResult

_SECONDS = re.compile(r"(^|\s)s(/epoch)?(\s|$)|seconds")  # "s/epoch", "fit s", "RecBole eval s", "seconds"


def table_cell(value: Any, column: str = "") -> str:
    """One table cell: "-" for None; floats by what the column holds: megabytes whole, seconds to three
    significant figures at most (0.17, 5.80, 23.4, 1714), anything else (metrics) to four decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if column.endswith("MB"):
            return f"{value:.0f}"
        if _SECONDS.search(column):
            return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table of dict rows (columns from the union of keys, in first-seen order)."""
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(table_cell(r.get(c), c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def leaderboard_rows(results: Sequence[ModelResult], sort_by: str = "test ndcg@10") -> list[dict[str, Any]]:
    rows = [r.row() for r in results]
    return sorted(rows, key=lambda r: -(r.get(sort_by) or 0.0))


def write_leaderboard(
    results: Sequence[ModelResult], out_dir: Path, title: str, extra: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Writes leaderboard.md, leaderboard.json and leaderboard.png into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = leaderboard_rows(results)
    md = f"# {title}\n\n{markdown_table(rows)}\n"
    paths = {"markdown": out_dir / "leaderboard.md", "json": out_dir / "leaderboard.json"}
    paths["markdown"].write_text(md)
    payload = {"title": title, **(extra or {}), "results": [asdict(r) for r in results]}
    paths["json"].write_text(json.dumps(payload, indent=2, default=float))
    paths["picture"] = plot_results(results, out_dir / "leaderboard.png", title)
    return paths


def plot_results(results: Sequence[ModelResult], path: Path, title: str) -> Path:
    """Per-model test metric bars (left) and validation NDCG@10 / loss curves per epoch (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    metrics = [k for k in (results[0].test if results else {}) if k != "n_users" and not k.startswith("coverage")]
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(14, 5.5))
    width = 0.8 / max(len(results), 1)
    x = np.arange(len(metrics))
    for i, r in enumerate(results):
        ax_bar.bar(x + i * width, [r.test.get(m, 0.0) for m in metrics], width, label=r.label)
    ax_bar.set_xticks(x + width * (len(results) - 1) / 2, metrics)
    ax_bar.set_title("Test metrics (full ranking)")
    ax_bar.legend(fontsize=8)
    ax_bar.grid(axis="y", alpha=0.3)
    plotted = False
    for r in results:
        points = [(h["epoch"], h["ndcg@10"]) for h in r.history if h.get("ndcg@10") is not None]
        if points:
            ep, val = zip(*points, strict=True)
            ax_curve.plot(ep, val, marker=".", label=f"{r.label} valid ndcg@10")
            plotted = True
    if plotted:
        ax_curve.set_xlabel("epoch")
        ax_curve.set_title("Training curves (validation NDCG@10)")
        ax_curve.legend(fontsize=8)
        ax_curve.grid(alpha=0.3)
    else:
        ax_curve.text(0.5, 0.5, "no epoch-wise models", ha="center", va="center")
        ax_curve.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
