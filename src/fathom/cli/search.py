"""fathom search: query a catalogue index folder (optionally building it first from a JSONL/CSV catalogue)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("index", help="index folder (created by --build)")
    parser.add_argument("query", nargs="?", default="", help="search text (empty: browse the filtered catalogue)")
    parser.add_argument("--build", metavar="CATALOGUE", help="build the index from this .jsonl/.json/.csv/.tsv first")
    parser.add_argument("--text-fields", help="text fields and weights, e.g. title:2,description:1 (with --build)")
    parser.add_argument("--id-field", help="id column (with --build; default id/_id/item_id)")
    parser.add_argument("--list-sep", default="|", help="separator of several values in one CSV cell")
    parser.add_argument("--encoder", choices=["minilm", "e5", "none"], default="minilm", help="dense encoder")
    parser.add_argument("-k", type=int, default=10, help="number of hits")
    parser.add_argument("--filter", action="append", default=[], metavar="NAME=V1[,V2]", help="categorical filter")
    parser.add_argument("--range", action="append", default=[], metavar="NAME=LO:HI", help="numeric range filter")
    parser.add_argument("--weights", help="fusion weights for this query, e.g. bm25=0.7,dense=0.3")
    parser.add_argument("--fusion", choices=["convex", "rrf"], help="fusion rule (default: the index's)")
    parser.add_argument("--facets", help="comma-separated attributes to count (default: all categorical)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"weight {part!r} is not NAME=VALUE")
        out[name.strip()] = float(value)
    return out


def run(args: argparse.Namespace) -> int:
    from fathom.retrieval.catalogue import build_catalogue_index
    from fathom.retrieval.filters import parse_filters
    from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig

    folder = Path(args.index)
    if args.build:
        config = SearchIndexConfig(encoder=None if args.encoder == "none" else args.encoder)
        fields = _weights(args.text_fields.replace(":", "=")) if args.text_fields else None
        index = build_catalogue_index(args.build, config, fields, args.id_field, args.list_sep, progress=True)
        index.save(folder)
        print(f"indexed {len(index)} documents into {folder}")
        if not args.query:
            return 0
    else:
        index = SearchIndex.load(folder)
    if args.fusion:
        index.config = index.config.replace(hybrid={**index.config.hybrid.to_dict(), "fusion": args.fusion})
    result = index.search(
        args.query,
        k=args.k,
        filter=parse_filters(args.filter, args.range),
        weights=_weights(args.weights),
        facets=args.facets.split(",") if args.facets else None,
    )
    if args.json:
        payload = {
            "total": result.total,
            "corrections": result.corrections,
            "facets": result.facets,
            "hits": [{"id": h.doc_id, "scores": h.scores, "document": h.document} for h in result.hits],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    if result.corrections:
        print("corrected: " + ", ".join(f"{a} -> {b}" for a, b in result.corrections.items()))
    print(f"{result.total} matching, top {len(result.hits)}:")
    for rank, h in enumerate(result.hits, 1):
        doc = h.document or {}
        title = next(iter((doc.get("fields") or {}).values()), "")[:60]
        signals = "  ".join(f"{k}={v:.3f}" for k, v in h.scores.items())
        print(f"{rank:>3}. {h.doc_id:<12} {title:<60}  {signals}")
    for name, counts in result.facets.items():
        top = ", ".join(f"{v} ({n})" for v, n in list(counts.items())[:8])
        print(f"facet {name}: {top}")
    return 0
