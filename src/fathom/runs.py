"""Run folders: a prepared data set and the models trained on it, as the CLI and the main job write them.

Layout::

    RUN/
      data/               PreparedData.save (vocabularies, splits, catalogue, users)
      models/<label>/     Recommender.save (model.json + weights.safetensors)
      models/<label>/metrics.json   validation / test metrics written at training time
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fathom.data.dataset import Dataset
from fathom.data.loading import LoadConfig
from fathom.data.prepare import PrepareConfig, PreparedData
from fathom.data.sources import builtin_names, load_builtin
from fathom.models.base import Recommender

PRESETS = {
    "default": PrepareConfig,
    "movielens-100k": PrepareConfig.movielens_100k,
    "recbole-general": PrepareConfig.recbole_general,
    "recbole-seq": PrepareConfig.recbole_seq,
}


def load_dataset(
    source: str,
    catalog: str | None = None,
    users: str | None = None,
    columns: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Dataset:
    """A built-in data set by name, or events (and optional catalogue / users) files.

    ``columns`` maps the events file's column names onto Fathom's; ``defaults`` fills columns it lacks.
    """
    if source in builtin_names():
        return load_builtin(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{source!r} is neither a built-in data set ({', '.join(builtin_names())}) nor a file")
    config = LoadConfig(columns=columns or {}, defaults=defaults or {})
    return Dataset.from_files(events=path, catalog=catalog, users=users, name=path.stem, events_config=config)


def preset_for(source: str, preset: str | None) -> PrepareConfig:
    if preset is None:
        preset = "movielens-100k" if source == "movielens-100k" else "default"
    try:
        return PRESETS[preset]()
    except KeyError:
        raise KeyError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}") from None


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["factors=32", "train.epochs=5"]`` -> ``{"factors": 32, "train": {"epochs": 5}}`` (values read as JSON)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"setting {pair!r} is not KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._data: PreparedData | None = None

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    def save_data(self, prepared: PreparedData) -> None:
        prepared.save(self.path / "data")
        self._data = prepared

    def data(self) -> PreparedData:
        if self._data is None:
            if not (self.path / "data").is_dir():
                raise FileNotFoundError(f"{self.path} is not a run folder (no data/ inside): see `fathom train`")
            self._data = PreparedData.load(self.path / "data")
        return self._data

    def save_model(self, label: str, model: Recommender, metrics: dict[str, Any] | None = None) -> Path:
        folder = model.save(self.models_dir / label)
        if metrics is not None:
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
        return folder

    def model_labels(self) -> list[str]:
        if not self.models_dir.is_dir():
            return []
        return sorted(p.name for p in self.models_dir.iterdir() if (p / "model.json").is_file())

    def load_model(self, label: str | None = None) -> tuple[str, Recommender]:
        labels = self.model_labels()
        if not labels:
            raise FileNotFoundError(f"no trained model in {self.models_dir}")
        if label is None:
            if len(labels) > 1:
                raise ValueError(f"{self.path} holds several models ({', '.join(labels)}): choose one with --model")
            label = labels[0]
        if label not in labels:
            raise KeyError(f"no model {label!r} in {self.path}; found: {', '.join(labels)}")
        return label, Recommender.load(self.models_dir / label)

    def user_index(self, user_id: str) -> int:
        vocab = self.data().user_vocab
        if user_id not in vocab:
            raise KeyError(f"unknown user {user_id!r} (the data set has {len(vocab)} users)")
        return vocab.index(user_id)

    def item_index(self, item_id: str) -> int:
        vocab = self.data().item_vocab
        if item_id not in vocab:
            raise KeyError(f"unknown item {item_id!r} (the data set has {len(vocab)} items)")
        return vocab.index(item_id)


def describe_items(prepared: PreparedData, items: np.ndarray) -> list[dict[str, Any]]:
    """External id plus catalogue fields (title, year, genres...) for item indices; -1 padding is dropped."""
    items = np.asarray(items)
    items = items[items >= 0]
    ids = prepared.item_vocab.decode(items)
    frame = prepared.catalog.frame if prepared.catalog is not None else None
    out = []
    for idx, ext in zip(items, np.atleast_1d(ids), strict=True):
        row: dict[str, Any] = {"item_id": str(ext)}
        if frame is not None and idx < len(frame):
            for col, val in frame.iloc[int(idx)].items():
                if col == "item_id":
                    continue
                if isinstance(val, np.ndarray | list):
                    val = ", ".join(map(str, val))
                elif isinstance(val, float) and val.is_integer():
                    val = int(val)
                row[col] = val
        out.append(row)
    return out


def item_line(row: dict[str, Any]) -> str:
    """'Toy Story (1995) [Animation, Children's, Comedy]' style one-line description."""
    title = row.get("title", row["item_id"])
    year = row.get("release_year") or row.get("year")
    genres = row.get("genres")
    text = f"{title} ({year})" if year and str(year) not in str(title) else str(title)
    return f"{text} [{genres}]" if genres else text
