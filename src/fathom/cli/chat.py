"""fathom chat: talk to the shopping assistant about a data folder's catalogue (the one ``fathom serve`` serves),
or a run folder's (``--run``, prepared into ``RUN/service`` the first time, as ``fathom serve --from-run`` does).

Interactive on a terminal (an empty line or Ctrl-D ends); ``-m MESSAGE`` (repeatable) answers those turns and
exits, for scripts."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path

from fathom.cli._common import print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="the service's data folder (default $FATHOM_DATA_DIR or ./fathom-data)")
    where.add_argument("--run", help="a run folder of `fathom train` / `fathom demo` (its catalogue, events and "
                       "model; prepared into RUN/service on first use)")
    parser.add_argument("--run-model", metavar="LABEL", help="with --run: the run's model (default: the best on "
                        "validation NDCG@10)")
    parser.add_argument("--faq", help="FAQ and policies: JSON Lines or Markdown (default $FATHOM_FAQ)")
    parser.add_argument("--user", help="a known user: recommendations become theirs")
    parser.add_argument("--conversation", help="continue this conversation id (default: a new one)")
    parser.add_argument("-m", "--message", action="append", help="one turn (repeatable); without it, interactive")
    parser.add_argument("--json", action="store_true", help="print each reply as JSON")


def run(args: argparse.Namespace) -> int:
    from fathom.assistant.assistant import Assistant
    from fathom.online.engine import Engine
    from fathom.online.store import Store

    if args.run:
        from fathom.online.bootstrap import bootstrap_from_run
        from fathom.retrieval.run_catalogue import best_model_label
        from fathom.runs import RunFolder

        folder = Path(args.run) / "service"
        label = args.run_model or best_model_label(RunFolder(args.run))
        bootstrap_from_run(folder, args.run, label, log=lambda m: print(m, file=sys.stderr, flush=True))
    else:
        folder = Path(args.data_dir or os.environ.get("FATHOM_DATA_DIR") or "fathom-data")
        store = Store(folder) if folder.is_dir() else None
        empty = store is None or store.is_empty()
        if store is not None:
            store.close()
        if empty:
            raise ValueError(f"--data-dir {folder}: no catalogue there; start `fathom serve --data-dir {folder}` "
                             "once (it prepares one), or give --run RUN")
    engine = Engine.open(folder)
    try:
        assistant = Assistant(engine, faq=args.faq or os.environ.get("FATHOM_FAQ") or None)
        conversation = args.conversation or uuid.uuid4().hex[:12]
        turns = args.message if args.message else None
        interactive = turns is None
        if interactive:
            print(f"Fathom assistant over {folder} (conversation {conversation}); an empty line ends.")
        while True:
            if interactive:
                try:
                    message = input("you> ").strip()
                except EOFError:
                    break
                if not message:
                    break
            else:
                if not turns:
                    break
                message = turns.pop(0)
            reply = assistant.reply(conversation, message, args.user)
            if args.json:
                print_json({"conversation_id": conversation, "message": message, "intent": reply.intent,
                            "follow_up": reply.follow_up, "text": reply.text, "items": reply.items,
                            "citations": [vars(c) for c in reply.citations], "slots": reply.slots})
            else:
                if not interactive:
                    print(f"you> {message}")
                print(f"fathom> {reply.text}")
                cited = ", ".join(f"{c.kind}:{c.id}" for c in reply.citations)
                print(f"        [{reply.intent}{', follow-up' if reply.follow_up else ''}; cites {cited or 'nothing'}]")
    finally:
        engine.close()
    return 0
