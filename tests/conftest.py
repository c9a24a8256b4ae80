"""Session fixtures shared by the test packages."""

from __future__ import annotations

import os

import pytest

from tests.postgres import fresh_database, postgres_server


@pytest.fixture(scope="session")
def postgres_server_url():
    """A real PostgreSQL server's URL (see :mod:`tests.postgres`); skips, or fails under
    ``FATHOM_REQUIRE_POSTGRES=1``, when none can be started."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        reason = "psycopg is not installed (pip install 'psycopg[binary]')"
        url = None
    else:
        reason = "no PostgreSQL server: set FATHOM_TEST_POSTGRES or install PostgreSQL (apt-get install postgresql)"
        url = "pending"
    if url is None:
        if os.environ.get("FATHOM_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with postgres_server() as url:
        if url is None:
            if os.environ.get("FATHOM_REQUIRE_POSTGRES") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        yield url


@pytest.fixture
def postgres_url(postgres_server_url) -> str:
    """A new empty PostgreSQL database for one test."""
    return fresh_database(postgres_server_url)
