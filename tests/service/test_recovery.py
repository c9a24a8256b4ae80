"""A process killed (kill -9) while it trains and saves a model version: the next start takes over its lease,
removes its unfinished folder, says so in the log, and learning works again at once."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request

from fathom.online.learner import recover, run_exclusive
from fathom.online.learning import LearningConfig
from fathom.online.leases import LEASE, held_lease
from fathom.online.processes import lease_owner, owner_alive
from fathom.online.store import Store
from tests.service.server import serve
from tests.service.synthetic import prepare_folder

# trains a candidate under the learner lease and is killed while saving it (after the weights are written)
KILLED_WHILE_SAVING = textwrap.dedent("""
    import sys, time
    from fathom.online import versions
    from fathom.online.learner import run_exclusive
    from fathom.online.learning import LearningConfig
    from fathom.online.records import EventRecord
    from fathom.online.store import Store

    save = versions.ModelBundle.save
    def save_then_hang(self, folder):
        out = save(self, folder)
        print("saved", folder, flush=True)
        time.sleep(600)
        return out
    versions.ModelBundle.save = save_then_hang
    store = Store(sys.argv[1])
    store.add_events([EventRecord(user_id="u0", item_id=f"c{n}", timestamp=9_000 + n) for n in range(3)])
    run_exclusive(store, LearningConfig(min_validation_users=1), force=True)
""")


def _post(url: str) -> tuple[int, dict]:
    body = json.dumps({"min_validation_users": 1}).encode()  # one user has new events here
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_learner_killed_while_saving_is_recovered_on_the_next_start(tmp_path):
    folder = prepare_folder(tmp_path / "data")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_SAVING, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert line.startswith("saved"), line + proc.stdout.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    store = Store(folder)
    holder, _ = store.lease(LEASE)
    assert holder.split(":")[1] == str(proc.pid) and not owner_alive(holder)
    leftover = [p.name for p in (folder / "artefacts/models").iterdir() if p.name.startswith(".partial-")]
    assert len(leftover) == 1 and len(store.versions()) == 1
    store.close()
    with serve(folder, "--log-level", "info") as server:
        status = json.loads(urllib.request.urlopen(f"{server.base}/status", timeout=10).read())
        assert status["learner"]["training"] is False
        code, report = _post(f"{server.base}/models/train")  # not 409: the dead holder's lease was taken over
        assert code == 200 and report["version"] == 2, report
        status = json.loads(urllib.request.urlopen(f"{server.base}/status", timeout=10).read())
        assert status["learner"]["last_run"]["version"] == 2
    assert "is no longer running (stopped during its work); taken over" in server.output
    assert f"removed models/{leftover[0]}" in server.output and "did not finish" in server.output
    assert "online learning: version 2" in server.output  # the learner's progress reaches the server log
    assert not (folder / "artefacts/models" / leftover[0]).exists()


def test_a_live_holder_keeps_the_lease_and_a_run_renews_its_own(tmp_path, caplog):
    folder = prepare_folder(tmp_path / "data")
    store = Store(folder)
    try:
        assert owner_alive(lease_owner()) and not owner_alive(f"{lease_owner().split(':')[0]}:999999999:1")
        with held_lease(store, "another-host:1:1", seconds=0.5):
            first = store.lease(LEASE)[1]
            import time

            time.sleep(0.35)  # renewed every seconds / 5
            assert store.lease(LEASE)[1] > first
            assert recover(store) == []  # a live holder (another host): nothing is touched
        assert store.lease(LEASE) is None
        (folder / "artefacts/models/ease-1").mkdir()
        (folder / "artefacts/models/ease-1/weights.npy").write_bytes(b"x" * 1000)
        with caplog.at_level(logging.INFO, logger="fathom"):
            assert recover(store) == [("models/ease-1", 1000)]
        assert "removed models/ease-1 (0.0 MB)" in caplog.text
        assert run_exclusive(store, LearningConfig()).new_events == 0  # the lease is free again
    finally:
        store.close()
