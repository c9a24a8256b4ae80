"""The online learner as a background job: :func:`fathom.online.learning.learn_once` every ``interval_s``
seconds in a daemon thread, one process at a time.

Every worker process of the service may start a learner; a lease in the store (``lease:learner``) lets only one
of them train at any moment, and since a new version records the last event it was trained on, the others then
find too few new events and skip. :func:`run_exclusive` is the same guarded run, on demand (POST /models/train).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from fathom.online.errors import Conflict
from fathom.online.learning import LearningConfig, LearningReport, learn_once
from fathom.online.store import Store

LEASE = "learner"
LEASE_SECONDS = 3600.0  # longer than any training run; a crashed process's lease lapses after this

logger = logging.getLogger(__name__)


def run_exclusive(store: Store, config: LearningConfig, force: bool = False,
                  log: Callable[[str], None] = logger.info) -> LearningReport:
    """:func:`learn_once` while holding the store's learner lease; Conflict when another run holds it."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    if not store.try_lease(LEASE, owner, LEASE_SECONDS):
        raise Conflict("another process is training a model right now; try again when it has finished")
    try:
        return learn_once(store, config, force=force, log=log)
    finally:
        store.release_lease(LEASE, owner)


class OnlineLearner:
    """Runs :func:`run_exclusive` every ``config.interval_s`` seconds until :meth:`stop`; ``reports`` keeps the
    last run's report (None before the first), ``error`` the last run's failure."""

    def __init__(self, store: Store, config: LearningConfig, log: Callable[[str], None] | None = None) -> None:
        if config.interval_s is None:
            raise ValueError("the online learner needs interval_s (seconds between runs)")
        self.store, self.config = store, config
        self.log = log or logger.info
        self.last: LearningReport | None = None
        self.error: str | None = None
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fathom-online-learner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 60.0) -> None:
        """Ask the loop to end and wait for it (a run in progress finishes first)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        assert self.config.interval_s is not None
        while not self._stop.wait(self.config.interval_s):
            self.run_once()

    def run_once(self) -> LearningReport | None:
        """One guarded run; a run held by another process, or a failure, is logged and returns None."""
        try:
            self.last = run_exclusive(self.store, self.config, log=self.log)
            self.error = None
            return self.last
        except Conflict as exc:
            self.log(f"online learning skipped: {exc}")
        except Exception as exc:  # noqa: BLE001 - a background job must outlive one failed run
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("online learning failed")
        finally:
            self.runs += 1
        return None
