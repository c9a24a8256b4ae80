"""Run code in a fresh process, fast: :func:`run_fresh` sends it to a fork server started once per test session.

The server is a separate interpreter that imported numpy, torch and fathom once (and computed nothing); each
request is executed in a child forked from it, so every piece of code starts from that clean state: it never
sees the test process's objects, nor what an earlier request loaded. It replaces ``subprocess.run([python, "-c",
code])`` where the point is "loads in a process that did not save it", at a fraction of the start-up cost.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import threading
from dataclasses import dataclass

SERVER = r"""
import json, os, sys, tempfile
import numpy, torch, fathom  # imported once; nothing computed, so forking is safe
from fathom import Recommender  # noqa: F401

requests, replies = sys.stdin, sys.stdout
for line in requests:
    request = json.loads(line)
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.argv = ["-c", *request["argv"]]
        code = 0
        try:
            exec(compile(request["code"], "<fresh>", "exec"), {"__name__": "__main__"})
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    texts = []
    for f in (out, err):
        f.seek(0)
        texts.append(f.read().decode(errors="replace"))
        f.close()
    replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status), "stdout": texts[0],
                              "stderr": texts[1]}) + "\n")
    replies.flush()
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class _ForkServer:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def run(self, code: str, argv: list[str]) -> Result:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, text=True)
                atexit.register(self.close)
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps({"code": code, "argv": argv}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the fork server ended without answering")
            return Result(**json.loads(line))

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(30)


_SERVER = _ForkServer()


def run_fresh(code: str, *argv: str, check: bool = True) -> Result:
    """Run ``code`` (as ``python -c code *argv`` would) in a freshly forked child of the fork server; with
    ``check``, a non-zero exit fails with the child's stderr."""
    result = _SERVER.run(code, list(argv))
    if check and result.returncode != 0:
        raise AssertionError(f"the fresh process exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return result
