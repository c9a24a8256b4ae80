"""``fathom`` command line: one small module per sub-command, each parsing arguments and calling the library."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

# sub-command -> module with add_arguments(parser) and run(args) -> int
COMMANDS = {
    "demo": ("fathom.cli.demo", "the main job: prepare MovieLens-100K, train every model, print a leaderboard"),
    "inspect": ("fathom.cli.inspect", "summarise a built-in data set or data files"),
    "validate": ("fathom.cli.validate", "check a data file and report every bad value"),
    "train": ("fathom.cli.train", "train a model on a data set and save it"),
    "evaluate": ("fathom.cli.evaluate", "evaluate a saved model on its test split (full ranking)"),
    "recommend": ("fathom.cli.recommend", "top-k recommendations for a user of a saved model"),
    "similar": ("fathom.cli.similar", "items most similar to an item, from a saved model"),
    "search": ("fathom.cli.search", "search a catalogue index (BM25 + dense + fusion) with filters and facets"),
    "search-eval": ("fathom.cli.search_eval", "evaluate search methods on a BEIR-format test collection"),
    "tune": ("fathom.cli.tune", "search a model's settings on the validation split, write the best config"),
    "benchmark": ("fathom.cli.benchmark", "run a benchmark protocol and print its table"),
    "kg": ("fathom.cli.kg", "build a knowledge graph from catalogue columns; show an item's entities and paths"),
    "chat": ("fathom.cli.chat", "talk to the shopping assistant about a served catalogue (interactive, or -m)"),
    "serve": ("fathom.cli.serve", "run the real-time HTTP service (recommend, similar, search, events)"),
}


def one_line(exc: BaseException) -> str:
    """A one-line description of an error, naming the offending setting or value."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" + (f" (got {e['input']!r})" if "input" in e
                                                                       and not isinstance(e["input"], dict) else "")
            for e in exc.errors()
        )
        return f"invalid {exc.title} settings: {problems}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fathom", description="Fathom: search and recommendation engine.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given (a command may relaunch itself)
    if not args.command:
        parser.print_help()
        return 0
    module = import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("fathom: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI turns every failure into one line
        if os.environ.get("FATHOM_DEBUG"):
            raise
        message = one_line(exc)
        if isinstance(exc, KeyError) and message.startswith(("'", '"')):
            message = message[1:-1]
        print(f"fathom {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError | KeyError | LookupError | OSError | TypeError) else 1


if __name__ == "__main__":
    sys.exit(main())
