"""Typed configuration objects.

Every config is a pydantic model with ``extra="forbid"``: a misspelt key is an error, never a silent default.
Configs round-trip through JSON unchanged and can be read from TOML files.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class Config(BaseModel):
    """Base class of all Fathom configs."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(data)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.model_validate_json(text)

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Read a config from a ``.json`` or ``.toml`` file."""
        path = Path(path)
        raw = path.read_bytes()
        if path.suffix == ".toml":
            return cls.model_validate(tomllib.loads(raw.decode()))
        return cls.model_validate_json(raw)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied and validated."""
        return type(self).model_validate({**self.to_dict(), **changes})
