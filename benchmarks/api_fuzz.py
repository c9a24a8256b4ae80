"""API fuzz of the service against its own OpenAPI document: the long form of tests/service/test_fuzz.py.

schemathesis runs every phase (examples, coverage, fuzzing, stateful) and every check on an app serving the
synthetic store of tests/service/synthetic.py, once with no API key and once with one (given to schemathesis as
the ``APIKey`` security scheme), with more examples per operation than the test. The table counts, per run,
the operations tested, the requests tried, the server errors (5xx, or an exception out of the app) and the
failing requests of each check (a status, body, header or content type the document does not describe, valid
input refused, invalid input accepted, a request without the key let through ...); all should be 0.

    .venv/bin/python benchmarks/api_fuzz.py                  # 300 examples per operation (~2 min per run)
    .venv/bin/python benchmarks/api_fuzz.py --examples 50    # shorter

The table goes to benchmarks/results/hardening/api_fuzz.md (stdout too), with each failure's first request and
response below it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fuzz engine and the synthetic store live in the test suite

from schemathesis.checks import CHECKS  # noqa: E402
from tests.service.synthetic import prepare_folder  # noqa: E402
from tests.service.test_fuzz import KEY, KNOWN, SEED, FuzzReport, fuzz  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "hardening" / "api_fuzz.md"


def summary_rows(reports: dict[str, FuzzReport]) -> tuple[list[str], list[list[str]]]:
    """One row per figure, one column per run: operations, requests, server errors, each check's failing
    requests, the engine's own errors, seconds."""
    runs = list(reports.values())
    rows = [["operations tested", *(str(len(r.operations)) for r in runs)],
            ["requests tried", *(f"{r.requests:,}" for r in runs)],
            ["server errors (5xx or an exception)",
             *(str(sum(op.server_errors for op in r.operations.values())) for r in runs)]]
    failures = [r.failures() for r in runs]
    rows += [[f"check {name}: failing requests", *(str(f[name]) for f in failures)] for name in CHECKS.get_all_names()]
    rows += [["engine errors", *(str(len(r.errors)) for r in runs)],
             ["seconds", *(f"{r.seconds:.0f}" for r in runs)]]
    return ["", *reports], rows


def operation_rows(reports: dict[str, FuzzReport]) -> tuple[list[str], list[list[str]]]:
    header = ["operation", *(f"{name}: requests (2xx / 4xx)" for name in reports), "failing requests"]
    rows = []
    for label in next(iter(reports.values())).operations:
        cells, failing = [], 0
        for report in reports.values():
            op = report.operations[label]
            ok = sum(n for s, n in op.statuses.items() if 200 <= s < 300)
            refused = sum(n for s, n in op.statuses.items() if 400 <= s < 500)
            cells.append(f"{op.requests} ({ok} / {refused})")
            failing += op.server_errors + sum(op.failures.values())
        rows.append([label, *cells, str(failing)])
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def plain(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows])


def render(reports: dict[str, FuzzReport], command: str) -> str:
    first = next(iter(reports.values()))
    out = [
        "# API fuzz: the service against its OpenAPI document",
        "",
        f"`{command}` on {time.strftime('%Y-%m-%d %H:%M')}: schemathesis, every phase (examples, coverage, "
        f"fuzzing, stateful) and every check, {first.examples} examples per operation, seed {first.seed}, "
        "deterministic; the synthetic store of tests/service/synthetic.py (20 items, 20 users, EASE v1), "
        f"in-process ASGI. Runs: `open` (no API key) and `keyed` (an API key, given as the APIKey security "
        "scheme; requests without it must be refused). Expected answers by design are listed once in "
        "tests/service/test_fuzz.py (REFUSALS_BY_DESIGN, POSITIVE_EXPECTED, NEGATIVE_EXPECTED).",
        "",
        f"Machine: {os.cpu_count()} CPU cores, {platform.platform()}, Python {platform.python_version()}.",
        "",
        "Server errors, failing requests of each check and engine errors should all be 0.",
        "",
        markdown(*summary_rows(reports)),
        "",
        "## By operation",
        "",
        markdown(*operation_rows(reports)),
    ]
    failures = [(name, label, sample) for name, report in reports.items()
                for label, op in report.operations.items() for sample in op.samples.values()]
    errors = [(name, e) for name, report in reports.items() for e in report.errors]
    if failures or errors:
        out += ["", "## Failures (first request of each check and operation)", ""]
        for name, label, sample in failures:
            known = KNOWN.get(f"{name}-{label}")
            note = f" (a known finding, xfail in the test: {known[1]})" if known else ""
            out += [f"- {name}, {label}{note}:", "", "  ```", *(f"  {line}" for line in sample.splitlines()),
                    "  ```"]
        out += [f"- {name}, engine error: {e}" for name, e in errors]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300, help="examples per operation (default 300)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"generation seed (default {SEED})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"markdown table (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    reports = {}
    for name, api_key in (("open", None), ("keyed", KEY)):
        with tempfile.TemporaryDirectory(prefix="fathom-fuzz-") as tmp:
            print(f"fuzzing the {name} service ({args.examples} examples per operation)", flush=True)
            reports[name] = fuzz(prepare_folder(Path(tmp) / "data"), args.examples, args.seed, api_key)
    command = "python benchmarks/api_fuzz.py" + (f" --examples {args.examples}" if args.examples != 300 else "") \
        + (f" --seed {args.seed}" if args.seed != SEED else "")
    print()
    print(plain(*summary_rows(reports)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(reports, command))
    print(f"\nwrote {args.out}")
    failed = any(op.server_errors or op.failures for r in reports.values() for op in r.operations.values())
    return 1 if failed or any(r.errors for r in reports.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
