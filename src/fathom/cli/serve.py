"""fathom serve: the real-time HTTP service (prepares MovieLens-100K and a default model on first start)."""

from __future__ import annotations

import argparse
import os

from fathom.cli._common import positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    parser.add_argument("--data-dir", help="store folder (default $FATHOM_DATA_DIR or ./fathom-data); "
                                           "an empty one is prepared with MovieLens-100K and a trained model")
    parser.add_argument("--api-key", help="require this key in X-API-Key for writes (default $FATHOM_API_KEY)")
    parser.add_argument("--encoder", choices=["none", "minilm", "minilm-int8", "e5"],
                        help="dense encoder for search (default none; minilm-int8: MiniLM with int8 queries)")
    parser.add_argument("--model", default="ease", help="model trained on first start (default ease)")
    parser.add_argument("--learn-every", type=positive_float, metavar="SECONDS",
                        help="learn online from new events in the background every SECONDS (train, validate, "
                             "activate if not worse; default $FATHOM_LEARN_INTERVAL or off)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from fathom.online.bootstrap import bootstrap
    from fathom.online.engine import Engine
    from fathom.service.settings import ServiceSettings

    encoder = None if args.encoder in (None, "none") else args.encoder
    settings = ServiceSettings.from_env(data_dir=args.data_dir, api_key=args.api_key, search_encoder=encoder)
    if args.learn_every is not None:
        settings = settings.replace(learning=settings.learning.replace(interval_s=args.learn_every))
    bootstrap(settings.data_dir, model=args.model, log=lambda m: print(m, flush=True))
    # open once here: a stale search index is rebuilt before any worker starts, and a broken store fails early
    Engine.open(settings.data_dir, settings.engine_config()).close()
    os.environ.update(settings.to_env())  # the workers read their settings back from the environment
    where = f"http://{args.host}:{args.port}"
    print(f"serving {settings.data_dir} on {where}: web page {where}/, status {where}/ui/status, "
          f"API docs {where}/docs", flush=True)
    uvicorn.run("fathom.service.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)
    return 0
