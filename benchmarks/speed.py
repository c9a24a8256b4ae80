"""Speed against RecBole at its own training settings (same work per epoch), on the ml-1m general split.

    python benchmarks/speed.py               # table in benchmarks/results/ml1m-speed/
    python benchmarks/speed.py --only BPR    # one model
"""

import sys
from pathlib import Path

from fathom.benchmarks.speed import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(Path(__file__).parent / "results" / "ml1m-speed")]
    main(args)
