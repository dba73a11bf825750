"""Installing the native messaging host: where each browser looks, what the manifest allows,
the launcher it runs, and what the host says with no recorder. The CLI runs as its own
process with HOME and XDG_CONFIG_HOME inside the test's directory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from deskscribe.browser.bundle import chromium_extension_id, extension_dir

ID = chromium_extension_id()


def cli(home: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run([sys.executable, "-m", "deskscribe", *args], input=stdin, capture_output=True,
                          env=env, timeout=60)


def test_the_fixed_id_is_the_one_the_manifest_key_gives() -> None:
    """Chromium derives an unpacked extension's id from its key: sha256, first 32 hex digits, a-p."""
    key = json.loads((extension_dir() / "manifest.json").read_text())["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == ID
    firefox = json.loads((extension_dir() / "manifest.json").read_text())["browser_specific_settings"]
    assert firefox["gecko"]["id"] == "deskscribe@deskscribe.org"


@pytest.mark.parametrize(("browser", "where"), [
    ("chromium", ".config/chromium/NativeMessagingHosts"),
    ("chrome", ".config/google-chrome/NativeMessagingHosts"),
    ("firefox", ".mozilla/native-messaging-hosts")])
def test_install_writes_the_manifest_where_the_browser_looks_naming_only_our_extension(
        tmp_path: Path, browser: str, where: str) -> None:
    out = cli(tmp_path, "browser", "install", "--browser", browser, "--data-dir", str(tmp_path / "data"))
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / where / "org.deskscribe.host.json").read_text())
    assert doc["name"] == "org.deskscribe.host" and doc["type"] == "stdio"
    if browser == "firefox":
        assert doc["allowed_extensions"] == ["deskscribe@deskscribe.org"] and "allowed_origins" not in doc
    else:
        assert doc["allowed_origins"] == [f"chrome-extension://{ID}/"] and "allowed_extensions" not in doc
    launcher = Path(doc["path"])
    assert launcher.is_absolute() and os.access(launcher, os.X_OK)
    assert f"--data-dir {tmp_path / 'data'}" in launcher.read_text()


def test_a_profile_directory_gets_its_own_manifest_and_firefox_refuses_one(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    assert cli(tmp_path, "browser", "install", "--user-data-dir", str(profile)).returncode == 0
    assert (profile / "NativeMessagingHosts" / "org.deskscribe.host.json").is_file()
    out = cli(tmp_path, "browser", "install", "--browser", "firefox", "--user-data-dir", str(profile))
    assert out.returncode != 0 and b"Traceback" not in out.stderr
    assert len(out.stderr.decode().strip().splitlines()) == 1, out.stderr


def test_uninstall_keeps_the_launcher_while_another_browser_uses_it(tmp_path: Path) -> None:
    for browser in ("chromium", "firefox"):
        assert cli(tmp_path, "browser", "install", "--browser", browser).returncode == 0
    chromium = tmp_path / ".config/chromium/NativeMessagingHosts/org.deskscribe.host.json"
    launcher = Path(json.loads(chromium.read_text())["path"])
    assert cli(tmp_path, "browser", "uninstall", "--browser", "chromium").returncode == 0
    assert not chromium.exists() and launcher.exists()
    assert cli(tmp_path, "browser", "uninstall", "--browser", "firefox").returncode == 0
    assert not launcher.exists()


def test_a_wrong_browser_is_a_usage_error_without_a_traceback(tmp_path: Path) -> None:
    out = cli(tmp_path, "browser", "install", "--browser", "netscape")
    assert out.returncode == 2 and b"Traceback" not in out.stderr and b"netscape" in out.stderr


def test_the_installed_launcher_without_a_recorder_says_so_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(tmp_path, "browser", "install", "--data-dir", str(data)).returncode == 0
    doc = json.loads((tmp_path / ".config/chromium/NativeMessagingHosts/org.deskscribe.host.json").read_text())
    before = sorted(p for p in tmp_path.rglob("*"))
    hello = json.dumps({"v": 1, "type": "hello"}).encode()
    out = subprocess.run([doc["path"], f"chrome-extension://{ID}/"], input=struct.pack("=I", len(hello)) + hello,
                         capture_output=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert out.returncode == 1
    (line,) = out.stderr.decode().strip().splitlines()
    assert "no recorder is running" in line and "deskscribe record" in line
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_extension_path_prints_the_unpacked_extension(tmp_path: Path) -> None:
    out = cli(tmp_path, "browser", "extension-path")
    assert out.returncode == 0
    assert (Path(out.stdout.decode().strip()) / "manifest.json").is_file()
