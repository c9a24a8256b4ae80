"""Run a benchmark protocol and write its result table into benchmarks/results/.

    python benchmarks/run.py ml1m-general                     # every model of the protocol
    python benchmarks/run.py ml1m-general --only EASE ADMMSLIM  # some models (writes the same files)
"""

import argparse
from pathlib import Path

from fathom.benchmarks.protocols import protocol_names, run_protocol

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("protocol", choices=protocol_names())
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="run only these models (labels as in the table)")
    parser.add_argument("--no-spread", action="store_true", help="skip re-running cheap models on other splits")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="results folder")
    args = parser.parse_args()
    run_protocol(args.protocol, out_dir=Path(args.out), only=args.only, spread=not args.no_spread)
