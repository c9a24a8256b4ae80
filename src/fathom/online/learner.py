"""The online learner as a background job: :func:`fathom.online.learning.learn_once` every ``interval_s``
seconds in a daemon thread, one process at a time.

Every worker process of the service may start a learner; a lease in the store (``lease:learner``) lets only one
of them train at any moment, and since a new version records the last event it was trained on, the others then
find too few new events and skip. :func:`run_exclusive` is the same guarded run, on demand (POST /models/train).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from fathom.models.fold_in import HistoryPolicy
from fathom.online.errors import Conflict
from fathom.online.learning import LearningConfig, LearningReport, learn_once
from fathom.online.leases import held_lease
from fathom.online.processes import lease_owner
from fathom.online.store import Store
from fathom.online.versions import remove_unfinished

LAST_RUN = "learner:last"  # store meta key: JSON of the last run's outcome (any process)

logger = logging.getLogger(__name__)


def recover(store: Store, log: Callable[[str], None] = logger.warning) -> list[tuple[str, int]]:
    """After a crash: take over the learner lease from a holder that is no longer running (logged by the
    store) and delete the model folders a killed run left unregistered. Nothing happens while a live process
    trains. Returns the removed folders (path, bytes)."""
    try:
        with held_lease(store, lease_owner("recover")):
            removed = remove_unfinished(store)
    except Conflict:
        return []
    for path, size in removed:
        log(f"removed {path} ({size / 1e6:.1f} MB), left unregistered by a training run that did not finish")
    return removed


def _record(store: Store, outcome: dict) -> None:
    store.set_meta(LAST_RUN, json.dumps({"at": time.time(), **outcome}))


def last_run(store: Store) -> dict | None:
    """The outcome of the last learning run of any process: at, status, reason, version or error."""
    raw = store.meta(LAST_RUN)
    return json.loads(raw) if raw else None


def run_exclusive(store: Store, config: LearningConfig, force: bool = False,
                  log: Callable[[str], None] = logger.info, history: HistoryPolicy | None = None) -> LearningReport:
    """:func:`learn_once` while holding the store's learner lease; Conflict when another run holds it. Its
    outcome (or failure) is recorded in the store for the status page."""
    with held_lease(store, lease_owner(str(threading.get_ident()))):
        try:
            report = learn_once(store, config, force=force, log=log, history=history)
        except Exception as exc:
            _record(store, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
            raise
    _record(store, {"status": report.status, "reason": report.reason, "version": report.version,
                    "new_events": report.new_events})
    return report


class OnlineLearner:
    """Runs :func:`run_exclusive` every ``config.interval_s`` seconds until :meth:`stop`; ``last`` keeps the
    last run's report (None before the first), ``error`` the last run's failure."""

    def __init__(self, store: Store, config: LearningConfig, log: Callable[[str], None] | None = None,
                 history: HistoryPolicy | None = None) -> None:
        if config.interval_s is None:
            raise ValueError("the online learner needs interval_s (seconds between runs)")
        self.store, self.config, self.history = store, config, history
        self.log = log or logger.info
        self.last: LearningReport | None = None
        self.error: str | None = None
        self.runs = 0
        self._last_skip = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fathom-online-learner", daemon=True)

    def start(self) -> None:
        self.log(f"online learning every {self.config.interval_s:g} s once {self.config.min_new_events} new "
                 "events have arrived")
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
        """One guarded run; a run held by another process, or a failure, is logged and returns None. A skipped
        run is logged when its reason differs from the previous one (not every interval)."""
        try:
            self.last = run_exclusive(self.store, self.config, log=self.log, history=self.history)
            self.error = None
            if self.last.status == "skipped":
                if self.last.reason != self._last_skip:
                    self.log(f"online learning skipped: {self.last.reason}")
                self._last_skip = self.last.reason
            else:
                self._last_skip = ""
            return self.last
        except Conflict as exc:
            self.log(f"online learning skipped: {exc}")
        except Exception as exc:  # noqa: BLE001 - a background job must outlive one failed run
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("online learning failed")
        finally:
            self.runs += 1
        return None
