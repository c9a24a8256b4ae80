"""``fathom serve`` in a subprocess on a free loopback port, for tests that need a real HTTP server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    port: int
    output: str = ""  # the server's stdout and stderr, once stopped
    returncode: int | None = None


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=10) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


@contextmanager
def serve(folder: Path, *options: str, startup_s: float = 120, stop_s: float = 30) -> Iterator[Server]:
    """A running ``fathom serve --data-dir folder *options``, answering /health; stopped with SIGINT on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FATHOM_")}
    env["FATHOM_ASSISTANT_WARM_UP"] = "0"  # tests that chat wait for the assistant; the rest start faster
    proc = subprocess.Popen(
        [sys.executable, "-m", "fathom.cli.main", "serve", "--data-dir", str(folder), "--port", str(port),
         "--log-level", "warning", *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    server = Server(base=f"http://127.0.0.1:{port}", port=port)
    try:
        deadline = time.monotonic() + startup_s
        while not _healthy(server.base):
            assert proc.poll() is None, f"server exited early: {proc.stdout.read() if proc.stdout else ''}"
            assert time.monotonic() < deadline, f"server did not start within {startup_s:.0f} s"
            time.sleep(0.3)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            server.output, _ = proc.communicate(timeout=stop_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            server.output, _ = proc.communicate()
        server.returncode = proc.returncode
