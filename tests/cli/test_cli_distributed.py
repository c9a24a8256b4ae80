"""``fathom train MODEL --nproc 2``: the command relaunches itself under torchrun, two processes train one model
data-parallel, one saves it; models outside the shared training loop are refused with the list of those inside."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from fathom.cli.main import main


def test_train_with_two_processes_saves_one_model_whose_sharded_validation_is_the_full_one(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,event"]
    for u in range(60):
        block = range(0, 20) if u < 30 else range(20, 40)
        lines += [f"u{u},m{i},click" for i in rng.choice(list(block), size=12, replace=False)]
    (tmp_path / "events.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "fathom.cli.main", "train", "bpr", "--data",
                           str(tmp_path / "events.csv"), "--nproc", "2", "--set", "epochs=3", "--set", "factors=8",
                           "--set", "batch_size=64", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "training in 2 processes: torchrun" in proc.stdout
    assert proc.stdout.count("saved to ") == 1  # one process reports and saves
    meta = json.loads((out / "models" / "bpr" / "model.json").read_text())["meta"]
    assert meta["distributed"] == {"processes": 2, "backend": "gloo"}
    assert len(meta["history"]) == 3
    best = meta["history"][meta["best_epoch"] - 1]["ndcg@10"]  # sharded over the two processes
    full = float(re.search(r"ndcg@10\s+([0-9.]+)", proc.stdout)[1])  # the saved model, ranked by one process
    assert full == pytest.approx(best, abs=1e-4)


def test_a_model_outside_the_training_loop_is_refused(capsys):
    with pytest.raises(SystemExit, match="ease is not trained by the shared training loop; the models that are: "
                                         "bpr, neumf"):
        main(["train", "ease", "--nproc", "2"])
