"""Every test runs in a home of its own.

The CLI's defaults (data dir, config file, collector database and key) live under the home and
XDG directories, so a test that leaves out --data-dir, or a subprocess it starts, would write
into the real ~/.local/share/deskscribe. This is set at import, before any test module or
fixture runs, and through os.environ so that subprocesses inherit it. The keyring is the
failing backend, so no test reads or writes a real OS keyring (a test wanting one sets its own).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REAL_HOME = Path(os.environ.get("HOME") or Path.home())
# Where the CLI would write by default under the real home; no test may create or change these.
REAL_DESKSCRIBE_DIRS = tuple(Path(os.environ.get(var) or REAL_HOME / default) / "deskscribe" for var, default in (
    ("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
    ("XDG_STATE_HOME", ".local/state")))


def _snapshot(paths: tuple[Path, ...]) -> dict[str, tuple[int, int] | None]:
    """Each file under ``paths`` with its size and mtime; None for a path that does not exist."""
    seen: dict[str, tuple[int, int] | None] = {}
    for root in paths:
        if not root.exists():
            seen[str(root)] = None
            continue
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            seen[str(p)] = (st.st_size, st.st_mtime_ns)
    return seen


REAL_BEFORE = _snapshot(REAL_DESKSCRIBE_DIRS)
TEST_HOME = Path(tempfile.mkdtemp(prefix="deskscribe-test-home-"))
XDG = {
    "XDG_CONFIG_HOME": TEST_HOME / ".config",
    "XDG_DATA_HOME": TEST_HOME / ".local" / "share",
    "XDG_CACHE_HOME": TEST_HOME / ".cache",
    "XDG_STATE_HOME": TEST_HOME / ".local" / "state",
    "XDG_RUNTIME_DIR": TEST_HOME / "run",
}
for _path in XDG.values():
    _path.mkdir(parents=True, mode=0o700)
XDG["XDG_RUNTIME_DIR"].chmod(0o700)  # what the XDG spec demands of it, whatever the umask
os.environ["HOME"] = str(TEST_HOME)
os.environ.update({k: str(v) for k, v in XDG.items()})
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("DESKSCRIBE_CONFIG", None)


@dataclass(frozen=True)
class Homes:
    real: Path
    test: Path

    def real_untouched(self) -> bool:
        """True while nothing under the real home's deskscribe directories was created or changed."""
        return _snapshot(REAL_DESKSCRIBE_DIRS) == REAL_BEFORE


@pytest.fixture
def homes() -> Homes:
    """The real home (recorded before it was replaced) and the one tests run in."""
    return Homes(real=REAL_HOME, test=TEST_HOME)


def pytest_unconfigure() -> None:
    shutil.rmtree(TEST_HOME, ignore_errors=True)
