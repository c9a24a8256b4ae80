"""Service settings from the environment, and an engine without an active model."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from fathom.online.store import Store
from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import events, items


def test_settings_from_env_round_trip_and_typos():
    env = {"FATHOM_DATA_DIR": "/srv/x", "FATHOM_API_KEY": "", "FATHOM_MAX_BODY_BYTES": "5000", "OTHER": "1"}
    s = ServiceSettings.from_env(env)
    assert s.data_dir == Path("/srv/x") and s.api_key is None and s.max_body_bytes == 5000
    assert ServiceSettings.from_env(s.to_env()) == s
    assert ServiceSettings.from_env(env, api_key="k", data_dir=None).api_key == "k"
    with pytest.raises(ValidationError, match="max_body_bytes"):
        ServiceSettings.from_env({"FATHOM_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ValidationError, match="max_bodybytes"):
        ServiceSettings(max_bodybytes=3)
    with pytest.raises(ValidationError, match="search_encoder"):
        ServiceSettings(search_encoder="bert")
    assert ServiceSettings(search_encoder="minilm").engine_config().encoder == "minilm"
    assert ServiceSettings().torch_threads == 1
    assert ServiceSettings.from_env({"FATHOM_TORCH_THREADS": "3"}).torch_threads == 3
    assert ServiceSettings.from_env({"FATHOM_TORCH_THREADS": ""}).torch_threads is None  # torch's default
    with pytest.raises(ValidationError, match="torch_threads"):
        ServiceSettings(torch_threads=0)


def test_the_app_runs_torch_and_blas_calls_on_the_set_threads_and_restores_them(tmp_path):
    import torch
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        """Threads of numpy's and scipy's BLAS (process-wide pools; an OpenMP-threaded BLAS, such as faiss's, is
        limited per thread and is not what the dense search's products use)."""
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
                and ("numpy" in pool["filepath"] or "scipy" in pool["filepath"])]

    before, blas_before = torch.get_num_threads(), blas_threads()
    app = create_app(ServiceSettings(data_dir=tmp_path, torch_threads=1))

    @app.get("/threads")
    def threads() -> dict:
        return {"torch": torch.get_num_threads(), "blas": blas_threads()}

    with TestClient(app) as client:
        seen = client.get("/threads").json()
    assert seen["torch"] == 1 and seen["blas"] and all(n == 1 for n in seen["blas"])
    assert torch.get_num_threads() == before and blas_threads() == blas_before


def test_without_an_active_model_search_works_and_recommend_says_why(tmp_path):
    store = Store(tmp_path)
    store.upsert_items(items())
    store.add_events(events())
    store.close()
    with TestClient(create_app(ServiceSettings(data_dir=tmp_path))) as client:
        assert client.get("/health").json()["status"] == "no active model"
        r = client.get("/recommend/u0")
        assert r.status_code == 503 and "no model version is active" in r.json()["detail"]
        assert client.get("/search?q=space&k=3").json()["total"] == 10
        assert client.get("/models").json() == {"active": None, "versions": []}
