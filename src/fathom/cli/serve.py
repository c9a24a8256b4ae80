"""fathom serve: the real-time HTTP service (prepares MovieLens-100K and a default model on first start)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fathom.cli._common import positive_float, positive_int

if TYPE_CHECKING:
    from fathom.service.settings import ServiceSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    parser.add_argument("--data-dir", help="store folder (default $FATHOM_DATA_DIR or ./fathom-data); "
                                           "an empty one is prepared with MovieLens-100K and a trained model")
    parser.add_argument("--store", metavar="URL", help="postgresql://user:password@host/db: serve that database "
                        "(several hosts may; --data-dir then holds the artefacts) instead of the embedded SQLite store "
                        "(default $FATHOM_STORE)")
    parser.add_argument("--artefacts", metavar="DIR", help="where model versions are saved and loaded (default "
                        "DATA_DIR/artefacts; $FATHOM_ARTEFACTS): with several hosts on one --store, a folder all "
                        "of them mount")
    parser.add_argument("--api-key", help="require this key in X-API-Key for writes and reads of a user's data "
                                          "(default $FATHOM_API_KEY); shows in the process list: prefer "
                                          "--api-key-file or the variable")
    parser.add_argument("--api-key-file", metavar="FILE", help="read the API key from the first line of FILE "
                                                               "(default $FATHOM_API_KEY_FILE)")
    parser.add_argument("--allowed-host", action="append", metavar="NAME",
                        help="host name the service answers to, repeatable (default: the loopback names when "
                             "--host is a loopback address, else any; $FATHOM_ALLOWED_HOSTS)")
    parser.add_argument("--allowed-origin", action="append", metavar="ORIGIN",
                        help="web origin (https://shop.example) whose pages may write, repeatable "
                             "($FATHOM_ALLOWED_ORIGINS); other sites' writes get 403")
    parser.add_argument("--encoder", choices=["none", "minilm", "minilm-int8", "e5"],
                        help="dense encoder for search (default none; minilm-int8: MiniLM with int8 queries)")
    parser.add_argument("--kg", metavar="DIR", help="knowledge graph (`fathom kg build`) whose paths explain "
                        "recommendations (default $FATHOM_KG, else DATA_DIR/kg when present, else one built from "
                        "the catalogue's attributes)")
    parser.add_argument("--faq", metavar="FILE", help="FAQ and policies for the assistant (POST /chat): JSON Lines "
                        "or Markdown (default $FATHOM_FAQ)")
    parser.add_argument("--model", default="ease", help="model trained on first start (default ease)")
    parser.add_argument("--from-run", metavar="RUN", help="prepare an empty data folder from a run folder of "
                        "`fathom train` / `fathom demo` instead: its catalogue, events and model (then GET "
                        "/recommend answers what `fathom recommend --run RUN` answers)")
    parser.add_argument("--run-model", metavar="LABEL", help="with --from-run: the run's model to serve (needed "
                        "when it holds several)")
    parser.add_argument("--learn-every", type=positive_float, metavar="SECONDS",
                        help="learn online from new events in the background every SECONDS (train, validate, "
                             "activate if not worse; default $FATHOM_LEARN_INTERVAL or off)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from fathom.online.bootstrap import bootstrap
    from fathom.online.engine import Engine
    from fathom.service.settings import ServiceSettings

    encoder = None if args.encoder in (None, "none") else args.encoder
    if getattr(args, "api_key", None):
        print("warning: --api-key shows in the process list; prefer --api-key-file FILE or $FATHOM_API_KEY",
              file=sys.stderr, flush=True)
    hosts = getattr(args, "allowed_host", None)
    if hosts is None and "FATHOM_ALLOWED_HOSTS" not in os.environ and args.host in LOOPBACK:
        hosts = list(LOOPBACK)  # a page on another site cannot reach this service by rebinding a name to loopback
    settings = ServiceSettings.from_env(data_dir=args.data_dir, api_key=args.api_key,
                                        api_key_file=getattr(args, "api_key_file", None), search_encoder=encoder,
                                        allowed_hosts=hosts, allowed_origins=getattr(args, "allowed_origin", None),
                                        log_level=args.log_level, kg=getattr(args, "kg", None),
                                        faq=getattr(args, "faq", None), store=getattr(args, "store", None),
                                        artefacts_dir=getattr(args, "artefacts", None))
    if args.learn_every is not None:
        settings = settings.replace(learning=settings.learning.replace(interval_s=args.learn_every))
    if getattr(args, "from_run", None):
        from fathom.online.bootstrap import bootstrap_from_run

        bootstrap_from_run(settings.data_dir, args.from_run, args.run_model, log=lambda m: print(m, flush=True),
                           url=settings.store, artefacts=settings.artefacts_dir)
    else:
        bootstrap(settings.data_dir, model=args.model, log=lambda m: print(m, flush=True), url=settings.store,
                  artefacts=settings.artefacts_dir)
    # open once here: a stale search index is rebuilt before any worker starts, and a broken store fails early
    Engine.open(settings.data_dir, settings.engine_config()).close()
    with _key_for_workers(settings) as settings:
        os.environ.pop("FATHOM_API_KEY", None)  # the workers read the key from a private file instead
        os.environ.update(settings.to_env())  # the workers read their settings back from the environment
        where = f"http://{args.host}:{args.port}"
        from fathom.online.store_pg import redact

        store = f"PostgreSQL {redact(settings.store)} (artefacts in {settings.data_dir})" if settings.store else \
            str(settings.data_dir)
        print(f"serving {store} on {where}: web page {where}/, status {where}/ui/status, "
              f"API docs {where}/docs", flush=True)
        uvicorn.run("fathom.service.app:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level)
    return 0


@contextmanager
def _key_for_workers(settings: ServiceSettings) -> Iterator[ServiceSettings]:
    """``settings`` with a key given directly moved into a file only this user can read (removed afterwards),
    so that it never enters the workers' environment."""
    if settings.api_key is None:
        yield settings
        return
    fd, path = tempfile.mkstemp(prefix="fathom-key-", text=True)  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(settings.api_key + "\n")
        yield settings.replace(api_key=None, api_key_file=path)
    finally:
        os.unlink(path)
