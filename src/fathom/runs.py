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
from fathom.data.interactions import Interactions
from fathom.data.loading import LoadConfig
from fathom.data.prepare import PrepareConfig, PreparedData
from fathom.data.sources import builtin_names, load_builtin
from fathom.models.base import Recommender
from fathom.text.encoders import EncoderName, get_encoder
from fathom.text.item_text import TextTemplate, encode_items


def data_file_preset() -> PrepareConfig:
    """A data file's (and MovieLens-1M's) preset: rating events below the middle of the file's rating scale are
    dropped (ratings >= 3 are kept on 1-5 and on 0.5-5 scales), other events are kept with their values; random
    8:1:1 split, seed 2020."""
    return PrepareConfig(min_rating="midpoint")


PRESETS = {
    "default": data_file_preset,
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
    catalog_columns: dict[str, str] | None = None,
    users_columns: dict[str, str] | None = None,
) -> Dataset:
    """A built-in data set by name, or events (and optional catalogue / users) files.

    ``columns`` maps the events file's column names onto Fathom's; ``defaults`` fills columns it lacks;
    ``catalog_columns`` and ``users_columns`` map the catalogue's and the user file's columns.
    """
    if source in builtin_names():
        return load_builtin(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{source!r} is neither a built-in data set ({', '.join(builtin_names())}) nor a file")
    config = LoadConfig(columns=columns or {}, defaults=defaults or {})
    return Dataset.from_files(events=path, catalog=catalog, users=users, name=path.stem, events_config=config,
                              catalog_config=LoadConfig(columns=catalog_columns or {}),
                              users_config=LoadConfig(columns=users_columns or {}))


def preset_name(source: str, preset: str | None = None) -> str:
    """The preset a data source gets: ``preset`` when given, else MovieLens-100K's own for it, else "default"."""
    if preset is not None:
        return preset
    return "movielens-100k" if source == "movielens-100k" else "default"


def preset_for(source: str, preset: str | None) -> PrepareConfig:
    preset = preset_name(source, preset)
    try:
        return PRESETS[preset]()
    except KeyError:
        raise KeyError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}") from None


def describe_preset(source: str, preset: str | None, dataset: Dataset, prepared: PreparedData) -> str:
    """One line: which preset prepared ``dataset`` and why, and what it did to ratings."""
    name = preset_name(source, preset)
    why = "chosen with --preset" if preset is not None else (
        "MovieLens-100K's own" if name == "movielens-100k" else "for a data set without a preset of its own")
    events = dataset.events.frame
    ratings = events["value"][events["event"] == "rating"]
    config = prepared.config
    if len(ratings) == 0:
        what = "no rating events: every event counts as it is"
    elif config.implicit is not None and config.min_rating is None:
        what = f"every rating ({ratings.min():g}-{ratings.max():g}) counts as a positive"
    elif config.min_rating is None:
        what = f"every rating ({ratings.min():g}-{ratings.max():g}) is kept with its value"
    else:
        dropped = prepared.stats.get("removed_below_min_rating", 0)
        scale = f"{min(ratings.min(), 1.0):g}-{ratings.max():g}"
        rule = f" (the middle of the {scale} scale)" if PRESETS[name]().min_rating == "midpoint" else ""
        what = (f"ratings >= {config.min_rating:g}{rule} count as positives, the {dropped} ratings below are "
                "left out")
    return f"preset {name} ({why}; --preset chooses another): {what}"


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
        """Save ``model`` under ``models/<label>/`` with the run's vocabularies beside it (``user_vocab.json``,
        ``item_vocab.json``): the deployment format the service loads too
        (:class:`fathom.online.versions.ModelBundle`)."""
        folder = model.save(self.models_dir / label)
        if (self.path / "data").is_dir() or self._data is not None:
            data = self.data()
            data.user_vocab.save(folder / "user_vocab.json")
            data.item_vocab.save(folder / "item_vocab.json")
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


def user_history(inter: Interactions, user: int) -> np.ndarray:
    """(H,) int64 distinct items of ``user``, most recent first: by timestamp, and among equal timestamps the
    later row first (the order in which a store that received the rows in time order returns them)."""
    rows = np.flatnonzero(inter.user == user)
    order = rows[np.lexsort((rows, inter.timestamp[rows]))][::-1]  # newest first
    items = inter.item[order].astype(np.int64)
    _, first = np.unique(items, return_index=True)
    return items[np.sort(first)]


def item_popularity(inter: Interactions) -> np.ndarray:
    """(n_items,) float32 number of distinct users per item (what serving breaks ties with)."""
    pairs = np.unique(np.stack([inter.user, inter.item], axis=1), axis=0)
    return np.bincount(pairs[:, 1], minlength=inter.n_items).astype(np.float32)


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


def item_text_arguments(model_cls: type[Recommender], prepared: PreparedData, fields: list[str] | None = None,
                        encoder: EncoderName = "minilm", progress: bool = True) -> tuple[dict[str, Any], dict]:
    """(extra ``fit`` arguments, metadata) for ``model_cls``: a text-aware model gets the catalogue's item text
    vectors, rendered by a template over ``fields`` (default: the common text columns the catalogue has) and
    encoded by ``encoder`` (cached on disk); the metadata (encoder, template, throughput) goes into the model's
    ``meta["item_text"]``. Other models get nothing."""
    if not model_cls.reads_item_text:
        return {}, {}
    if prepared.catalog is None:
        raise ValueError(f"{model_cls.name} reads item text: give the item catalogue (--catalog FILE with a title "
                         "and other text columns)")
    frame = prepared.catalog.frame
    template = TextTemplate(fields=tuple(fields)) if fields else TextTemplate.for_columns(list(frame.columns))
    missing = [f for f in template.fields if f not in frame.columns]
    if missing:
        raise ValueError(f"text field(s) {missing} are not catalogue columns: {sorted(frame.columns)}")
    rows = frame.to_dict("records")
    texts = [template.render(rows[i]) if i < len(rows) else "" for i in range(prepared.n_items)]
    vectors = encode_items(texts, get_encoder(encoder), progress=progress)
    meta = {"encoder": encoder, "template": template.to_dict(), "items_per_second": round(vectors.items_per_second, 1),
            "empty": vectors.empty}
    return {"item_vectors": vectors.vectors}, meta
