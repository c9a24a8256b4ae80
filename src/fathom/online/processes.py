"""Which process holds a lease: an owner string that names this process, and a check whether the process an
owner string names is still running."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), "0" where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "0"
    return stat.rpartition(")")[2].split()[19]  # field 22, counted after the command name


def lease_owner(tag: str = "") -> str:
    """``host:pid:start[:tag]``: this process (its start time tells it from a later process given the same pid)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}" + (f":{tag}" if tag else "")


def owner_alive(owner: str) -> bool:
    """False when ``owner`` (from :func:`lease_owner`) names a process of this host that is no longer running;
    True for a running one, or one on another host (which cannot be checked from here)."""
    host, pid, start = (owner.split(":") + ["", "", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if Path("/proc").is_dir():
        return Path(f"/proc/{pid}").exists() and _process_start(int(pid)) == start
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
