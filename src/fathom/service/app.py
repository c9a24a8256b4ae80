"""The app factory. Nothing is built at import time: :func:`create_app` builds the app, and its lifespan opens
the engine (store, active model, search index) on startup and closes it on shutdown."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fathom.online.engine import Engine
from fathom.online.learner import recover
from fathom.service.errors import install_error_handlers
from fathom.service.logs import configure_logging
from fathom.service.metrics import Metrics
from fathom.service.middleware import BodyLimit, HostAndOrigin, RequestMetrics
from fathom.service.openapi import install_openapi
from fathom.service.routers import ALL, chat, status, ui
from fathom.service.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """The web app for ``settings``; ``engine`` (e.g. one built in a test) replaces the one opened from
    ``settings.data_dir`` and is then left open at shutdown."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        restore_threads = _limit_threads(settings.torch_threads)
        configure_logging(settings.log_level)
        app.state.engine = engine or Engine.open(settings.data_dir, settings.engine_config())
        recover(app.state.engine.store)  # a learner killed mid-run: its lease and unfinished folders
        if settings.learning.interval_s is not None:
            app.state.engine.start_learner(settings.learning)
        warm_up = threading.Thread(target=chat.warm, args=(app,), name="assistant-warm-up", daemon=True)
        if settings.assistant_warm_up:
            warm_up.start()
        try:
            yield
        finally:
            if warm_up.is_alive():
                warm_up.join(timeout=120)  # never leave it loading a model while the process exits
            app.state.engine.stop_learner()
            if engine is None:
                app.state.engine.close()
            restore_threads()

    app = FastAPI(
        title="Fathom",
        summary="Real-time recommendations, similar items and catalogue search",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_openapi(app)
    for router in [*ALL, status.router, ui.router]:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostAndOrigin, allowed_hosts=settings.allowed_hosts, allowed_origins=settings.allowed_origins)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)  # outermost: counts 413s too
    return app


def _limit_threads(n: int | None) -> Callable[[], None]:
    """Limits torch's intra-op threads and the BLAS / OpenMP pools numpy uses to ``n`` (None: leaves them);
    returns the function that restores the previous limits."""
    if n is None:
        return lambda: None
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    blas = threadpool_limits(limits=n)

    def restore() -> None:
        blas.restore_original_limits()
        torch.set_num_threads(before)

    return restore


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory fathom.service.app:app_from_env`` (settings from FATHOM_* variables)."""
    return create_app(ServiceSettings.from_env())
