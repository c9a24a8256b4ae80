"""Recommendation data with item text, and the protocols the text-aware models are measured on.

Data (test data only, read from ``$FATHOM_TEXT_DATA`` or ``../shared/data``, never shipped):

- ``amazon_scientific``: Amazon 2018 Industrial & Scientific 5-core; ``timestamp`` is each interaction's position
  in its user's history; items have title, description, brand, category path (template ``product``).
- ``ml100k_imdb``: MovieLens-100K ratings with Unix times; films have title, plot, genres, year, directors, cast
  (template ``film``). Every rating counts as an interaction.

Protocols:

- :func:`loo_split`: leave-one-out by time (or position): each user's last item is the test item, the one before
  the validation item, the rest train. Full ranking over every item, nothing excluded (repeats allowed, as
  RecBole's sequential protocol, so peers run on the same split compare directly).
- :func:`cold_item_split`: the same split after a seeded random share of the items (default 20%) is held out of
  training entirely: every training and validation interaction with a cold item is removed, the test items are
  kept, and :class:`ColdSplit` says which test cases have a cold item. ID-only models cannot rank a cold item
  above chance; text-aware models read it from its text vector.
- :func:`history_buckets`: users by the length of their training history (cold users have 1-3 items).
- :class:`HistoryScorer`: scores each user through ``Recommender.score_history`` on a given history (train plus
  validation items, most recent last in the stored sequences), so every model family, sequential or not, ranks
  the test item from the same history.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fathom.data.interactions import Interactions
from fathom.data.kg import KnowledgeGraph
from fathom.data.splits import Split, split_leave_one_out
from fathom.text.item_text import TextTemplate

TEXT_DATASETS = {"amazon_scientific": "product", "ml100k_imdb": "film"}
#: the catalogue columns each data set's knowledge graph is built from (``TextRecData.knowledge_graph``)
KG_COLUMNS: dict[str, list[Any]] = {
    "amazon_scientific": ["brand", "categories"],
    "ml100k_imdb": ["genres", "directors", {"name": "cast", "max_values": 5}, "year"],
}


def text_data_dir() -> Path | None:
    """``$FATHOM_TEXT_DATA``, else ``../shared/data`` beside the repository or the working folder; None if absent."""
    env = os.environ.get("FATHOM_TEXT_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[3].parent / "shared" / "data",
                   Path.cwd().parent / "shared" / "data"]
    return next((c for c in candidates if (c / "amazon_scientific").is_dir() or (c / "ml100k_imdb").is_dir()), None)


@dataclass(eq=False)
class TextRecData:
    """A data set with item text. ``items[i]`` is the catalogue row of item index ``i``; ``item_ids[i]`` and
    ``user_ids[u]`` the original ids; ``inter`` every interaction (value 1, or the rating)."""

    name: str
    inter: Interactions
    items: list[dict[str, Any]]
    item_ids: np.ndarray
    user_ids: np.ndarray
    template: TextTemplate

    def texts(self, template: TextTemplate | None = None) -> list[str]:
        t = template or self.template
        return [t.render(row) for row in self.items]

    def knowledge_graph(self) -> KnowledgeGraph:
        """The graph of the catalogue's columns in :data:`KG_COLUMNS` (items keyed by their original ids)."""
        return KnowledgeGraph.from_catalog(pd.DataFrame(self.items), KG_COLUMNS[self.name])


def load_text_data(name: str, root: str | Path | None = None) -> TextRecData:
    """``amazon_scientific`` or ``ml100k_imdb`` from ``root`` (default :func:`text_data_dir`).

    Raises FileNotFoundError naming the folder when the data are absent (tests turn it into a skip)."""
    if name not in TEXT_DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(TEXT_DATASETS)}")
    base = Path(root) if root is not None else text_data_dir()
    folder = None if base is None else base / name
    if folder is None or not (folder / "interactions.csv").is_file():
        raise FileNotFoundError(f"{name}: not found (looked in {base}); put the shared data in ../shared/data or "
                                "set FATHOM_TEXT_DATA")
    rows = [json.loads(line) for line in (folder / "items.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    by_id = {int(r["item_id"]): r for r in rows}
    frame = pd.read_csv(folder / "interactions.csv")
    item_ids = np.array(sorted(by_id), dtype=np.int64)
    item_index = {v: i for i, v in enumerate(item_ids)}
    unknown = set(frame["item_id"].unique()) - set(item_index)
    if unknown:
        raise ValueError(f"{name}: interactions name {len(unknown)} items missing from items.jsonl")
    user_ids, user_index = np.unique(frame["user_id"].to_numpy(), return_inverse=True)
    value = frame["rating"].to_numpy(np.float32) if "rating" in frame else None
    inter = Interactions.from_arrays(user_index, frame["item_id"].map(item_index).to_numpy(), len(user_ids),
                                     len(item_ids), value=value, timestamp=frame["timestamp"].to_numpy(np.int64))
    return TextRecData(name, inter, [by_id[int(i)] for i in item_ids], item_ids, user_ids,
                       TextTemplate.preset(TEXT_DATASETS[name]))


def loo_split(inter: Interactions) -> Split:
    """Per user by time (ties: input order): last item to test, the one before to valid, the rest to train."""
    return split_leave_one_out(inter, valid=True)


@dataclass(eq=False)
class ColdSplit:
    """A leave-one-out split with a share of the items held out of training entirely.

    train / valid: without any cold item; test: every user's last item (cold or warm); cold_items: (C,) int64
    sorted; cold_test / warm_test: the test cases whose item is cold / warm."""

    train: Interactions
    valid: Interactions
    test: Interactions
    cold_items: np.ndarray
    cold_test: Interactions = field(init=False)
    warm_test: Interactions = field(init=False)

    def __post_init__(self) -> None:
        is_cold = np.isin(self.test.item, self.cold_items)
        self.cold_test = self.test.subset(is_cold)
        self.warm_test = self.test.subset(~is_cold)


def cold_item_split(inter: Interactions, share: float = 0.2, seed: int = 0) -> ColdSplit:
    """:func:`loo_split`, then a seeded random ``share`` of the items is removed from train and valid."""
    if not 0 < share < 1:
        raise ValueError(f"share must lie in (0, 1), got {share}")
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(inter.n_items, int(round(share * inter.n_items)), replace=False)).astype(np.int64)
    parts = loo_split(inter)
    keep = lambda part: part.subset(~np.isin(part.item, cold))  # noqa: E731
    return ColdSplit(keep(parts.train), keep(parts.valid), parts.test, cold)


def history_buckets(train: Interactions, edges: tuple[int, ...] = (3, 10)) -> dict[str, np.ndarray]:
    """Users by training-history length: ``"1-3"``, ``"4-10"``, ``">10"`` (for the default edges) -> (U,) ids."""
    lengths = np.bincount(train.user, minlength=train.n_users)
    out, low = {}, 1
    for edge in edges:
        out[f"{low}-{edge}"] = np.flatnonzero((lengths >= low) & (lengths <= edge))
        low = edge + 1
    out[f">{edges[-1]}"] = np.flatnonzero(lengths > edges[-1])
    return out


class HistoryScorer:
    """Scores users through ``model.score_history`` on their stored histories (``parts`` concatenated in time
    order, e.g. train then valid); ``trained_users``: pass the user's index to the model (it was trained on
    them). Satisfies the evaluator's Scorer protocol."""

    def __init__(self, model: Any, *parts: Interactions, trained_users: bool = True) -> None:
        from fathom.models.sequence import Sequences

        self.model, self.trained_users = model, trained_users
        seqs = Sequences.from_interactions(parts[0])
        for extra in parts[1:]:
            seqs = seqs.extend(extra)
        self.seqs = seqs

    def score(self, users: np.ndarray) -> np.ndarray:
        out = np.empty((len(users), self.model.n_items), np.float32)
        for row, u in enumerate(np.asarray(users, dtype=np.int64)):
            history = self.seqs[int(u)][::-1].astype(np.int64)  # most recent first
            out[row] = self.model.score_history(history, user=int(u) if self.trained_users else None)
        return out
