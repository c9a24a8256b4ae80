"""A data set: events with external ids, and optionally an item catalogue, user profiles and extra tables.

Built-in data sets come from :func:`fathom.data.sources.load_builtin`; a user's own files load the same way with
:meth:`Dataset.from_files`. A data set is saved to / loaded from a folder of Parquet files plus ``dataset.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fathom.data.loading import LoadConfig, load_catalog, load_events, load_users
from fathom.data.readers import read_raw
from fathom.data.records import Catalog, EventTable, UserTable
from fathom.data.validation import DataValidationError, ValidationReport, problems_frame

FORMAT = "fathom.dataset"
VERSION = 1


@dataclass(eq=False)
class Dataset:
    """``events`` always; ``catalog`` / ``users`` when known; ``extras`` holds other frames by name (for
    MovieLens-100k: ``kg`` triples head_id/relation_id/tail_id and ``link`` item_id/entity_id).
    ``reports`` keeps the validation report of each loaded file, by table name."""

    name: str
    events: EventTable
    catalog: Catalog | None = None
    users: UserTable | None = None
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    reports: dict[str, ValidationReport] = field(default_factory=dict)

    @classmethod
    def from_files(
        cls,
        events: str | Path,
        catalog: str | Path | None = None,
        users: str | Path | None = None,
        *,
        name: str | None = None,
        events_config: LoadConfig | None = None,
        catalog_config: LoadConfig | None = None,
        users_config: LoadConfig | None = None,
        extras: dict[str, str | Path] | None = None,
    ) -> Dataset:
        """Load and check each file (see :mod:`fathom.data.loading`); ``extras`` are plain tables read as
        strings (CSV/TSV/Parquet/JSON Lines by suffix)."""
        ev = load_events(events, events_config)
        reports = {"events": ev.report}
        cat = usr = None
        if catalog is not None:
            res = load_catalog(catalog, catalog_config)
            cat, reports["catalog"] = res.table, res.report
        if users is not None:
            res_u = load_users(users, users_config)
            usr, reports["users"] = res_u.table, res_u.report
        frames = {key: read_plain_table(path) for key, path in (extras or {}).items()}
        return cls(name or Path(events).stem, ev.table, cat, usr, frames, reports)

    def summary(self) -> dict:
        ev = self.events.frame
        out = {
            "name": self.name,
            "events": len(ev),
            "users": int(ev["user_id"].nunique()),
            "items": int(ev["item_id"].nunique()),
            "event_types": {str(k): int(v) for k, v in ev["event"].value_counts().items()},
        }
        if self.catalog is not None:
            out["catalog_items"] = len(self.catalog)
            out["events_without_catalog_item"] = int((~ev["item_id"].isin(self.catalog.frame["item_id"])).sum())
        if self.users is not None:
            out["user_profiles"] = len(self.users)
        for key, frame in self.extras.items():
            out[f"extra_{key}"] = len(frame)
        return out

    def save(self, folder: str | Path) -> Path:
        """Write ``events.parquet`` (+ ``catalog.parquet``, ``users.parquet``, ``extra_<name>.parquet``) and
        ``dataset.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.events.to_parquet(folder / "events.parquet")
        if self.catalog is not None:
            self.catalog.to_parquet(folder / "catalog.parquet")
        if self.users is not None:
            self.users.to_parquet(folder / "users.parquet")
        for key, frame in self.extras.items():
            frame.to_parquet(folder / f"extra_{key}.parquet", index=False)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "catalog": self.catalog is not None,
            "users": self.users is not None,
            "extras": sorted(self.extras),
        }
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Dataset:
        folder = Path(folder)
        meta = json.loads((folder / "dataset.json").read_text())
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"{folder}: not a Fathom data set folder of version {VERSION}")
        return cls(
            name=meta["name"],
            events=EventTable.read_parquet(folder / "events.parquet"),
            catalog=Catalog.read_parquet(folder / "catalog.parquet") if meta["catalog"] else None,
            users=UserTable.read_parquet(folder / "users.parquet") if meta["users"] else None,
            extras={key: pd.read_parquet(folder / f"extra_{key}.parquet") for key in meta["extras"]},
        )


def read_plain_table(path: str | Path) -> pd.DataFrame:
    """A table read with every column as strings (RecBole ``:type`` header suffixes removed); malformed
    records raise :class:`DataValidationError`."""
    raw, name = read_raw(path)
    if raw.problems:
        kept = raw.rows_read - len(raw.problems)
        raise DataValidationError(ValidationReport(name, raw.rows_read, kept, problems_frame(raw.problems)))
    frame = raw.frame
    frame.columns = [str(c).split(":", 1)[0] for c in frame.columns]
    return frame.astype("str")
