"""``POST /chat`` and ``fathom chat``: a conversation over HTTP (its id returned and continued), the API key for a
user's recommendations, bad input named, and the command line in one-shot form."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fathom.cli.main import main
from fathom.service import ServiceSettings, create_app


def json_replies(out: str) -> list[dict]:
    """The JSON documents `fathom chat --json` printed, one per turn (each indented over several lines)."""
    out, replies, decoder = out.strip(), [], json.JSONDecoder()
    while out:
        reply, end = decoder.raw_decode(out)
        replies.append(reply)
        out = out[end:].strip()
    return replies


@pytest.fixture
def client(shop_dir, faq_file):
    with TestClient(create_app(ServiceSettings(data_dir=shop_dir, faq=faq_file, api_key="k3y"))) as client:
        yield client


def test_a_conversation_over_http(client):
    first = client.post("/chat", json={"message": "a stapler under 30 dollars"})
    assert first.status_code == 200
    body = first.json()
    assert body["intent"] == "find" and body["language"] == "en" and len(body["conversation_id"]) == 32
    shown = [i["item_id"] for i in body["items"]]
    assert shown and {c["id"] for c in body["citations"]} == set(shown)
    assert all(i["categorical"]["category"] == ["Staplers"] for i in body["items"])
    follow = client.post("/chat", json={"message": "who makes the second one?",
                                        "conversation_id": body["conversation_id"]}).json()
    assert follow["intent"] == "fact" and follow["slots"]["item"] == shown[1]
    assert follow["citations"] == [{"kind": "item", "id": shown[1], "field": "brand"}]
    faq = client.post("/chat", json={"message": "退货政策是什么", "conversation_id": body["conversation_id"]}).json()
    assert faq["language"] == "zh" and faq["citations"][0] == {"kind": "faq", "id": "returns", "field": None}
    metrics = client.get("/metrics").text
    assert 'fathom_chat_turns_total{intent="fact"}' in metrics


def test_a_users_recommendations_need_the_key_and_bad_input_is_named(client):
    assert client.post("/chat", json={"message": "recommend me something", "user_id": "u7"}).status_code == 401
    ok = client.post("/chat", json={"message": "recommend me something", "user_id": "u7"},
                     headers={"X-API-Key": "k3y"})
    assert ok.status_code == 200 and ok.json()["intent"] == "recommend" and ok.json()["items"]
    bad = client.post("/chat", json={"message": ""})
    assert bad.status_code == 422 and "message" in json.dumps(bad.json())
    blank = client.post("/chat", json={"message": "   "})
    assert blank.status_code == 400 and "message" in blank.json()["detail"]
    assert client.post("/chat", json={"message": "hi", "conversation_id": "c" * 129}).status_code == 422


def test_fathom_chat_one_shot(shop_dir, faq_file, capsys):
    assert main(["chat", "--data-dir", str(shop_dir), "--faq", str(faq_file), "--json", "-m", "who directed Fargo?",
                 "-m", "compare it and Blood Simple"]) == 0
    lines = json_replies(capsys.readouterr().out)
    assert [r["intent"] for r in lines] == ["fact", "compare"]
    assert lines[0]["text"] == "Fargo was directed by Joel Coen."
    assert lines[1]["slots"] == {"items": ["f1", "f2"]}
    assert main(["chat", "--data-dir", str(shop_dir), "-m", "thanks"]) == 0
    out = capsys.readouterr().out
    assert "fathom> You're welcome." in out and "[smalltalk; cites nothing]" in out


def test_fathom_chat_on_a_run_folder(tmp_path, capsys):
    """`fathom chat --run RUN` prepares RUN/service from the run (its catalogue, events and model) the first time,
    as `fathom serve --from-run` does, and answers over it."""
    from fathom.data.prepare import PrepareConfig, prepare
    from fathom.models.ease import EASE
    from fathom.runs import RunFolder
    from tests.service.synthetic import dataset

    run = RunFolder(tmp_path / "run")
    prepared = prepare(dataset(), PrepareConfig())
    run.save_data(prepared)
    run.save_model("ease", EASE(reg=1.0).fit(prepared.train))
    for _ in range(2):  # the second time reuses RUN/service
        assert main(["chat", "--run", str(run.path), "--json", "-m", "sci-fi from before 2003",
                     "-m", "what year is the second one?"]) == 0
        replies = json_replies(capsys.readouterr().out)
        shown = [i["item_id"] for i in replies[0]["items"]]
        assert sorted(shown) == ["s0", "s1", "s2"]
        assert replies[1]["slots"] == {"item": shown[1], "attribute": "year"}
        assert replies[1]["text"] == f"Space Voyage {shown[1][1:]} is from {2000 + int(shown[1][1:])}."
    assert (run.path / "service" / "fathom.sqlite3").is_file()
