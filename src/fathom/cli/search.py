"""fathom search: query a catalogue index folder (optionally building it first from a JSONL/CSV catalogue), or the
item catalogue of a run folder (``fathom search "toy story"`` searches the movies of runs/demo), optionally
personalised for a user by the run's model and with constraints read from the query (``--understand``)."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from fathom.cli._common import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("index", nargs="?", help="index folder (created by --build) or run folder; a single "
                        "argument that is neither is the query, searched in the catalogue of --run")
    parser.add_argument("query", nargs="?", default="", help="search text (empty: browse the filtered catalogue)")
    parser.add_argument("--run", help="run folder of `fathom demo` / `fathom train`: its catalogue is searched when "
                        "no index is given (default runs/demo) and its model personalises --user")
    parser.add_argument("--model", help="model of the run that personalises (default: best validation NDCG@10)")
    parser.add_argument("--user", help="personalise the ranking for this external user id")
    parser.add_argument("--personal-weight", type=float, default=0.3,
                        help="weight of the user's affinity beside the search signals (default 0.3; 0: none)")
    parser.add_argument("--understand", action="store_true",
                        help="read price, year, colour and category constraints out of the query text")
    parser.add_argument("--build", metavar="CATALOGUE", help="build the index from this .jsonl/.json/.csv/.tsv first")
    parser.add_argument("--text-fields", help="text fields and weights, e.g. title:2,description:1 (with --build)")
    parser.add_argument("--id-field", help="id column (with --build; default id/_id/item_id)")
    parser.add_argument("--list-sep", default="|", help="separator of several values in one CSV cell")
    parser.add_argument("--encoder", choices=["minilm", "minilm-int8", "e5", "none"],
                        help="dense encoder (default: minilm with --build, none for a run folder's catalogue)")
    parser.add_argument("-k", type=int, default=10, help="number of hits")
    parser.add_argument("--filter", action="append", default=[], metavar="NAME=V1[,V2]", help="categorical filter")
    parser.add_argument("--range", action="append", default=[], metavar="NAME=LO:HI", help="numeric range filter")
    parser.add_argument("--weights", help="fusion weights for this query, e.g. bm25=0.7,dense=0.3")
    parser.add_argument("--fusion", choices=["convex", "rrf"], help="fusion rule (default: the index's)")
    parser.add_argument("--facets", help="comma-separated attributes to count (default: all categorical)")
    parser.add_argument("--reranker", metavar="DIR", help="reorder the top hits with this fine-tuned cross-encoder "
                        "(a folder written by benchmarks/train_reranker.py or fathom.retrieval.rerank_train)")
    parser.add_argument("--rerank-depth", type=positive_int, default=20, help="hits the cross-encoder reorders "
                        "(default 20)")
    parser.add_argument("--rerank-mix", type=float, default=0.5, help="weight of the first-stage score in the "
                        "reranked order: 0 = cross-encoder alone, 1 = no change (default 0.5)")
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


def _is_index(path: Path) -> bool:
    return (path / "config.json").is_file()


def _is_run(path: Path) -> bool:
    return (path / "data").is_dir()


def _targets(args: argparse.Namespace) -> tuple[Path | None, Path | None, str]:
    """(index folder or None, run folder or None, query) from the positional arguments and --run."""
    run = Path(args.run) if args.run else None
    if args.index is None:
        return None, run or Path("runs/demo"), ""
    first = Path(args.index)
    if args.build or _is_index(first):
        return first, run, args.query
    if _is_run(first):
        return None, first, args.query
    if args.query:
        raise FileNotFoundError(f"{first} is neither a search index (no config.json) nor a run folder (no data/)")
    return None, run or Path("runs/demo"), args.index


def _open(args: argparse.Namespace, index_dir: Path | None, run):
    from fathom.retrieval.catalogue import build_catalogue_index
    from fathom.retrieval.run_catalogue import run_search_index
    from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig

    if index_dir is None:
        return run_search_index(run, encoder=None if args.encoder in (None, "none") else args.encoder)
    if not args.build:
        return SearchIndex.load(index_dir)
    encoder = args.encoder or "minilm"
    config = SearchIndexConfig(encoder=None if encoder == "none" else encoder)
    fields = _weights(args.text_fields.replace(":", "=")) if args.text_fields else None
    index = build_catalogue_index(args.build, config, fields, args.id_field, args.list_sep, progress=True)
    index.save(index_dir)
    print(f"indexed {len(index)} documents into {index_dir}")
    return index


def filter_notes(index, flt) -> list[str]:  # noqa: ANN001 - a SearchIndex and a SearchFilter
    """What a filter names that no document has (an attribute, or a value, with the nearest ones), so that an
    empty answer says why rather than nothing."""
    attributes, alive = index.attributes, index.alive()
    notes = []
    for name, values in flt.equals.items():
        if name not in attributes.categorical_names:
            known = ", ".join(attributes.categorical_names) or "none"
            notes.append(f"no document has the attribute {name!r} to filter on (categorical attributes: {known})")
            continue
        counts = attributes.facets(alive, [name])[name]
        for value in values:
            if value in counts:
                continue
            same_case = [v for v in counts if v.lower() == value.lower()]
            near = same_case or difflib.get_close_matches(value, list(counts), n=3)
            shown = near or list(counts)[:10]
            lead = "did you mean" if near else "its values include"
            notes.append(f"no document has {name} {value!r}; {lead} {', '.join(map(repr, shown))}" + "?" * bool(near))
    for name in flt.ranges:
        if name not in attributes.numeric_names:
            known = ", ".join(attributes.numeric_names) or "none"
            notes.append(f"no document has the numeric attribute {name!r} (numeric attributes: {known})")
    return notes


def _reranking(args: argparse.Namespace, index) -> dict:  # noqa: ANN001 - a SearchIndex
    """The ``reranker`` / ``rerank`` search options for --reranker DIR."""
    from fathom.retrieval.rerank import CrossEncoder, CrossEncoderReranker, RerankConfig

    if not 0.0 <= args.rerank_mix <= 1.0:
        raise ValueError(f"--rerank-mix must be between 0 and 1, got {args.rerank_mix}")
    config = RerankConfig(depth=args.rerank_depth, fused_weight=args.rerank_mix)
    reranker = CrossEncoderReranker.for_index(CrossEncoder.load(args.reranker), index, config)
    return {"reranker": reranker, "rerank": args.rerank_depth}


def run(args: argparse.Namespace) -> int:
    from fathom.retrieval.filters import parse_filters
    from fathom.retrieval.personalise import check_weight
    from fathom.retrieval.run_catalogue import run_personaliser
    from fathom.runs import RunFolder

    index_dir, run_dir, query = _targets(args)
    if args.user is not None and run_dir is None:
        raise ValueError("--user needs a run folder whose model personalises: give --run DIR")
    run_folder = RunFolder(run_dir) if run_dir is not None else None
    weight = check_weight(args.personal_weight)
    index = _open(args, index_dir, run_folder)
    if args.build and not query:
        return 0
    if args.fusion:
        index.config = index.config.replace(hybrid={**index.config.hybrid.to_dict(), "fusion": args.fusion})
    flt = parse_filters(args.filter, args.range)
    notes = filter_notes(index, flt)
    options = dict(k=args.k, filter=flt, weights=_weights(args.weights),
                   facets=args.facets.split(",") if args.facets else None, understand=args.understand)
    if args.reranker:
        options |= _reranking(args, index)
    label = None
    if args.user is not None:
        label, personaliser = run_personaliser(run_folder, args.model)
        result = personaliser.search(index, query, args.user, weight, **options)
    else:
        result = index.search(query, **options)
    understood = result.understanding.understood if result.understanding else []
    if args.json:
        payload = {
            "query": result.understanding.text if result.understanding else query,
            "understood": [{**c.to_dict(), "description": c.describe()} for c in understood],
            "personalised": {"user": args.user, "model": label, "weight": weight} if label else None,
            "total": result.total,
            "corrections": result.corrected_words,
            "facets": result.facets,
            "hits": [{"id": h.doc_id, "scores": h.scores, "document": h.document} for h in result.hits],
            "notes": notes,
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if label:
        print(f"personalised for user {args.user} by {label} (weight {weight:g})")
    if understood:
        print("understood: " + "; ".join(result.understanding.describe()))
        print(f"searching for: {result.understanding.text!r}")
    if result.corrected_words:
        print("corrected: " + ", ".join(f"{a} -> {b}" for a, b in result.corrected_words.items()))
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
