"""Host manifests: where each browser looks, what they admit (only our extension), the id the
extension's key fixes, and the launcher a manifest names."""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from deskscribe.browser.bundle import chromium_extension_id, extension_dir
from deskscribe.browser.manifests import (
    FIREFOX_EXTENSION_ID,
    HOST_NAME,
    LAUNCHER_NAME,
    Browser,
    UserDirs,
    is_launcher,
    launcher_of,
    launcher_script,
    manifest,
    manifest_path,
    write_launcher,
    write_manifest,
)
from deskscribe.errors import UserError

DIRS = UserDirs(home=Path("/home/ann"), config_home=Path("/home/ann/.cfg"))
LAUNCHER = Path("/home/ann/.local/share/deskscribe/browser-host")


def chromium_id_of(key_b64: str) -> str:
    """What Chromium derives from a manifest key: SHA-256 of the DER key, 32 hex digits, 0-f -> a-p."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


@pytest.mark.parametrize(("browser", "where"), [
    (Browser.CHROMIUM, "/home/ann/.cfg/chromium/NativeMessagingHosts/org.deskscribe.host.json"),
    (Browser.CHROME, "/home/ann/.cfg/google-chrome/NativeMessagingHosts/org.deskscribe.host.json"),
    (Browser.FIREFOX, "/home/ann/.mozilla/native-messaging-hosts/org.deskscribe.host.json"),
])
def test_each_browser_looks_for_the_manifest_where_it_is_written(browser: Browser, where: str) -> None:
    assert manifest_path(browser, DIRS) == Path(where)


@pytest.mark.parametrize("browser", [Browser.CHROMIUM, Browser.CHROME])
def test_a_chromium_profile_reads_the_manifest_inside_its_user_data_dir(browser: Browser) -> None:
    profile = Path("/tmp/profile one")
    assert manifest_path(browser, DIRS, user_data_dir=profile) == \
        profile / "NativeMessagingHosts" / "org.deskscribe.host.json"


def test_firefox_has_no_user_data_dir_location() -> None:
    with pytest.raises(UserError, match="native-messaging-hosts"):
        manifest_path(Browser.FIREFOX, DIRS, user_data_dir=Path("/tmp/p"))


@pytest.mark.parametrize("browser", [Browser.CHROMIUM, Browser.CHROME])
def test_a_chromium_manifest_admits_only_our_extension_origin(browser: Browser) -> None:
    doc = manifest(browser, launcher=LAUNCHER, chromium_id="kpflahigpogfocfacjlndoaadafdihab")
    assert doc["name"] == HOST_NAME == "org.deskscribe.host"
    assert doc["type"] == "stdio"
    assert doc["path"] == str(LAUNCHER) and Path(doc["path"]).is_absolute()
    assert doc["allowed_origins"] == ["chrome-extension://kpflahigpogfocfacjlndoaadafdihab/"]
    assert "allowed_extensions" not in doc


def test_a_firefox_manifest_admits_only_our_extension_id() -> None:
    doc = manifest(Browser.FIREFOX, launcher=LAUNCHER, chromium_id="ignored")
    assert (doc["name"], doc["type"], doc["path"]) == (HOST_NAME, "stdio", str(LAUNCHER))
    assert doc["allowed_extensions"] == ["deskscribe@deskscribe.org"] == [FIREFOX_EXTENSION_ID]
    assert "allowed_origins" not in doc


def test_the_shipped_id_is_the_one_the_extension_key_gives() -> None:
    shipped = json.loads((extension_dir() / "manifest.json").read_text())
    assert chromium_extension_id() == chromium_id_of(shipped["key"]) == "kpflahigpogfocfacjlndoaadafdihab"
    assert shipped["browser_specific_settings"]["gecko"]["id"] == FIREFOX_EXTENSION_ID
    assert "nativeMessaging" in shipped["permissions"]


def test_the_protocol_document_names_the_same_id() -> None:
    shipped = json.loads((extension_dir() / "manifest.json").read_text())
    protocol = (extension_dir() / "PROTOCOL.md").read_text()
    assert f"chrome-extension://{chromium_id_of(shipped['key'])}/" in protocol


def _argv_of(script: str, tmp_path: Path, *browser_args: str) -> list[str]:
    """The command the launcher runs, by running it with a stand-in that prints its argv."""
    launcher = tmp_path / LAUNCHER_NAME
    write_launcher(launcher, script)
    out = subprocess.run(["/bin/sh", str(launcher), *browser_args], capture_output=True, text=True, check=True,
                         timeout=30)
    return out.stdout.split("\0")[:-1]


@pytest.fixture
def show_argv(tmp_path: Path) -> str:
    stand_in = tmp_path / "stand in python"
    stand_in.write_text("#!/bin/sh\nprintf '%s\\0' \"$0\" \"$@\"\n")
    stand_in.chmod(0o700)
    return str(stand_in)


def test_the_launcher_runs_the_host_with_the_chosen_data_dir(show_argv: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data $HOME 'quoted' ü"
    script = launcher_script(python=show_argv, data_dir=data_dir)
    argv = _argv_of(script, tmp_path, "chrome-extension://kpflahigpogfocfacjlndoaadafdihab/", "--parent-window=0")
    assert argv == [show_argv, "-m", "deskscribe", "browser", "host", "--data-dir", str(data_dir),
                    "chrome-extension://kpflahigpogfocfacjlndoaadafdihab/", "--parent-window=0"]


def test_without_a_chosen_data_dir_the_launcher_leaves_it_to_the_config(show_argv: str, tmp_path: Path) -> None:
    script = launcher_script(python=show_argv, data_dir=None)
    assert "--data-dir" not in script
    argv = _argv_of(script, tmp_path, "/m/org.deskscribe.host.json", "deskscribe@deskscribe.org")
    assert argv == [show_argv, "-m", "deskscribe", "browser", "host", "/m/org.deskscribe.host.json",
                    "deskscribe@deskscribe.org"]


def test_the_launchers_exec_line_is_shell_quoted() -> None:
    script = launcher_script(python="/opt/py thon/bin/python", data_dir=Path("/d/a b"))
    exec_line = script.splitlines()[-1]
    assert shlex.split(exec_line) == ["exec", "/opt/py thon/bin/python", "-m", "deskscribe", "browser", "host",
                                      "--data-dir", "/d/a b", "$@"]


def test_written_files_have_their_modes_and_are_recognised(tmp_path: Path) -> None:
    launcher = tmp_path / "data" / LAUNCHER_NAME
    write_launcher(launcher, launcher_script(python="/usr/bin/python3", data_dir=None))
    target = tmp_path / "cfg" / "chromium" / "NativeMessagingHosts" / "org.deskscribe.host.json"
    write_manifest(target, manifest(Browser.CHROMIUM, launcher=launcher, chromium_id="a" * 32))
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # browsers read it; it holds nothing secret
    assert launcher_of(target) == launcher
    assert is_launcher(launcher)
    assert sorted(p.name for p in target.parent.iterdir()) == ["org.deskscribe.host.json"]  # no temp left


def test_only_a_launcher_install_wrote_counts_as_one(tmp_path: Path) -> None:
    foreign = tmp_path / LAUNCHER_NAME
    foreign.write_text("#!/bin/sh\nexec something-else\n")
    ours_elsewhere = tmp_path / "other-name"
    ours_elsewhere.write_text(launcher_script(python="/usr/bin/python3", data_dir=None))
    assert not is_launcher(foreign)
    assert not is_launcher(ours_elsewhere)
    assert not is_launcher(tmp_path / "missing" / LAUNCHER_NAME)


@pytest.mark.parametrize("content", ["", "not json", "[1]", '{"path": 5}', '{"name": "x"}'])
def test_an_unreadable_manifest_names_no_launcher(tmp_path: Path, content: str) -> None:
    target = tmp_path / "org.deskscribe.host.json"
    target.write_text(content)
    assert launcher_of(target) is None
    assert launcher_of(tmp_path / "absent.json") is None
