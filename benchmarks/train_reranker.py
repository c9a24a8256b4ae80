"""Train a cross-encoder reranker on a BEIR collection's training queries from a JSON config.

    .venv/bin/python benchmarks/train_reranker.py benchmarks/configs/rerank_scifact.json --out runs/rerankers/scifact

The model (safetensors + JSON, no pickle) is what ``fathom search-eval --reranker DIR`` and
``benchmarks/search_beir.py`` load; the training config, log of losses and wall-clock time are kept in its
config.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).resolve().parent / "configs"
DEFAULT_OUT = ROOT / "runs" / "rerankers"


def train(config_path: str | Path, out: str | Path, threads: int | None = None) -> Path:
    from fathom.retrieval.rerank_beir import RerankBeirConfig, train_for_collection

    if threads:
        import torch

        torch.set_num_threads(threads)
    config = RerankBeirConfig.from_file(config_path)
    train_for_collection(config, out, progress=True, log=lambda m: print(m, file=sys.stderr, flush=True))
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a RerankBeirConfig JSON file, e.g. benchmarks/configs/rerank_scifact.json")
    parser.add_argument("--out", help="output folder (default runs/rerankers/<collection>)")
    parser.add_argument("--threads", type=int, help="torch threads")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from fathom.retrieval.rerank_beir import RerankBeirConfig

    out = args.out or DEFAULT_OUT / RerankBeirConfig.from_file(args.config).collection
    train(args.config, out, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
