"""fathom recommend: top-k items for a user of a saved model, ranked as the service ranks them.

The user's history (every interaction in the run's data, most recent first) goes through the same read path as
``GET /recommend`` (:func:`fathom.models.fold_in.rank_history`: recent items weigh more, seen items are left
out, each item comes with the history item behind it), so a service serving this run's model gives the same
answer (``fathom serve --from-run``)."""

from __future__ import annotations

import argparse

import numpy as np

from fathom.cli._common import add_run_arguments, positive_int, print_json
from fathom.runs import RunFolder, describe_items, item_line, item_popularity, user_history


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--user", required=True, help="external user id")
    parser.add_argument("-k", type=positive_int, default=10, help="number of items (default 10)")
    parser.add_argument("--include-seen", action="store_true", help="allow items the user already interacted with")
    parser.add_argument("--why", action="store_true", help="faithful reasons: the history item whose removal moves "
                        "each item furthest down, with the knowledge-graph path between them where there is one")
    parser.add_argument("--kg", help="knowledge-graph folder for --why (`fathom kg build`; default: the run "
                        "folder's kg/ when it has one)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from fathom.models.fold_in import HistoryPolicy, rank_history

    folder = RunFolder(args.run)
    label, model = folder.load_model(args.model)
    data = folder.data()
    user = folder.user_index(args.user)
    inter = data.all_interactions()
    history = user_history(inter, user)
    if args.include_seen:  # the model's own scores, nothing left out
        ids, scores = model.recommend(np.array([user]), k=args.k)
        ids, scores, sources = ids[0], scores[0], [None] * args.k
    else:
        ranked = rank_history(model, history, args.k, user, item_popularity(inter), policy=HistoryPolicy())
        ids, scores, sources = ranked.items, ranked.scores, ranked.sources
    if args.why and not args.include_seen:
        from fathom.models.fold_in import explain_by_removal

        sources, _ = explain_by_removal(model, history, ids, user, item_popularity(inter), HistoryPolicy())
    rows = describe_items(data, ids)
    vocab = data.item_vocab
    graph = load_graph(args, folder) if args.why else None
    for row, score, source in zip(rows, scores, sources, strict=False):
        row["score"] = round(float(score), 5)
        if source is not None:
            row["because"] = str(vocab.decode(int(source)))
            source_title = describe_items(data, np.array([source]))[0].get("title")
            if source_title:
                row["because_title"] = str(source_title)
            if graph is not None:
                reason = graph.reason(row["because"], str(row["item_id"]))
                if reason is not None:
                    row["path"] = reason["path"]
                    row["reason"] = reason["text"]
    if args.json:
        print_json({"user": args.user, "model": label, "items": rows})
        return 0
    print(f"top {args.k} for user {args.user} ({label}):")
    for rank, row in enumerate(rows, 1):
        because = f"  (because of {row.get('because_title', row['because'])})" if "because" in row else ""
        print(f"{rank:>3}. {item_line(row)}  score {row['score']:.4f}{because}")
        if args.why:
            print(f"       why: {why_line(row)}")
    return 0


def why_line(row: dict) -> str:
    if "path" in row:
        return row["path"]
    if "because" in row:
        return (f"people who liked {row.get('because_title', row['because'])} also liked it (no knowledge-graph "
                "path within two hops)")
    return "your profile and the item's popularity (no single history item moves it)"


def load_graph(args: argparse.Namespace, folder):
    """The knowledge graph for --why: --kg, else the run folder's kg/, else none."""
    from pathlib import Path

    from fathom.data.kg import KnowledgeGraph

    path = Path(args.kg) if args.kg else Path(folder.path) / "kg"
    if args.kg or (path / "kg.json").is_file():
        return KnowledgeGraph.load(path)
    return None
