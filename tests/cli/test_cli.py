"""The command line end to end on small files: every sub-command, its --help, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fathom.cli.main import COMMANDS, main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Two taste communities in an events CSV, a catalogue with titles, a users file."""
    root = tmp_path_factory.mktemp("cli-data")
    rng = np.random.default_rng(0)
    lines = ["user,item,rating,ts"]
    for u in range(60):
        block = range(0, 20) if u < 30 else range(20, 40)
        for i in rng.choice(list(block), size=12, replace=False):
            lines.append(f"u{u},m{i},{rng.integers(3, 6)},{1_600_000_000 + int(rng.integers(0, 10**6))}")
    (root / "events.csv").write_text("\n".join(lines) + "\n")
    cat = ["item_id\ttitle\tgenres"] + [f"m{i}\tMovie {i}\t{'Comedy' if i < 20 else 'Drama'}" for i in range(40)]
    (root / "items.tsv").write_text("\n".join(cat) + "\n")
    return {"events": root / "events.csv", "catalog": root / "items.tsv", "root": root}


MAP = ["--map", "user=user_id", "--map", "item=item_id", "--map", "rating=value", "--map", "ts=timestamp",
       "--default", "event=rating"]


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: fathom " + command in capsys.readouterr().out


def test_train_evaluate_recommend_similar(files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mapping = files["root"] / "events.jsonl"  # the same events through a column mapping, as JSON Lines
    rows = [ln.split(",") for ln in files["events"].read_text().splitlines()[1:]]
    mapping.write_text("\n".join(json.dumps({"user": u, "item": i, "rating": float(r), "ts": int(t)})
                                 for u, i, r, t in rows))
    assert run_cli("train", "itemknn", "--data", mapping, "--catalog", files["catalog"], *MAP,
                   "--set", "neighbours=10", "--out", "run1") == 0
    out = capsys.readouterr().out
    assert "ndcg@10" in out and "saved to" in out
    assert json.loads((tmp_path / "run1/models/itemknn/model.json").read_text())["config"]["neighbours"] == 10

    assert run_cli("evaluate", "--run", "run1", "-k", "5", "10") == 0
    out = capsys.readouterr().out
    assert "ndcg@5" in out and "recall@10" in out

    assert run_cli("recommend", "--run", "run1", "--user", "u3", "-k", "5", "--json") == 0
    recs = json.loads(capsys.readouterr().out)
    ids = [r["item_id"] for r in recs["items"]]
    assert len(ids) == 5 and all(int(i[1:]) < 20 for i in ids), "user u3 belongs to the first community"
    assert recs["items"][0]["title"].startswith("Movie ")

    assert run_cli("similar", "--run", "run1", "--item", "m25", "-k", "3") == 0
    out = capsys.readouterr().out
    assert "Movie 25" in out and out.count("score") == 3


def test_tune_writes_a_config_that_train_replays(files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"reg": {"type": "float", "low": 1e-6, "high": 1e3, "log": True}}))
    assert run_cli("tune", "ease", "--data", files["events"], *MAP, "--space", space, "--trials", "3",
                   "--budget", "60", "--out", "best.json") == 0
    out = capsys.readouterr().out
    assert "best validation ndcg@10" in out and "after 3 trials" in out
    best = json.loads((tmp_path / "best.json").read_text())
    trials = json.loads((tmp_path / "best.trials.json").read_text())
    assert len(trials["trials"]) == 3 and best["reg"] == trials["best_settings"]["reg"]
    assert f"{best['reg']:.4g}" in out  # small values are shown in full, not rounded to 0.0000
    assert run_cli("train", "ease", "--data", files["events"], *MAP, "--config", "best.json", "--out", "run") == 0
    assert json.loads((tmp_path / "run/models/ease/model.json").read_text())["config"]["reg"] == best["reg"]


def test_tune_protocol_refuses_data_options(files):
    with pytest.raises(SystemExit, match="drop --data, --preset"):
        run_cli("tune", "deepfm", "--protocol", "ml1m-context", "--data", files["events"], "--preset", "default")
    with pytest.raises(SystemExit, match="tunes fm or deepfm, not ease"):
        run_cli("tune", "ease", "--protocol", "ml1m-context")
    with pytest.raises(SystemExit, match="tunes sasrec or gru4rec, not deepfm"):
        run_cli("tune", "deepfm", "--protocol", "ml1m-seq")
    with pytest.raises(SystemExit, match="ranking metric such as ndcg@10, not auc"):
        run_cli("tune", "sasrec", "--protocol", "ml1m-seq", "--metric", "auc")


def test_inspect_builtin_free_file(files, capsys):
    assert run_cli("inspect", files["events"], *MAP) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == len(files["events"].read_text().splitlines()) - 1
    assert summary["users"] == 60


def test_validate_reports_each_bad_row(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,event,value,timestamp\n"
                   "u1,i1,click,1,2024-01-01T00:00:00\n"
                   ",i2,click,1,2024-01-01T00:00:00\n"
                   "u3,i3,teleport,1,2024-01-01T00:00:00\n"
                   "u4,i4,click,1,not-a-date\n")
    report = tmp_path / "report.csv"
    assert run_cli("validate", bad, "--report", report) == 1
    out = capsys.readouterr().out
    assert "4 rows read, 1 valid, 3 with problems" in out
    assert "row 2" in out and "user_id" in out
    assert "teleport" in out and "not-a-date" in out
    assert report.read_text().count("\n") >= 4


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "ease", "--data", "no-such-file.csv"], "neither a built-in data set"),
        (["train", "ease", "--set", "no_such_setting=1", "--data", "EVENTS", *MAP], "no_such_setting"),
        (["train", "ease", "--set", "reg=-5", "--data", "EVENTS", *MAP], "reg"),
        (["train", "ease", "--data", "EVENTS"], "missing required column 'user_id'"),
        (["recommend", "--run", "nowhere", "--user", "1"], "no trained model"),
        (["validate", "missing.csv"], "missing.csv"),
        (["benchmark", "no-such-benchmark"], "invalid choice"),
        (["serve", "--learn-every", "0"], "must be above 0"),
        (["serve", "--learn-every", "often"], "not a number"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(argv, message, files, tmp_path):
    argv = [str(files["events"]) if a == "EVENTS" else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "fathom.cli.main", *argv], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert message in lines[-1]  # the error is one line, the last one
    # anything before it is argparse's usage (its first line starts with "usage:", wrapped lines are indented)
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), lines


def test_unknown_user_is_a_clear_error(files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", "pop", "--data", files["events"], *MAP, "--out", "run2") == 0
    capsys.readouterr()
    assert run_cli("recommend", "--run", "run2", "--user", "nobody") == 2
    assert "unknown user 'nobody'" in capsys.readouterr().err


def test_serve_passes_its_settings_to_the_workers(tmp_path, monkeypatch, capsys):
    """``fathom serve`` prepares the folder, then hands uvicorn its settings through FATHOM_* variables."""
    import os

    import uvicorn

    from tests.service.synthetic import prepare_folder

    folder = prepare_folder(tmp_path / "data")
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    # serve writes its settings into os.environ: give it a copy, so nothing leaks into later tests
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FATHOM_")}
    monkeypatch.setattr(os, "environ", {**environ, "FATHOM_LEARN_MIN_EVENTS": "7"})
    assert main(["serve", "--data-dir", str(folder), "--learn-every", "2.5", "--port", "8123"]) == 0
    assert started["app"] == "fathom.service.app:app_from_env" and started["port"] == 8123
    from fathom.service import ServiceSettings

    settings = ServiceSettings.from_env()
    assert settings.data_dir == folder and settings.learning.interval_s == 2.5
    assert settings.learning.min_new_events == 7  # the environment's other learning settings are kept
    assert "web page http://127.0.0.1:8123/" in capsys.readouterr().out


def test_demo_serve_starts_the_service_after_the_main_job(monkeypatch):
    import fathom.cli.demo as demo
    from fathom.cli import serve

    calls = []
    monkeypatch.setattr(demo, "run_demo", lambda out, retrain: calls.append(("demo", out, retrain)))
    monkeypatch.setattr(serve, "run", lambda args: calls.append(("serve", vars(args))) or 0)
    assert main(["demo", "--out", "runs/x"]) == 0 and calls == [("demo", "runs/x", False)]
    assert main(["demo", "--out", "runs/x", "--serve", "--port", "8124"]) == 0
    served = calls[-1][1]
    assert calls[-2] == ("demo", "runs/x", False) and served["port"] == 8124 and served["encoder"] == "minilm-int8"
    assert served["learn_every"] == 60.0 and served["data_dir"] == str(Path("runs/x/service"))  # in the run folder
    assert main(["demo", "--out", "runs/x", "--serve", "--retrain", "--data-dir", "elsewhere"]) == 0
    assert calls[-2] == ("demo", "runs/x", True) and calls[-1][1]["data_dir"] == "elsewhere"


def test_benchmark_dispatches_every_protocol_with_its_options(monkeypatch, tmp_path):
    import fathom.benchmarks.context as context
    import fathom.benchmarks.protocols as protocols
    import fathom.benchmarks.sequential as sequential
    import fathom.benchmarks.speed as speed

    calls = []
    monkeypatch.setattr(sequential, "main", lambda argv: calls.append(("seq", argv)))
    monkeypatch.setattr(speed, "main", lambda argv: calls.append(("speed", argv)))
    monkeypatch.setattr(context, "main", lambda argv: calls.append(("context", argv)))
    monkeypatch.setattr(protocols, "run_protocol", lambda name, **kw: calls.append((name, kw)))
    out = str(tmp_path)
    assert main(["benchmark", "ml1m-seq", "--out", out, "--quick", "--only", "SASRec"]) == 0
    assert main(["benchmark", "ml1m-context", "--out", out, "--only", "context", "imbalance"]) == 0
    assert main(["benchmark", "ml1m-general", "--out", out, "--no-spread"]) == 0
    assert main(["benchmark", "ml1m-speed", "--out", out, "--only", "BPR"]) == 0
    (_, seq), (_, ctx), (name, general), (_, timed) = calls
    assert timed == ["--out", str(tmp_path / "ml1m-speed"), "--only", "BPR"]
    assert seq[:2] == ["--out", str(tmp_path / "ml1m-seq")] and "--quick" in seq and seq[-2:] == ["--only", "SASRec"]
    assert seq[seq.index("--timestamps") + 1] == "float32"  # RecBole's own split unless asked otherwise
    assert main(["benchmark", "ml1m-seq", "--out", out, "--timestamps", "exact"]) == 0
    exact = calls.pop()[1]
    assert exact[:2] == ["--out", str(tmp_path / "ml1m-seq-exact-time")] and "exact" in exact
    assert ctx[-4:] == ["--only", "context", "--only", "imbalance"] and "--quick" not in ctx
    assert name == "ml1m-general" and general["out_dir"] == tmp_path / "ml1m-general" and general["spread"] is False


def test_tune_show_space_prints_a_space_file_that_tune_reads_back(tmp_path, capsys):
    from fathom.evaluate.tuning import default_space, load_space

    assert run_cli("tune", "sasrec", "--show-space") == 0
    path = tmp_path / "space.json"
    path.write_text(capsys.readouterr().out)
    assert load_space(path) == default_space("sasrec")
    assert {"lr", "dropout", "n_blocks", "label_smoothing"} <= set(json.loads(path.read_text()))
    with pytest.raises(SystemExit, match="no default search space for 'pop'"):
        run_cli("tune", "pop", "--show-space")


def test_serve_keeps_the_api_key_out_of_the_workers_environment(tmp_path, monkeypatch, capsys):
    """A key given by flag or variable reaches the workers through a private file, never their environment; the
    flag warns that it shows in the process list; on loopback only the loopback host names are answered."""
    import os
    import stat

    import uvicorn

    from fathom.service import ServiceSettings
    from tests.service.synthetic import prepare_folder

    folder = prepare_folder(tmp_path / "data")
    seen = {}

    def fake_run(app, **kw):
        path = os.environ["FATHOM_API_KEY_FILE"]
        seen.update(env=dict(os.environ), mode=stat.S_IMODE(os.stat(path).st_mode), path=path,
                    settings=ServiceSettings.from_env())

    monkeypatch.setattr(uvicorn, "run", fake_run)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FATHOM_")}
    for argv, env in (([], {"FATHOM_API_KEY": "s3cret"}), (["--api-key", "s3cret"], {})):
        monkeypatch.setattr(os, "environ", {**environ, **env})
        assert main(["serve", "--data-dir", str(folder), *argv]) == 0
        assert "s3cret" not in "".join(seen["env"].values()) and seen["mode"] == 0o600
        assert seen["settings"].write_key == "s3cret" and not os.path.exists(seen["path"])  # removed at exit
        assert seen["settings"].allowed_hosts == ["127.0.0.1", "localhost", "::1"]
    assert "--api-key shows in the process list" in capsys.readouterr().err
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    monkeypatch.setattr(os, "environ", dict(environ))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(settings=ServiceSettings.from_env()))
    assert main(["serve", "--data-dir", str(folder), "--api-key-file", str(key_file), "--host", "0.0.0.0",
                 "--allowed-origin", "https://shop.example"]) == 0
    assert seen["settings"].write_key == "from-file" and seen["settings"].api_key_file == key_file
    assert seen["settings"].allowed_hosts == ["*"] and seen["settings"].allowed_origins == ["https://shop.example"]
    assert main(["serve", "--data-dir", str(folder), "--api-key-file", str(tmp_path / "none")]) == 2
    assert "api_key_file: cannot read" in capsys.readouterr().err
