"""Errors the online layer raises; the web service maps them to HTTP status codes (404, 409)."""

from __future__ import annotations


class NotFound(LookupError):
    """An unknown user, item or model version; the message names it."""

    def __str__(self) -> str:  # KeyError-style quoting is not wanted in messages shown to clients
        return str(self.args[0]) if self.args else "not found"


class Conflict(RuntimeError):
    """The request cannot be carried out in the current state (e.g. nothing to roll back to)."""


class NoActiveModel(Conflict):
    """No model version is active yet: recommendations cannot be answered."""


class LimitExceeded(ValueError):
    """A write would take the store past one of its limits (e.g. distinct attribute names); the message names
    the field, the limit and the setting that raises it."""
