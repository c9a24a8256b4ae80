"""kill -9 of ``fathom serve`` while clients send batches of events and while it trains: every acknowledged batch is
stored exactly once after the restart (counted per batch in the store: SQLite, and PostgreSQL with a second host
serving on), the SQLite store passes its integrity check, and a training run killed midway leaves a lease that the
restarted service takes over at once.

The long form, with more kills, MovieLens-100K and a client without idempotency keys: benchmarks/durability.py.
"""

from __future__ import annotations

from fathom.online.records import EventRecord
from fathom.online.store import Store
from tests.service.durability_client import (
    Ingester,
    KillableServer,
    batch_counts,
    catalogue,
    compare,
    integrity_check,
    kill_and_restart,
    kill_during_training,
    learner,
    next_marker,
    request,
)
from tests.service.synthetic import prepare_folder

BATCH = 50


def status_of(port: int) -> dict:
    status, _, payload = request(port, "GET", "/status", timeout=30)
    assert status == 200, payload
    return payload


def ingest_through_two_kills(server: KillableServer) -> tuple[Ingester, list]:
    """Three client threads send batches to ``server`` while it is killed twice (a request in flight; a batch
    committed and not yet answered) and restarted; they go on after the last restart, then stop."""
    clients = Ingester(server.port, catalogue(server.source), next_marker(server.source), batch_size=BATCH,
                       threads=3).start()
    try:
        kills = []
        for mode in ("in flight", "after commit"):
            clients.wait_acknowledged(15)
            kills.append(kill_and_restart(server, clients, mode))
        clients.wait_acknowledged(15)
        clients.stop()
        assert server.stop() == 0
    finally:
        clients.abort()
        server.kill()
        print(server.output()[-3000:])
    return clients, kills


def assert_every_acknowledged_batch_stored_once(clients: Ingester, kills: list, source) -> None:
    stats = clients.stats
    assert stats.http_errors == []
    assert all(b.acknowledged for b in clients.sent.values())
    assert all(k.integrity == "ok" for k in kills), [k.integrity for k in kills]  # the store as each kill left it
    assert integrity_check(source) == "ok"
    in_flight, after_commit = kills
    # the first kill cut requests the server was reading or answering: they were sent again
    assert any(clients.sent[n].attempts > 1 for n in in_flight.flying) and stats.dropped >= 1, in_flight
    # the second kill landed after a batch's commit and before its answer: its retry was answered as a replay
    assert after_commit.committed, after_commit
    assert all(clients.sent[n].replayed and clients.sent[n].attempts > 1 for n in after_commit.committed)

    outcome = compare(clients, batch_counts(source, clients.marker))
    assert outcome.batches == len(clients.sent) >= 45 and outcome.events_acknowledged == BATCH * outcome.batches
    assert outcome.batches_lost == [] and outcome.batches_duplicated == [], outcome
    assert outcome.unacknowledged_stored == []
    assert outcome.events_stored == outcome.events_acknowledged and outcome.lost == outcome.duplicated == 0


def test_kill_9_while_batches_are_in_flight_stores_every_acknowledged_batch_exactly_once(tmp_path):
    folder = prepare_folder(tmp_path / "data")
    server = KillableServer(folder, tmp_path / "server.log", "--log-level", "warning")
    server.start()
    clients, kills = ingest_through_two_kills(server)
    assert_every_acknowledged_batch_stored_once(clients, kills, folder)


def test_kill_9_of_one_host_on_postgresql_loses_no_acknowledged_batch(tmp_path, postgres_url):
    """Two hosts on one PostgreSQL store: host A is killed twice during ingestion and restarted while host B
    serves on; every acknowledged batch is in the database exactly once, and B counts them all."""
    shared = tmp_path / "shared-artefacts"
    folder = prepare_folder(tmp_path / "host-a", url=postgres_url, artefacts=shared)
    options = ("--log-level", "warning", "--store", postgres_url, "--artefacts", str(shared))
    host_a = KillableServer(folder, tmp_path / "a.log", *options)
    host_b = KillableServer(tmp_path / "host-b", tmp_path / "b.log", *options)
    host_a.start()
    host_b.start()
    try:
        clients, kills = ingest_through_two_kills(host_a)
        counted = status_of(host_b.port)["counts"]["events"]
    finally:
        host_b.kill()
    assert_every_acknowledged_batch_stored_once(clients, kills, postgres_url)
    assert counted == 20 * 6 + BATCH * len(clients.sent)  # the synthetic store's events and every batch


def test_kill_9_while_training_the_restarted_service_takes_the_lease_over_and_trains(tmp_path):
    folder = prepare_folder(tmp_path / "data")
    store = Store(folder)
    try:  # new events since version 1: u0..u19 each meet two more items of their group
        groups = {u: "s" if u < 10 else "c" for u in range(20)}
        store.add_events([EventRecord(user_id=f"u{u}", item_id=f"{g}{(u + 6 + j) % 10}", timestamp=5_000 + j)
                          for u, g in groups.items() for j in range(2)])
    finally:
        store.close()
    server = KillableServer(folder, tmp_path / "server.log", "--log-level", "info")
    server.start()
    try:
        # BPR for (nearly) ever: the kill lands while it fits; then the active model (EASE) trains in seconds
        slow = {"model": "bpr", "settings": {"epochs": 1_000_000, "progress": False}, "force": True,
                "min_validation_users": 1}
        outcome = kill_during_training(server, slow, after={"force": True, "min_validation_users": 1})
        state = learner(server.port)
        assert server.stop() == 0
    finally:
        server.kill()
        print(server.output()[-3000:])

    assert outcome.holder.split(":")[1] == str(outcome.killed_pid)  # the server held the lease when killed
    assert outcome.takeover_logged, server.output(-1)
    assert outcome.training_after is False  # the restart freed the dead holder's lease
    assert outcome.train_status == 200 and outcome.conflicts == 0, outcome.train_report
    report = outcome.train_report
    assert report["status"] in ("activated", "rejected") and report["version"] == 2, report
    assert state["training"] is False and state["last_run"]["version"] == 2
    assert integrity_check(folder) == "ok"
    assert "Traceback" not in server.output()
