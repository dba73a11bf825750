"""Working directories of a build: named after the process that made them, so the next
collector to start on this machine deletes those a killed one left (encrypted session copies,
and the plaintext export staged in memory) without touching a live collector's."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_NAME = re.compile(r"^deskscribe-(?P<host>[A-Za-z0-9.-]*)-(?P<pid>\d+)-")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:64]


@contextmanager
def work_dir(base: Path | None) -> Iterator[Path]:
    """A directory of this process under ``base`` (the system's temporary directory if None)."""
    with tempfile.TemporaryDirectory(dir=base, prefix=f"deskscribe-{_host()}-{os.getpid()}-") as d:
        yield Path(d)


def staging_base() -> Path | None:
    """Memory (tmpfs) where there is one, so a plaintext export never reaches a disk."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(*bases: Path | None) -> int:
    """Delete work directories of dead processes of this machine; returns how many went."""
    gone, host = 0, _host()
    for base in bases:
        root = Path(tempfile.gettempdir()) if base is None else base
        for entry in root.glob("deskscribe-*") if root.is_dir() else ():
            m = _NAME.match(entry.name)
            if m and entry.is_dir() and m["host"] == host and not _alive(int(m["pid"])):
                shutil.rmtree(entry, ignore_errors=True)
                gone += 1
    return gone
