"""BEIR-format test collections: ``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv`` in one folder.

Graded judgements; 0 means judged not relevant, and unjudged documents count as not relevant.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Split = Literal["all", "train", "test"]


@dataclass
class BeirCollection:
    """A loaded collection. ``corpus`` rows keep every field of the JSON line (``_id``, ``title``, ``text``...)."""

    name: str
    corpus: list[dict]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    # an official training split (scifact's qrels_train.tsv + queries_all.jsonl), when the folder has one
    train_queries: dict[str, str] = field(default_factory=dict)
    train_qrels: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def doc_ids(self) -> list[str]:
        return [str(d["_id"]) for d in self.corpus]

    def judged_queries(self) -> dict[str, str]:
        """Queries with at least one relevant (grade > 0) document, in file order."""
        return {q: t for q, t in self.queries.items() if any(g > 0 for g in self.qrels.get(q, {}).values())}


def default_data_dir() -> Path | None:
    """``$FATHOM_SEARCH_DATA``, else ``../shared/data`` beside the repository (or the working folder); None if
    absent."""
    env = os.environ.get("FATHOM_SEARCH_DATA")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parents[3]
    candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


def read_jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id  corpus-id  score`` (tab-separated, header line) -> {qid: {doc_id: grade}}."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:2] != ["query-id", "corpus-id"]:
            raise ValueError(f"{path}: expected a 'query-id corpus-id score' header, got {header}")
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(float(parts[2]))
    return qrels


def load_beir(path: str | Path, qrels_name: str = "qrels.tsv", queries_name: str = "queries.jsonl") -> BeirCollection:
    """Load a BEIR folder (``path`` may also be a collection name under :func:`default_data_dir`)."""
    folder = Path(path)
    if not folder.is_dir():
        root = default_data_dir()
        if root is None or not (root / str(path)).is_dir():
            raise FileNotFoundError(f"no BEIR collection folder {path!s} (set FATHOM_SEARCH_DATA)")
        folder = root / str(path)
    corpus = list(read_jsonl(folder / "corpus.jsonl"))
    queries = {str(q["_id"]): str(q["text"]) for q in read_jsonl(folder / queries_name)}
    qrels = read_qrels(folder / qrels_name)
    coll = BeirCollection(name=folder.name, corpus=corpus, queries=queries, qrels=qrels)
    if (folder / "qrels_train.tsv").exists() and (folder / "queries_all.jsonl").exists():
        train_qrels = read_qrels(folder / "qrels_train.tsv")
        every = {str(q["_id"]): str(q["text"]) for q in read_jsonl(folder / "queries_all.jsonl")}
        coll.train_queries = {q: every[q] for q in train_qrels if q in every and q not in queries}
        coll.train_qrels = {q: train_qrels[q] for q in coll.train_queries}
    return coll


def doc_text(doc: dict) -> str:
    """Title and text of a corpus row joined by a space: the text dense encoders embed."""
    return f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()


def hash_split(query_id: str, test_share: float = 0.5, salt: str = "fathom-search") -> Literal["train", "test"]:
    """Deterministic split of a query id: the first 8 bytes of sha256(``salt`` + ":" + id) read as a big-endian
    integer, divided by 2**64, is below ``test_share`` -> "test", else "train". Stable across runs, machines
    and Python versions (no ``hash()`` randomisation)."""
    digest = hashlib.sha256(f"{salt}:{query_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test_share else "train"


def split_queries(queries: dict[str, str], split: Split, test_share: float = 0.5) -> dict[str, str]:
    """The queries of ``split`` under :func:`hash_split` (``all`` keeps every query)."""
    if split == "all":
        return dict(queries)
    return {q: t for q, t in queries.items() if hash_split(q, test_share) == split}


def subset_collection(coll: BeirCollection, n_docs: int) -> BeirCollection:
    """The first ``n_docs`` documents, with only the queries that have a relevant document among them and
    judgements restricted to them (a cheap stand-in for a collection too slow to embed whole)."""
    corpus = coll.corpus[:n_docs]
    ids = {str(d["_id"]) for d in corpus}
    qrels = {q: {d: g for d, g in rel.items() if d in ids} for q, rel in coll.qrels.items()}
    qrels = {q: rel for q, rel in qrels.items() if any(g > 0 for g in rel.values())}
    queries = {q: t for q, t in coll.queries.items() if q in qrels}
    return BeirCollection(f"{coll.name}[:{n_docs}]", corpus, queries, qrels)
