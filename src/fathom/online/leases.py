"""The learner lease: one process at a time trains and saves model versions.

Every writer of a model version folder (the online learner, :func:`fathom.online.versions.train_version`) holds
the store's ``lease:learner`` while it trains and saves, so whoever holds it knows that a folder no version is
registered with was left by a run that did not finish (:func:`fathom.online.versions.remove_unfinished`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fathom.online.errors import Conflict
from fathom.online.store import Store

LEASE = "learner"
LEASE_SECONDS = 300.0
"""How long the learner lease lasts without renewal; a run renews it every ``LEASE_SECONDS / 5`` seconds, so it
outlives no crashed holder by more than this (a holder on this host that died, or on PostgreSQL a holder on any
host whose connection dropped, is replaced at once)."""



@contextmanager
def held_lease(store: Store, owner: str, seconds: float = LEASE_SECONDS) -> Iterator[None]:
    """Hold the learner lease for the block, renewing it every ``seconds / 5`` seconds from a background thread
    (Conflict when another live process holds it).

    On PostgreSQL the holder also keeps a database lock (:meth:`Store.session_lock`) for the block: hosts that
    cannot see each other's processes still train one at a time, and when the holder dies the server drops its
    lock with its connection, so the next host takes the lease over at once instead of after its expiry."""
    with store.session_lock(LEASE) as locked:
        if locked is False or not store.try_lease(LEASE, owner, seconds, holder_gone=bool(locked)):
            holder = store.lease(LEASE)
            who = f" (lease held by {holder[0]})" if holder else ""
            raise Conflict(f"another process is training a model right now{who}; try again when it has finished")
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(seconds / 5):
                store.try_lease(LEASE, owner, seconds)

        thread = threading.Thread(target=renew, name="fathom-lease-renewal", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            store.release_lease(LEASE, owner)
