"""Typed service settings: defaults, then ``FATHOM_*`` environment variables, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from fathom.config import Config
from fathom.models.fold_in import HistoryPolicy
from fathom.online.engine import EngineConfig
from fathom.online.learning import LearningConfig
from fathom.service.logs import LogLevel
from fathom.text.encoders import EncoderName

# environment variable -> setting ("a.b": field b of the nested settings a)
ENV = {
    "FATHOM_DATA_DIR": "data_dir",
    "FATHOM_STORE": "store",
    "FATHOM_ARTEFACTS": "artefacts_dir",
    "FATHOM_API_KEY": "api_key",
    "FATHOM_API_KEY_FILE": "api_key_file",
    "FATHOM_ALLOWED_HOSTS": "allowed_hosts",
    "FATHOM_ALLOWED_ORIGINS": "allowed_origins",
    "FATHOM_MAX_BODY_BYTES": "max_body_bytes",
    "FATHOM_MAX_BATCH": "max_batch",
    "FATHOM_MAX_ATTRIBUTE_NAMES": "max_attribute_names",
    "FATHOM_DURABLE_COMMITS": "durable_commits",
    "FATHOM_SEARCH_ENCODER": "search_encoder",
    "FATHOM_KG": "kg",
    "FATHOM_FAQ": "faq",
    "FATHOM_ASSISTANT_WARM_UP": "assistant_warm_up",
    "FATHOM_TORCH_THREADS": "torch_threads",
    "FATHOM_LOG_LEVEL": "log_level",
    "FATHOM_RECENCY_BOOST": "history.recency_boost",
    "FATHOM_RECENCY_HALF_LIFE": "history.recency_half_life",
    "FATHOM_LEARN_INTERVAL": "learning.interval_s",
    "FATHOM_LEARN_MIN_EVENTS": "learning.min_new_events",
    "FATHOM_LEARN_METRIC": "learning.metric",
    "FATHOM_LEARN_TOLERANCE": "learning.tolerance",
    "FATHOM_LEARN_MIN_VALIDATION_USERS": "learning.min_validation_users",
}


class ServiceSettings(Config):
    data_dir: Path = Path("fathom-data")
    """Folder of the store (SQLite file and artefacts); prepared by ``fathom serve`` when empty."""
    store: str | None = Field(None, pattern=r"^postgres(ql)?://")
    """None: the embedded SQLite store in ``data_dir``; a ``postgresql://user:password@host/db`` URL: that
    database (several hosts may serve it), ``data_dir`` then holding the artefacts (model versions, index)."""
    artefacts_dir: Path | None = None
    """Where model versions are saved and loaded (default ``data_dir/artefacts``): with several hosts on one
    PostgreSQL store, a folder they all mount (the search index stays in each host's ``data_dir``)."""
    api_key: str | None = Field(None, min_length=1)
    """When set, every write (events, items, users, models) and every read of one user's data (their events,
    recommendations by user id, the list of active users) needs this value in the ``X-API-Key`` header."""
    api_key_file: Path | None = None
    """A file whose first line is the API key, read at start (instead of ``api_key``): the key then shows neither
    in the process list nor in the workers' environment."""
    allowed_hosts: list[str] = ["*"]
    """Host names this service answers to (``Host`` header; ``*.example.com`` matches subdomains, ``*`` any);
    others get 400. ``fathom serve`` on a loopback address defaults to the loopback names (DNS rebinding)."""
    allowed_origins: list[str] = []
    """Web origins (``https://shop.example``) besides the service's own that may send writes from a browser;
    writes from any other origin are refused with 403 (cross-site request forgery)."""
    max_body_bytes: int = Field(1_000_000, gt=0)
    """Requests with a larger body are refused with 413."""
    max_batch: int = Field(10_000, gt=0)
    """Most events in one batch."""
    max_k: int = Field(1000, gt=0)
    """Largest number of results one request may ask for."""
    max_attribute_names: int = Field(256, ge=1)
    """Most distinct attribute names (categorical and numeric together) in the catalogue; an item upsert that
    would add more is refused with 422."""
    durable_commits: bool = False
    """Every write reaches the disk before it is acknowledged (an acknowledged event survives a power cut or an
    OS crash too, at some ingestion speed); off, it survives the service being killed."""
    search_encoder: EncoderName | None = None
    """Dense encoder of the catalogue index (``minilm``, ``e5``); None: BM25 only."""
    kg: Path | None = None
    """A knowledge-graph folder (``fathom kg build``) whose paths explain recommendations; None: the data
    folder's ``kg/`` when it holds one, else a graph built from the catalogue's attributes."""
    faq: Path | None = None
    """The shop's FAQ and policies for the assistant (``POST /chat``): JSON Lines or Markdown
    (:mod:`fathom.assistant.faq`); None: the assistant answers FAQ questions with "I don't know"."""
    assistant_warm_up: bool = True
    """Load the assistant's English encoder and intent head in the background at start, so that the first
    ``POST /chat`` does not wait for them (a few seconds of CPU per worker process)."""
    torch_threads: int | None = Field(1, ge=1)
    """Threads each worker process gives one model, encoder or BLAS call (torch and numpy's BLAS). Requests
    already run side by side on the server's thread pool, so one thread per call keeps the cores busy without
    oversubscribing them (on two busy cores, two threads per call made each call wait for both cores, and a small
    matrix-vector product took several times longer). None: the libraries' own defaults."""
    log_level: LogLevel = "info"
    """Level of Fathom's own log lines (online learning, recovery after a crash) in the server's output."""
    history: HistoryPolicy = HistoryPolicy()
    """How a user's history is read when they are served (and validated): recent items weigh more."""
    learning: LearningConfig = LearningConfig()
    """The online learner: with ``learning.interval_s`` set, each worker runs it in the background (one at a
    time, by a lease in the store); POST /models/train runs it on demand with these settings."""

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:  # unset (an empty variable): the default
            return list(cls.model_fields[info.field_name].default)
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("api_key_file: give the API key or a file holding it, not both")
        if self.api_key_file is not None:
            self.write_key  # noqa: B018 - read now: a missing or empty file fails at start, not at the first write
        return self

    @cached_property
    def write_key(self) -> str | None:
        """The API key (from ``api_key`` or ``api_key_file``); None: no key needed."""
        if self.api_key_file is None:
            return self.api_key
        try:
            lines = self.api_key_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"api_key_file: cannot read {self.api_key_file} ({exc.strerror})") from None
        if not lines or not lines[0].strip():
            raise ValueError(f"api_key_file: {self.api_key_file} is empty (its first line is the key)")
        return lines[0].strip()

    def engine_config(self) -> EngineConfig:
        return EngineConfig(encoder=self.search_encoder, max_attribute_names=self.max_attribute_names,
                            durable_commits=self.durable_commits, history=self.history, kg=self.kg,
                            store_url=self.store, artefacts_dir=self.artefacts_dir)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Settings from ``FATHOM_*`` variables (see :data:`ENV`; an empty value means None) and ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var, key in ENV.items():
            if var in environ:
                group, _, name = key.rpartition(".")
                (values.setdefault(group, {}) if group else values)[name] = environ[var] or None
        for group in [k for k, v in values.items() if isinstance(v, dict)]:  # unset nested values: defaults
            values[group] = {k: v for k, v in values[group].items() if v is not None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The ``FATHOM_*`` variables that :meth:`from_env` reads back into these settings."""
        data, out = self.to_dict(), {}
        for var, key in ENV.items():
            value: Any = data
            for part in key.split("."):
                value = value[part]
            out[var] = "" if value is None else ",".join(value) if isinstance(value, list) else str(value)
        return out
