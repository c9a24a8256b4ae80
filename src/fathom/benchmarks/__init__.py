"""Benchmark protocols, with the published figures they are compared with: RecBole's MovieLens-1M "general"
protocols (:mod:`~fathom.benchmarks.protocols`), its sequential (:mod:`~fathom.benchmarks.sequential`) and
context-aware (:mod:`~fathom.benchmarks.context`) protocols, and training speed at RecBole's own settings
(:mod:`~fathom.benchmarks.speed`). :data:`BENCHMARKS` is the one registry ``fathom benchmark`` runs from; the
scripts in the checkout's ``benchmarks/`` folder call the same code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def configs_dir() -> Path:
    """The folder of the tuned model configs the sequential and context protocols replay:
    ``$FATHOM_BENCHMARK_CONFIGS``, else ``benchmarks/configs`` of the checkout this package runs from, else of the
    working folder (the last even when missing: the protocol that needs it says so)."""
    env = os.environ.get("FATHOM_BENCHMARK_CONFIGS")
    candidates = [Path(env)] if env else []
    checkout = Path(__file__).resolve().parents[3]  # src/fathom/benchmarks -> the checkout, when it is one
    candidates += [checkout / "benchmarks" / "configs", Path.cwd() / "benchmarks" / "configs"]
    return next((c for c in candidates if c.is_dir()), candidates[-1])


@dataclass
class BenchmarkOptions:
    """What ``fathom benchmark`` passes on; each protocol reads the options it has."""

    only: list[str] | None = None
    quick: bool = False
    spread: bool = True
    timestamps: str = "float32"
    configs: Path = field(default_factory=configs_dir)


def _general(name: str) -> Callable[[Path, BenchmarkOptions], None]:
    def run(out: Path, o: BenchmarkOptions) -> None:
        from fathom.benchmarks.protocols import run_protocol

        run_protocol(name, out_dir=out, only=o.only, spread=o.spread)

    return run


def _seq(out: Path, o: BenchmarkOptions) -> None:
    from fathom.benchmarks.sequential import main

    if o.timestamps == "exact":
        out = out.with_name("ml1m-seq-exact-time")
    main(["--out", str(out), "--configs", str(o.configs), "--timestamps", o.timestamps,
          *(["--quick"] if o.quick else []), *(["--only", *o.only] if o.only else [])])


def _context(out: Path, o: BenchmarkOptions) -> None:
    from fathom.benchmarks.context import main

    only = [a for part in o.only or [] for a in ("--only", part)]
    main(["--out", str(out), "--configs", str(o.configs), *(["--quick"] if o.quick else []), *only])


def _speed(out: Path, o: BenchmarkOptions) -> None:
    from fathom.benchmarks.speed import main

    main(["--out", str(out), *(["--only", *o.only] if o.only else [])])


def _registry() -> dict[str, Callable[[Path, BenchmarkOptions], None]]:
    from fathom.benchmarks.protocols import protocol_names

    return {**{n: _general(n) for n in protocol_names()}, "ml1m-seq": _seq, "ml1m-context": _context,
            "ml1m-speed": _speed}


BENCHMARKS = _registry()
"""Benchmark name -> runner(out folder, options): the one registry."""


def run_benchmark(name: str, out_root: Path, options: BenchmarkOptions | None = None) -> None:
    """Run benchmark ``name``, writing its tables into ``out_root / name``."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    BENCHMARKS[name](Path(out_root) / name, options or BenchmarkOptions())
