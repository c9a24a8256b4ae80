"""Fathom's log lines in the server's output.

uvicorn configures only its own loggers, so without a handler the ``fathom`` loggers (the online learner's
progress, recovery after a crash, repaired store rows) would print nothing below WARNING. The service gives the
``fathom`` logger one stream handler, in uvicorn's format, unless the application already configured logging.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


class _Handler(logging.StreamHandler):
    """The handler added here (told apart from handlers the application added)."""


def configure_logging(level: LogLevel = "info") -> None:
    """Send ``fathom.*`` records at ``level`` and above to stderr, unless the root logger or the ``fathom``
    logger already has a handler of the application's; calling it again only changes the level."""
    logger = logging.getLogger("fathom")
    ours = [h for h in logger.handlers if isinstance(h, _Handler)]
    if not ours and (logger.handlers or logging.getLogger().handlers):
        return  # the application configured logging itself
    if not ours:
        handler = _Handler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
