"""`deskscribe browser ...` as a contributor runs it, with a home of its own: install writes the
manifest where each browser looks and a launcher that really reaches the recorder, uninstall
removes only what nothing else uses."""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deskscribe.browser.manifests import LAUNCHER_NAME, is_launcher
from deskscribe.control import Channel, ControlServer, socket_path
from tests.support import cli, one_line_error

WAIT_S = 20.0
EXT_ID = "kpflahigpogfocfacjlndoaadafdihab"
MANIFEST = "org.deskscribe.host.json"


@dataclass(frozen=True)
class Home:
    root: Path
    env: dict[str, str]

    @property
    def config(self) -> Path:
        return self.root / ".config"

    @property
    def default_data(self) -> Path:
        return self.root / ".local" / "share" / "deskscribe"

    def where(self, browser: str) -> Path:
        return {"chromium": self.config / "chromium" / "NativeMessagingHosts" / MANIFEST,
                "chrome": self.config / "google-chrome" / "NativeMessagingHosts" / MANIFEST,
                "firefox": self.root / ".mozilla" / "native-messaging-hosts" / MANIFEST}[browser]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cli("browser", *args, env=self.env, check=check)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    root = tmp_path / "home"
    dirs = {"HOME": root, "XDG_CONFIG_HOME": root / ".config", "XDG_DATA_HOME": root / ".local" / "share"}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DESKSCRIBE_CONFIG"}
    return Home(root=root, env={**env, **{k: str(v) for k, v in dirs.items()}})


def read_manifest(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("browser", ["chromium", "chrome", "firefox"])
def test_install_writes_the_manifest_where_the_browser_looks_and_the_launcher(home: Home, browser: str) -> None:
    out = home.run("install", "--browser", browser)
    doc = read_manifest(home.where(browser))
    launcher = home.default_data / LAUNCHER_NAME
    assert doc["path"] == str(launcher) and doc["type"] == "stdio" and doc["name"] == "org.deskscribe.host"
    if browser == "firefox":
        assert doc["allowed_extensions"] == ["deskscribe@deskscribe.org"]
    else:
        assert doc["allowed_origins"] == [f"chrome-extension://{EXT_ID}/"]
    assert is_launcher(launcher) and os.access(launcher, os.X_OK)
    assert "--data-dir" not in launcher.read_text()  # the configured data directory, whatever it becomes
    assert str(home.where(browser)) in out.stdout and str(launcher) in out.stdout
    others = {"chromium", "chrome", "firefox"} - {browser}
    assert not any(home.where(b).exists() for b in others)


def test_install_into_a_chromium_profile(home: Home, tmp_path: Path) -> None:
    profile = tmp_path / "profile dir"
    home.run("install", "--browser", "chrome", "--user-data-dir", str(profile))
    doc = read_manifest(profile / "NativeMessagingHosts" / MANIFEST)
    assert doc["allowed_origins"] == [f"chrome-extension://{EXT_ID}/"]
    assert not home.where("chrome").exists()


def test_the_chosen_data_dir_is_recorded_in_the_launcher(home: Home, tmp_path: Path) -> None:
    data = tmp_path / "my data"
    home.run("install", "--browser", "chromium", "--data-dir", str(data))
    launcher = Path(read_manifest(home.where("chromium"))["path"])
    assert launcher == data / LAUNCHER_NAME
    assert f"--data-dir '{data}'" in launcher.read_text()


class Recorder:
    """A control server for one data directory with the "browser" stream a recorder offers."""

    def __init__(self, data_dir: Path) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server = ControlServer(path=socket_path(data_dir), handle=lambda req: {"ok": True},
                                    streams={"browser": self._attach})

    def _attach(self, channel: Channel) -> None:
        channel.send({"v": 1, "type": "config", "protocol": 1, "designated_sites": []})
        for message in channel.receive():
            self.received.put(message)
            channel.send({"v": 1, "type": "pong"})


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "my data")
    rec.server.start()
    try:
        yield rec
    finally:
        rec.server.stop()


def frame(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj).encode()
    return struct.pack("=I", len(body)) + body


def frames(data: bytes) -> list[dict[str, Any]]:
    found = []
    while data:
        (n,) = struct.unpack("=I", data[:4])
        found.append(json.loads(data[4:4 + n]))
        data = data[4 + n:]
    return found


def test_the_installed_launcher_reaches_the_recorder_for_its_data_dir(
        home: Home, recorder: Recorder, tmp_path: Path) -> None:
    home.run("install", "--browser", "chromium", "--data-dir", str(tmp_path / "my data"))
    launcher = read_manifest(home.where("chromium"))["path"]
    ping = {"v": 1, "type": "ping"}
    # what a browser does: run the manifest's path with the caller's origin, no shell, its own cwd
    out = subprocess.run([launcher, f"chrome-extension://{EXT_ID}/"], input=frame(ping), capture_output=True,
                         env=home.env, cwd=tmp_path, timeout=WAIT_S)
    assert recorder.received.get(timeout=WAIT_S) == ping
    assert out.returncode == 0, out.stderr
    assert frames(out.stdout)[0]["type"] == "config"


def test_uninstall_keeps_the_launcher_while_another_manifest_uses_it(home: Home, tmp_path: Path) -> None:
    data = tmp_path / "data"
    home.run("install", "--browser", "chromium", "--data-dir", str(data))
    home.run("install", "--browser", "firefox", "--data-dir", str(data))
    launcher = data / LAUNCHER_NAME
    out = home.run("uninstall", "--browser", "chromium")
    assert not home.where("chromium").exists()
    assert launcher.exists() and "removed launcher" not in out.stdout
    out = home.run("uninstall", "--browser", "firefox")
    assert not home.where("firefox").exists()
    assert not launcher.exists() and f"removed launcher {launcher}" in out.stdout
    assert data.exists()  # only the launcher goes, never the data directory


def test_uninstalling_a_profile_keeps_the_launcher_a_user_level_manifest_uses(home: Home, tmp_path: Path) -> None:
    data, profile = tmp_path / "data", tmp_path / "profile"
    home.run("install", "--browser", "chrome", "--data-dir", str(data))
    home.run("install", "--browser", "chromium", "--user-data-dir", str(profile), "--data-dir", str(data))
    home.run("uninstall", "--browser", "chromium", "--user-data-dir", str(profile))
    assert not (profile / "NativeMessagingHosts" / MANIFEST).exists()
    assert (data / LAUNCHER_NAME).exists() and home.where("chrome").exists()


def test_uninstalling_the_user_level_manifest_keeps_the_launcher_a_profile_uses(home: Home, tmp_path: Path) -> None:
    data, profile = tmp_path / "data", tmp_path / "profile"
    home.run("install", "--browser", "chromium", "--data-dir", str(data))
    home.run("install", "--browser", "chromium", "--user-data-dir", str(profile), "--data-dir", str(data))
    out = home.run("uninstall", "--browser", "chromium")
    assert not home.where("chromium").exists()
    assert (data / LAUNCHER_NAME).exists() and "kept launcher" in out.stdout  # the profile's host still runs
    out = home.run("uninstall", "--browser", "chromium", "--user-data-dir", str(profile))
    assert not (data / LAUNCHER_NAME).exists() and "removed launcher" in out.stdout


def test_uninstall_never_removes_a_file_it_did_not_write(home: Home, tmp_path: Path) -> None:
    foreign = tmp_path / "elsewhere" / LAUNCHER_NAME
    foreign.parent.mkdir()
    foreign.write_text("#!/bin/sh\nexec /usr/bin/true\n")
    target = home.where("chromium")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"name": "org.deskscribe.host", "path": str(foreign), "type": "stdio"}))
    home.run("uninstall", "--browser", "chromium")
    assert not target.exists() and foreign.exists()


def test_uninstall_with_nothing_installed_says_so(home: Home) -> None:
    out = home.run("uninstall", "--browser", "firefox")
    assert "nothing to remove" in out.stdout


def test_extension_path_prints_the_unpacked_extension(home: Home) -> None:
    where = Path(home.run("extension-path").stdout.strip())
    assert where.is_absolute()
    manifest = read_manifest(where / "manifest.json")
    assert manifest["manifest_version"] == 3 and "key" in manifest


def test_a_wrong_browser_is_refused_without_a_traceback(home: Home) -> None:
    out = home.run("install", "--browser", "safari", check=False)
    one_line_error(out, "safari")
    assert "chromium" in out.stderr
    assert not (home.root / ".mozilla").exists() and not home.config.joinpath("chromium").exists()
    assert not home.default_data.exists()


def test_firefox_with_a_profile_dir_is_one_line(home: Home, tmp_path: Path) -> None:
    out = home.run("install", "--browser", "firefox", "--user-data-dir", str(tmp_path / "p"), check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "native-messaging-hosts" in lines[0], out.stderr
    assert not home.default_data.exists()
