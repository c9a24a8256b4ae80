"""fathom kg: build a knowledge graph from a catalogue's columns (or a built-in graph), show an item's neighbours,
and the paths between two items, with readable names."""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.cli._common import positive_int, print_json
from fathom.data.kg import DEFAULT_KINDS, KnowledgeGraph


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="build a graph and save it to a folder",
                           description="Build a knowledge graph from catalogue columns (list columns such as genres "
                           "or cast link an item to each value, a category path to each level, a year to its "
                           "decade) or from a built-in data set's graph, and save it.")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalog", help="item catalogue file (CSV, TSV, JSON Lines) with an item_id column")
    source.add_argument("--builtin", choices=["movielens-100k", "movielens-1m"], help="a built-in data set's "
                        "catalogue: genres and decades, with readable names")
    build.add_argument("--freebase", action="store_true", help="with --builtin movielens-100k: merge the Freebase "
                       "graph that ships with it (91,631 triples; its entities have ids, not names)")
    build.add_argument("--columns", help="catalogue columns to link items through, comma-separated; a column may "
                       "say its kind and cap: cast:list:5, categories:path, year:decade (default: the columns with "
                       f"a known kind: {', '.join(sorted(DEFAULT_KINDS))})")
    build.add_argument("--out", required=True, help="folder to write kg.json and kg_triples.npy into")
    build.add_argument("--json", action="store_true", help="print the summary as JSON")
    show = sub.add_parser("show", help="an item's entities and how many other items share each")
    show.add_argument("--kg", required=True, help="a folder written by `fathom kg build`")
    show.add_argument("item", help="external item id")
    show.add_argument("-k", type=positive_int, default=30, help="entities to list (default 30)")
    show.add_argument("--json", action="store_true")
    path = sub.add_parser("path", help="the shortest paths between two items, most specific first")
    path.add_argument("--kg", required=True, help="a folder written by `fathom kg build`")
    path.add_argument("a", help="external item id")
    path.add_argument("b", help="external item id")
    path.add_argument("--max-hops", type=positive_int, default=4)
    path.add_argument("-k", type=positive_int, default=5, help="paths to list (default 5)")
    path.add_argument("--json", action="store_true")


def parse_columns(text: str | None) -> list[dict] | None:
    """``cast:list:5,year`` -> [{"name": "cast", "kind": "list", "max_values": 5}, {"name": "year"}]."""
    if not text:
        return None
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, *rest = part.split(":")
        spec: dict = {"name": name}
        if rest and rest[0]:
            spec["kind"] = rest[0]
        if len(rest) > 1 and rest[1]:
            try:
                spec["max_values"] = int(rest[1])
            except ValueError:
                raise ValueError(f"--columns {part!r}: the cap after the kind must be a whole number") from None
        out.append(spec)
    return out


def build_graph(args: argparse.Namespace) -> KnowledgeGraph:
    if args.builtin:
        from fathom.data.sources import load_builtin

        data = load_builtin(args.builtin)
        frame = data.catalog.frame
        graph = KnowledgeGraph.from_catalog(frame, parse_columns(args.columns) or ["genres", "release_year"])
        if args.freebase:
            if "kg" not in data.extras or "link" not in data.extras:
                raise ValueError(f"{args.builtin} ships no Freebase graph")
            names = dict(zip(frame["item_id"], frame["title"], strict=True))
            graph = KnowledgeGraph.merge(graph, KnowledgeGraph.from_triples(data.extras["kg"], data.extras["link"],
                                                                            names))
        return graph
    from fathom.data.loading import load_catalog

    frame = load_catalog(args.catalog).table.frame
    return KnowledgeGraph.from_catalog(frame, parse_columns(args.columns))


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        graph = build_graph(args)
        folder = graph.save(Path(args.out))
        summary = graph.summary()
        if args.json:
            print_json({"folder": str(folder), **summary})
        else:
            print(f"knowledge graph: {summary['entities']} entities ({summary['items']} items), "
                  f"{summary['triples']} triples, {summary['relations']} relations -> {folder}")
            for rel, n in summary["triples by relation"].items():
                print(f"  {rel}: {n}")
        return 0
    graph = KnowledgeGraph.load(args.kg)
    if args.action == "show":
        rows = graph.item_neighbours(args.item, limit=args.k)
        if args.json:
            print_json({"item": args.item, "name": graph.names[graph.item(args.item)], "entities": rows})
            return 0
        print(f"{graph.names[graph.item(args.item)]} ({args.item}):")
        for r in rows:
            print(f"  {r['relation']}: {r['entity']}  (shared by {r['other items']} other items)")
        return 0
    paths = graph.paths(graph.item(args.a), graph.item(args.b), max_hops=args.max_hops, limit=args.k)
    described = [graph.describe_path(p) for p in paths]
    if args.json:
        print_json({"a": args.a, "b": args.b, "paths": described})
        return 0
    if not described:
        print(f"no path of at most {args.max_hops} hops between {args.a} and {args.b}")
        return 1
    for line in described:
        print(line)
    return 0
