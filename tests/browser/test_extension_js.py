"""The extension's own suite (Node's test runner over jsdom, and `web-ext lint`), run as part
of the one test command so a JavaScript regression fails it like any other."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[2] / "extension-tests"


def npm(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: run ./dev setup (it installs Node.js and the extension's test tools)")
    if not (TESTS / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TESTS, check=True, capture_output=True)
    return subprocess.run(["npm", *args], cwd=TESTS, capture_output=True, text=True, timeout=300)


def test_the_extension_suite_passes() -> None:
    out = npm("test")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout and "# pass 0" not in out.stdout


def test_the_extension_passes_web_ext_lint() -> None:
    out = npm("run", "lint", "--", "--output", "json")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert '"errors":[]' in out.stdout.replace(" ", ""), out.stdout[-4000:]
