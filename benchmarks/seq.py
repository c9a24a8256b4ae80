"""RecBole "ml-1m seq" (SASRec, GRU4Rec): chronological leave-one-out, full ranking, next-item NDCG@10.

    python benchmarks/seq.py                 # a row per ml1m_seq_*.json; tables in benchmarks/results/ml1m-seq/
    python benchmarks/seq.py --only SASRec   # re-run one model, keeping the other rows
    python benchmarks/seq.py --quick         # 1,000 users, 2 epochs (a smoke run)
    python benchmarks/seq.py --timestamps exact  # exact time: benchmarks/results/ml1m-seq-exact-time/
"""

import sys
from pathlib import Path

from fathom.benchmarks.sequential import main

if __name__ == "__main__":
    here = Path(__file__).parent
    args = sys.argv[1:]
    if "--out" not in args:
        exact = "--timestamps=exact" in args or (
            "--timestamps" in args and args[args.index("--timestamps") + 1:][:1] == ["exact"])
        folder = "ml1m-seq-exact-time" if exact else "ml1m-seq"
        args += ["--out", str(here / "results" / (f"{folder}-quick" if "--quick" in args else folder))]
    if "--configs" not in args:
        args += ["--configs", str(here / "configs")]
    main(args)
