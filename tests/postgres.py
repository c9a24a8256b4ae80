"""A real PostgreSQL server for tests: ``FATHOM_TEST_POSTGRES`` (a URL) when set, else a throw-away cluster
started from the PostgreSQL binaries on this machine (Debian's ``postgresql`` package; as the ``postgres`` user
when the tests run as root) on a free loopback port, stopped at the end of the session.

Without a server the PostgreSQL tests are skipped with the reason; with ``FATHOM_REQUIRE_POSTGRES=1`` (CI) they
fail instead, so that CI never skips them."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server(durable: bool = False) -> Iterator[str | None]:
    """The URL of an empty-able PostgreSQL database (None when there is none). ``durable``: the server's default
    fsync on (for measurements); tests run it with fsync off."""
    if os.environ.get("FATHOM_TEST_POSTGRES"):
        yield os.environ["FATHOM_TEST_POSTGRES"]
        return
    bin_dir = _binaries()
    if bin_dir is None:
        yield None
        return
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="fathom-pg-"))
    data, port = root / "data", _free_port()
    if as_root:
        shutil.chown(root, "postgres")
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, env=env)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root}" + ("" if durable else " -c fsync=off")
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options,
                    "start"],
                   check=True, capture_output=True, env=env)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server, by URL."""
    import psycopg

    name = f"fathom_{uuid.uuid4().hex[:12]}"
    for _ in range(50):
        try:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            break
        except psycopg.OperationalError:
            time.sleep(0.2)
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"
