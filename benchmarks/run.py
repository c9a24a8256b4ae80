"""Run a benchmark protocol and write its result table into benchmarks/results/.

    python benchmarks/run.py ml1m-general
"""

import argparse
from pathlib import Path

from fathom.evaluate.protocols import protocol_names, run_protocol

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("protocol", choices=protocol_names())
    args = parser.parse_args()
    run_protocol(args.protocol, out_dir=Path(__file__).parent / "results")
