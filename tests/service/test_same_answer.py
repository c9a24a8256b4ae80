"""One deployment, one read path: a run folder's model served by ``fathom serve --from-run`` answers each user
exactly as ``fathom recommend --run`` does (same items, order, scores and reasons)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fathom.cli.main import main
from fathom.data.kg import KnowledgeGraph
from fathom.data.prepare import PrepareConfig, prepare
from fathom.models.ease import EASE
from fathom.online.bootstrap import bootstrap_from_run
from fathom.online.versions import ModelBundle
from fathom.runs import RunFolder
from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import dataset


@pytest.fixture(scope="module")
def run_and_service(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    run = RunFolder(root / "run")
    prepared = prepare(dataset(), PrepareConfig())
    run.save_data(prepared)
    run.save_model("ease", EASE(reg=1.0).fit(prepared.train), {"valid": {"ndcg@10": 0.5}})
    frame = dataset().catalog.frame.assign(directors=[["Ann Vega"] if n % 3 else ["Bo Lind"] for n in range(20)])
    KnowledgeGraph.from_catalog(frame, ["directors"]).save(run.path / "kg")  # the run's graph, served with it
    assert bootstrap_from_run(root / "data", root / "run", log=lambda _: None).version == 1
    with TestClient(create_app(ServiceSettings(data_dir=root / "data"))) as client:
        yield run, client


def test_the_run_folder_is_the_deployment_format(run_and_service):
    run, client = run_and_service
    bundle = ModelBundle.load(run.models_dir / "ease")  # model + vocabularies, as the service loads a version
    assert list(bundle.users.ids) == list(run.data().user_vocab.ids)
    version = client.get("/models").json()["versions"][0]
    assert version["model"] == "ease" and version["active"] and version["metrics"] == {"valid": {"ndcg@10": 0.5}}


@pytest.mark.parametrize("user", ["u0", "u7", "u13", "u19"])
def test_cli_and_service_give_the_same_answer(run_and_service, capsys, user):
    run, client = run_and_service
    assert main(["recommend", "--run", str(run.path), "--user", user, "-k", "6", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["items"]
    served = client.get(f"/recommend/{user}?k=6").json()["items"]
    assert [r["item_id"] for r in cli] == [r["item_id"] for r in served]
    assert [r["score"] for r in cli] == pytest.approx([r["score"] for r in served], abs=1e-4)
    assert [r.get("because") for r in cli] == [r["because"] for r in served]


def test_after_an_event_the_service_moves_on_from_the_runs_data(run_and_service, capsys):
    """Runs last: the event changes the service's store (the CLI knows only the run's data)."""
    run, client = run_and_service
    assert main(["recommend", "--run", str(run.path), "--user", "u3", "-k", "3", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["items"][0]["item_id"]
    assert client.post("/events", json={"user_id": "u3", "item_id": first}).status_code == 201
    assert first not in [r["item_id"] for r in client.get("/recommend/u3?k=6").json()["items"]]


@pytest.mark.parametrize("user", ["u2", "u15"])
def test_cli_and_service_give_the_same_faithful_reasons_and_graph_paths(run_and_service, capsys, user):
    run, client = run_and_service
    assert main(["recommend", "--run", str(run.path), "--user", user, "-k", "6", "--why", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["items"]
    served = client.get(f"/recommend/{user}?k=6&why=true").json()["items"]
    assert [r["item_id"] for r in cli] == [r["item_id"] for r in served]
    assert [r.get("because") for r in cli] == [r["because"] for r in served]
    assert [r.get("reason") for r in cli] == [r["path_text"] for r in served]  # the run's kg/, copied with it
    assert any(r["path_text"] for r in served)
    assert all(r["path_text"] in (None, "both: directed by Ann Vega", "both: directed by Bo Lind") for r in served)
