"""RecBole "ml-1m context" (FM, DeepFM: AUC and log loss), the MMoE multi-task comparison and the imbalance experiment.

    python benchmarks/context.py                  # all three, tables into benchmarks/results/ml1m-context/
    python benchmarks/context.py --only context   # one of context | multitask | imbalance
    python benchmarks/context.py --quick          # a 600-user sample, 3 epochs (a smoke run)

Settings come from benchmarks/configs/ml1m_context_<model>.json, chosen on validation AUC: by an Optuna search
(fathom tune deepfm --protocol ml1m-context --out benchmarks/configs/ml1m_context_deepfm.json; the trial log is
written beside it) or from the small grids with --tune.
"""

import sys
from pathlib import Path

from fathom.benchmarks.context import main

if __name__ == "__main__":
    here = Path(__file__).parent
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(here / "results" / ("ml1m-context-quick" if "--quick" in args else "ml1m-context"))]
    if "--configs" not in args:
        args += ["--configs", str(here / "configs")]
    main(args)
