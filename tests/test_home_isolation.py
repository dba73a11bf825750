"""The test run never writes into the real home: tests/conftest.py gives it a home of its own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import Homes


def deskscribe(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as tests start it: a subprocess inheriting os.environ, with no --data-dir."""
    return subprocess.run([sys.executable, "-m", "deskscribe", *args], capture_output=True, text=True, timeout=60)


def test_home_and_xdg_dirs_point_into_the_test_home(homes: Homes) -> None:
    assert homes.test != homes.real and Path.home() == homes.test
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        assert Path(os.environ[var]).is_relative_to(homes.test), var
    assert stat.S_IMODE(Path(os.environ["XDG_RUNTIME_DIR"]).stat().st_mode) == 0o700
    assert "DESKSCRIBE_CONFIG" not in os.environ
    assert os.environ["PYTHON_KEYRING_BACKEND"] == "keyring.backends.fail.Keyring"  # no real keyring


def test_cli_defaults_write_under_the_test_home_only(homes: Homes, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["XTerm"]\n')
    accepted = deskscribe("consent", "accept", "--yes", "--policy", str(policy))
    assert accepted.returncode == 0, accepted.stderr
    code = deskscribe("admin", "enrol-code", "--db", f"sqlite:///{tmp_path / 'collector.db'}")
    assert code.returncode == 0, code.stderr

    data = homes.test / ".local" / "share" / "deskscribe"
    written = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
    assert "collector/collector.key" in written and any(not w.startswith("collector") for w in written), written
    assert homes.real_untouched(), "a test wrote under the real home's deskscribe directories"
