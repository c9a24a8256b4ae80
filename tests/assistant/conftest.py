"""Fixtures: the test shop in a data folder, an engine on it, and one assistant (its encoders and intent heads
load once per session)."""

from __future__ import annotations

import json

import pytest

from fathom.assistant.assistant import Assistant
from fathom.assistant.intents import IntentClassifier
from fathom.online.engine import Engine
from tests.assistant.shop import FAQ, prepare_shop


@pytest.fixture(scope="session")
def classifier() -> IntentClassifier:
    return IntentClassifier()


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory):
    return prepare_shop(tmp_path_factory.mktemp("shop") / "data")


@pytest.fixture(scope="session")
def faq_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("faq") / "faq.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in FAQ) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def engine(shop_dir):
    engine = Engine.open(shop_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def assistant(engine, faq_file, classifier) -> Assistant:
    return Assistant(engine, faq=faq_file, classifier=classifier)
