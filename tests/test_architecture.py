"""The import graph points one way: each package imports only packages of lower layers (docs/architecture.md).
Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import fathom

ROOT = Path(fathom.__file__).parent

# package (or top-level module) -> layer; a package may import only packages of a lower layer
LAYERS = {
    "config": 0,
    "data": 1, "text": 1,
    "metrics": 2,
    "models": 3,
    "runs": 4,
    "retrieval": 5, "evaluate": 5,
    "online": 6, "quickstart": 6, "benchmarks": 6,
    "assistant": 7,
    "service": 8,
    "cli": 9,
}


def _package(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0].removesuffix(".py")


def imports() -> list[tuple[str, str, str]]:
    """(importing package, imported package, file) for every import of another Fathom package."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "__init__.py":
            continue
        source = _package(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "fathom" and len(parts) > 1 and parts[1] != source:
                    out.append((source, parts[1], str(path.relative_to(ROOT))))
    return out


def test_every_package_has_a_layer():
    packages = {_package(p) for p in ROOT.rglob("*.py") if p != ROOT / "__init__.py"}
    assert packages == set(LAYERS), "add the new package to LAYERS and docs/architecture.md"


def test_imports_point_one_way():
    found = imports()
    assert found, "the scan found no imports"
    back = [f"{f}: {s} (layer {LAYERS[s]}) imports {d} (layer {LAYERS[d]})" for s, d, f in found
            if LAYERS[d] >= LAYERS[s]]
    assert not back, "imports against the layers:\n" + "\n".join(back)


def test_the_check_sees_a_back_arrow(tmp_path, monkeypatch):
    """The scan itself: a models module that imports the service is reported."""
    fake = tmp_path / "fathom"
    (fake / "models").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "models" / "bad.py").write_text("def f():\n    from fathom.service.app import create_app\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    assert imports() == [("models", "service", "models/bad.py")]
