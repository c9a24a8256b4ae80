"""Fixtures: a prepared synthetic data folder and a TestClient on an app serving it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import prepare_folder


@pytest.fixture
def data_dir(tmp_path):
    return prepare_folder(tmp_path / "data")


@pytest.fixture
def make_client(data_dir):
    """make_client(**settings) -> a started TestClient (lifespan run) on ``data_dir``."""
    clients = []

    def make(**settings):
        client = TestClient(create_app(ServiceSettings(data_dir=data_dir, **settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):  # last started, first stopped: each app restores the thread limits it found
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture(scope="session")
def ml100k_dir(tmp_path_factory):
    """A data folder prepared as ``fathom serve`` prepares an empty one: MovieLens-100K (real titles, genres and
    years), EASE active as version 1. Shared by the tests of a session: read it, never write to it."""
    from fathom.data.sources import WheelUnavailableError
    from fathom.online.bootstrap import bootstrap

    folder = tmp_path_factory.mktemp("ml100k") / "data"
    try:
        bootstrap(folder, log=lambda _: None)
    except WheelUnavailableError as exc:
        pytest.skip(f"MovieLens-100K unavailable: {exc}")
    return folder
